package postback

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Outcome is what became of a postback; its value is the Events Log status
// the conversion is stored with.
type Outcome string

const (
	// OutcomeReceived is a usable postback: stored as RECEIVED, then
	// matched.
	OutcomeReceived Outcome = "RECEIVED"
	// OutcomeMissingClickID is a postback without a usable click id: it can
	// never be matched. The HTTP layer answers 400.
	OutcomeMissingClickID Outcome = "MISSING_CLICK_ID"
	// OutcomeInvalid is a postback with a value that cannot be used (an
	// amount that is not a number, an unknown currency, …). The HTTP layer
	// answers 400.
	OutcomeInvalid Outcome = "INVALID"
)

// Kind is a conversion's kind, decided by its amount alone.
type Kind string

const (
	// KindLead is a conversion whose amount is missing or zero.
	KindLead Kind = "LEAD"
	// KindPurchase is a conversion with a positive amount.
	KindPurchase Kind = "PURCHASE"
)

// The event names of conversions that do not name their event.
const (
	EventLead     = "Lead"
	EventPurchase = "Purchase"
)

// Limits on the parsed fields; longer values make a postback INVALID.
const (
	// MaxClickIDLen is the longest click id, in bytes. The tag's Click IDs
	// are far shorter; the room is for networks that pass them through
	// their own encodings.
	MaxClickIDLen = 256
	// MaxTransactionIDLen is the longest transaction id, in bytes.
	MaxTransactionIDLen = 256
	// MaxEventNameLen is the longest event name, in bytes.
	MaxEventNameLen = 100
	// MaxExtra is the most extra parameters a Postback keeps; the rest are
	// in the raw request only.
	MaxExtra = 50
	// MaxMappings is the most entries Config.Validate accepts in each of
	// Config.Mappings and Config.StatusWords: Parse compares every
	// parameter with every mapping, so the work must stay bounded.
	MaxMappings = 100
)

// maxProblems bounds the problems a Reason lists.
const maxProblems = 6

// Config is what Parse needs to know of the integration and its account.
// The zero Config is valid: built-in names and words, no default currency.
type Config struct {
	// Network is the integration's preset ID (LookupPreset); its
	// StatusWords apply (Affise's numeric codes). "" or PresetCustom for
	// none.
	Network string
	// DefaultCurrency is the account's currency, used when the postback
	// names none (ISO 4217, any case).
	DefaultCurrency string
	// Mappings map the network's parameter names to canonical field names:
	// {"sub1": "click_id", "payout": "amount"}. Both sides are matched
	// loosely. A mapped name wins over the canonical name and the built-in
	// aliases, and is used only for its target field.
	Mappings map[string]string
	// StatusWords map the network's status words to statuses or to
	// built-in status words: {"ok": "approved", "9": "REVERSED"}. They win
	// over the preset's words and the built-in ones. Matched as
	// ParseStatus matches.
	StatusWords map[string]string
}

// Validate checks a Config where it is written (creating or updating an
// integration), so that a mistake shows there and not in every postback.
// Parse tolerates an invalid Config but makes each postback it affects
// INVALID, with the reason.
func (c Config) Validate() error {
	var errs []error
	if c.Network != "" {
		if _, ok := LookupPreset(c.Network); !ok {
			errs = append(errs, fmt.Errorf("network %s is not a catalog preset", quoteShort(c.Network)))
		}
	}
	if c.DefaultCurrency != "" {
		if _, ok := NormalizeCurrency(c.DefaultCurrency); !ok {
			errs = append(errs, fmt.Errorf("currency %s is not an ISO 4217 code", quoteShort(c.DefaultCurrency)))
		}
	}
	if len(c.Mappings) > MaxMappings {
		errs = append(errs, fmt.Errorf("%d mappings, the limit is %d", len(c.Mappings), MaxMappings))
	}
	if len(c.StatusWords) > MaxMappings {
		errs = append(errs, fmt.Errorf("%d status words, the limit is %d", len(c.StatusWords), MaxMappings))
	}
	seen := make(map[string]string)
	for _, name := range slices.Sorted(maps.Keys(c.Mappings)) {
		target := c.Mappings[name]
		loose := string(appendLoose(nil, name))
		switch {
		case loose == "" || len(name) > MaxNameLen || strings.TrimSpace(name) != name || checkText(name, false) != nil:
			errs = append(errs, fmt.Errorf("mapping %s: not a parameter name", quoteShort(name)))
		case looseEqual(name, SecretParam):
			errs = append(errs, fmt.Errorf("mapping %s: the secret cannot be mapped", quoteShort(name)))
		case seen[loose] != "":
			errs = append(errs, fmt.Errorf("mappings %s and %s are the same name", quoteShort(seen[loose]), quoteShort(name)))
		default:
			seen[loose] = name
			if _, ok := ParseField(target); !ok {
				errs = append(errs, fmt.Errorf("mapping %s: %s is not a field", quoteShort(name), quoteShort(target)))
			}
		}
	}
	clear(seen)
	for _, word := range slices.Sorted(maps.Keys(c.StatusWords)) {
		loose := string(appendLooseWord(nil, strings.TrimSpace(word)))
		switch {
		case loose == "" || len(strings.TrimSpace(word)) > maxStatusWord:
			errs = append(errs, fmt.Errorf("status word %s: not a word of 1 to %d characters", quoteShort(word), maxStatusWord))
		case seen[loose] != "":
			errs = append(errs, fmt.Errorf("status words %s and %s are the same word", quoteShort(seen[loose]), quoteShort(word)))
		default:
			seen[loose] = word
			if _, ok := ParseStatus(c.StatusWords[word]); !ok {
				errs = append(errs, fmt.Errorf("status word %s: %s is not a status", quoteShort(word), quoteShort(c.StatusWords[word])))
			}
		}
	}
	return errors.Join(errs...)
}

// Attributes are the event attributes of a postback: kept trimmed but
// otherwise as sent, for matching (ExternalID, then Email) and for the ad
// platforms, whose clients normalise and hash them their own way. "" is
// absent.
type Attributes struct {
	Country     string
	State       string
	City        string
	Zipcode     string
	Email       string
	Phone       string
	FirstName   string
	LastName    string
	ExternalID  string
	IP          string
	UserAgent   string
	DateOfBirth string
	Gender      string
}

// Postback is a canonical postback: what Parse read from a network's
// request. Whatever the Outcome, every field that could be read is filled,
// so that the Events Log shows as much as there is.
type Postback struct {
	// Outcome is the Events Log status to store the conversion with.
	Outcome Outcome
	// Reason says, for MISSING_CLICK_ID and INVALID, what is wrong and
	// where, in sentences a tenant can act on, separated by "; " (at most
	// six, the click id's first). Empty when the Outcome is RECEIVED.
	Reason string

	// ClickID is the click id, trimmed; "" when missing or unusable.
	ClickID string
	// TransactionID is the network's id for the conversion, trimmed. ""
	// means none: such a conversion is never a duplicate of another.
	TransactionID string
	// Kind is LEAD or PURCHASE, from AmountMicros.
	Kind Kind
	// EventName is the event parameter, trimmed, or "Lead" or "Purchase"
	// by Kind when the postback names no event.
	EventName string
	// AmountMicros is the amount in micro-units; 0 when missing. Never
	// negative: a negative amount is accepted only on a REVERSED or
	// REJECTED postback, as its absolute value (the status already says
	// it is taken back).
	AmountMicros int64
	// Currency is the ISO 4217 code of the amount: the currency parameter,
	// else the currency the amount names ("€12"), else the Config's
	// DefaultCurrency; "" if none of them gives one.
	Currency string
	// Status is the normalised network status; "" when the postback has
	// none or the word is unknown (then RawStatus has it). An unknown word
	// does not make a postback INVALID: new words appear, and a
	// conversion must not be lost to one.
	Status Status
	// RawStatus is the status word as sent, trimmed; "" when absent.
	RawStatus string
	// Attributes are the event attributes.
	Attributes Attributes
	// Extra holds the parameters that are neither a field nor the secret,
	// by their original name (first occurrence, value trimmed; blank
	// values and unsubstituted macros left out), at most MaxExtra of them.
	// nil when there are none.
	Extra map[string]string
}

// slot collects the candidates for one field while Parse reads the params.
type slot struct {
	value     string // the winning value, trimmed
	rank      uint8  // its name's rank (nameRef)
	set       bool
	blankName string // a parameter of this field that was empty
	macro     string // an unsubstituted macro seen for this field
	macroName string // the parameter that held it
}

type mapping struct {
	name  string
	field field
}

// problems collects the reasons a postback is unusable.
type problems struct {
	list [maxProblems]string
	n    int
}

func (p *problems) add(s string) {
	if p.n < len(p.list) {
		p.list[p.n] = s
		p.n++
	}
}

func (p *problems) String() string { return strings.Join(p.list[:p.n], "; ") }

// Parse reads a canonical postback from a request's params, with the
// integration's Config. It never fails: an unusable postback comes back
// with Outcome MISSING_CLICK_ID or INVALID and a Reason, since it is
// stored all the same.
//
// A parameter counts for a field when its name, matched loosely (case,
// '_' and '-' ignored), is one of the Config's Mappings, else the field's
// canonical name, else one of its built-in aliases (payout, revenue,
// commission, sum and value for amount; txid, transid and orderid for
// transaction_id; refid for external_id; …). When several parameters carry
// one field, a mapping wins over the canonical name, which wins over the
// aliases in their listed order; among equals, the first one sent wins. A
// parameter whose value is blank or an unsubstituted macro (IsMacro) is
// missing, so another can still provide the field. The secret parameter is
// never data.
//
// Then, by the rules of PRODUCT.md:
//   - a missing click id is MISSING_CLICK_ID; a click id longer than
//     MaxClickIDLen or with a control character is INVALID;
//   - the amount is parsed by ParseAmount; one that is not a number, or is
//     negative outside a reversal, is INVALID; missing or 0 is a LEAD,
//     more a PURCHASE;
//   - the currency must be an ISO 4217 code, and agree with a currency the
//     amount names; it defaults to Config.DefaultCurrency;
//   - the status is read with Config.StatusWords, then the preset's words,
//     then ParseStatus; an unknown word is kept in RawStatus only;
//   - the event names the event, else it is Lead or Purchase.
func Parse(p Params, cfg Config) Postback {
	var (
		pb    Postback
		probs problems
		slots [numFields]slot
	)

	var mbuf [16]mapping
	mapped := mbuf[:0]
	badMapping := false
	for name, target := range cfg.Mappings {
		if f, ok := lookupField(target); ok {
			mapped = append(mapped, mapping{name, f})
		} else {
			badMapping = true
		}
	}
	// Sorted, so that two mappings of one loose name resolve the same way
	// in every postback.
	slices.SortFunc(mapped, func(a, b mapping) int { return cmp.Compare(a.name, b.name) })

	for _, prm := range p {
		f, rank, ok := resolveName(prm.Name, mapped)
		v := strings.TrimSpace(prm.Value)
		if !ok {
			if !looseEqual(prm.Name, SecretParam) {
				pb.addExtra(prm.Name, v)
			}
			continue
		}
		s := &slots[f]
		switch {
		case v == "":
			if s.blankName == "" {
				s.blankName = prm.Name
			}
		case IsMacro(v):
			if s.macro == "" {
				s.macro, s.macroName = v, prm.Name
			}
		case !s.set || rank < s.rank:
			s.value, s.rank, s.set = v, rank, true
		}
	}

	pb.ClickID = parseClickID(&pb, &probs, &slots[fClickID])

	if s := slots[fStatus]; s.set {
		pb.RawStatus = s.value
		pb.Status = resolveStatus(s.value, cfg, &probs)
	}

	var amountCurrency string
	if s := slots[fAmount]; s.set {
		micros, cur, err := ParseAmount(s.value)
		switch {
		case err != nil:
			probs.add(err.Error())
		case micros < 0 && (pb.Status == StatusReversed || pb.Status == StatusRejected):
			pb.AmountMicros, amountCurrency = -micros, cur
		case micros < 0:
			probs.add("amount " + quoteShort(s.value) + " is negative, which only a reversed or rejected status allows")
		default:
			pb.AmountMicros, amountCurrency = micros, cur
		}
	}

	switch s := slots[fCurrency]; {
	case s.set:
		code, ok := NormalizeCurrency(s.value)
		switch {
		case !ok:
			probs.add("currency " + quoteShort(s.value) + " is not an ISO 4217 code")
		case amountCurrency != "" && amountCurrency != code:
			probs.add("amount " + quoteShort(slots[fAmount].value) + " is in " + amountCurrency + " but currency is " + code)
		default:
			pb.Currency = code
		}
	case amountCurrency != "":
		pb.Currency = amountCurrency
	case cfg.DefaultCurrency != "":
		if code, ok := NormalizeCurrency(cfg.DefaultCurrency); ok {
			pb.Currency = code
		} else {
			probs.add("the account currency " + quoteShort(cfg.DefaultCurrency) + " is not an ISO 4217 code")
		}
	}

	if s := slots[fTransactionID]; s.set {
		if problem := checkID(string(FieldTransactionID), s.value, MaxTransactionIDLen); problem != "" {
			probs.add(problem)
		} else {
			pb.TransactionID = s.value
		}
	}

	pb.Kind = KindLead
	if pb.AmountMicros > 0 {
		pb.Kind = KindPurchase
	}
	if s := slots[fEvent]; s.set {
		if problem := checkID("event", s.value, MaxEventNameLen); problem != "" {
			probs.add(problem)
		} else {
			pb.EventName = s.value
		}
	}
	if pb.EventName == "" {
		pb.EventName = EventLead
		if pb.Kind == KindPurchase {
			pb.EventName = EventPurchase
		}
	}

	pb.Attributes = Attributes{
		Country:     slots[fCountry].value,
		State:       slots[fState].value,
		City:        slots[fCity].value,
		Zipcode:     slots[fZipcode].value,
		Email:       slots[fEmail].value,
		Phone:       slots[fPhone].value,
		FirstName:   slots[fFirstName].value,
		LastName:    slots[fLastName].value,
		ExternalID:  slots[fExternalID].value,
		IP:          slots[fIP].value,
		UserAgent:   slots[fUserAgent].value,
		DateOfBirth: slots[fDateOfBirth].value,
		Gender:      slots[fGender].value,
	}

	if badMapping {
		for _, name := range slices.Sorted(maps.Keys(cfg.Mappings)) {
			if _, ok := lookupField(cfg.Mappings[name]); !ok {
				probs.add("the integration maps " + quoteShort(name) + " to " + quoteShort(cfg.Mappings[name]) + ", which is not a field")
			}
		}
	}

	switch {
	case pb.Outcome == OutcomeMissingClickID:
	case probs.n > 0:
		pb.Outcome = OutcomeInvalid
	default:
		pb.Outcome = OutcomeReceived
	}
	pb.Reason = probs.String()
	return pb
}

// resolveName finds the field a parameter name carries: through the
// mappings first (rank 0), then the built-in names. The secret is no field.
func resolveName(name string, mapped []mapping) (field, uint8, bool) {
	if looseEqual(name, SecretParam) {
		return 0, 0, false
	}
	for _, m := range mapped {
		if looseEqual(m.name, name) {
			return m.field, 0, true
		}
	}
	ref, ok := lookupName(name)
	return ref.field, ref.rank, ok
}

// parseClickID checks the click id slot, setting the Outcome and the first
// problem when it is missing.
func parseClickID(pb *Postback, probs *problems, s *slot) string {
	if !s.set {
		pb.Outcome = OutcomeMissingClickID
		switch {
		case s.macro != "":
			probs.add("missing click_id: parameter " + quoteShort(s.macroName) + " holds the macro " + quoteShort(s.macro) +
				", which the network did not fill in; check the network's click id macro and that its offer link carries the Click ID")
		case s.blankName != "":
			probs.add("missing click_id: parameter " + quoteShort(s.blankName) + " is empty; check that the network's offer link carries the Click ID")
		default:
			probs.add("missing click_id: no parameter carries a click id; add click_id to the postback URL or map the network's parameter to click_id")
		}
		return ""
	}
	if problem := checkID(string(FieldClickID), s.value, MaxClickIDLen); problem != "" {
		probs.add(problem)
		return ""
	}
	return s.value
}

// checkID returns the problem with an identifier value, or "".
func checkID(field, v string, limit int) string {
	if len(v) > limit {
		return fmt.Sprintf("%s is %d bytes long, the limit is %d", field, len(v), limit)
	}
	if err := checkText(v, false); err != nil {
		if errors.Is(err, ErrInvalidUTF8) {
			return field + " is not valid UTF-8"
		}
		return field + " contains a " + err.Error()
	}
	return ""
}

// resolveStatus normalises a status word: the integration's words, the
// preset's, then the built-in ones.
func resolveStatus(word string, cfg Config, probs *problems) Status {
	if word := strings.TrimSpace(word); len(cfg.StatusWords) > 0 && len(word) <= maxStatusWord {
		var buf [maxStatusWord]byte
		loose := appendLooseWord(buf[:0], word)
		for w, target := range cfg.StatusWords {
			var wbuf [maxStatusWord]byte
			w := strings.TrimSpace(w)
			if len(w) > maxStatusWord || !bytes.Equal(appendLooseWord(wbuf[:0], w), loose) {
				continue
			}
			st, ok := ParseStatus(target)
			if !ok {
				probs.add("the integration maps status " + quoteShort(w) + " to " + quoteShort(target) + ", which is not a status")
			}
			return st
		}
	}
	if cfg.Network != "" {
		words, ok := presetStatusWords[cfg.Network]
		if !ok {
			probs.add("the integration's network " + quoteShort(cfg.Network) + " is not a catalog preset")
		} else if st, ok := lookupStatus(words, word); ok {
			return st
		}
	}
	st, _ := ParseStatus(word)
	return st
}

// addExtra keeps an unmapped parameter, within MaxExtra.
func (pb *Postback) addExtra(name, v string) {
	if v == "" || len(pb.Extra) >= MaxExtra || IsMacro(v) {
		return
	}
	if _, dup := pb.Extra[name]; dup {
		return
	}
	if pb.Extra == nil {
		pb.Extra = make(map[string]string)
	}
	pb.Extra[name] = v
}
