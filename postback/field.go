package postback

import "fmt"

// Field is a canonical postback field: the name clickback gives a value
// whatever the network called it. The string is the parameter name
// [BuildURL] writes into postback URLs and the name integrations map their
// network's parameters onto.
type Field string

// The canonical fields of a conversion, in the order [Fields] lists them
// and [BuildURL] writes them. FieldClickID is the only required one.
const (
	// FieldClickID is the Click ID the tracking tag gave the visit; without
	// it a conversion cannot be matched (MISSING_CLICK_ID).
	FieldClickID Field = "click_id"
	// FieldAmount is the conversion's value (usually the affiliate payout);
	// missing or zero makes the conversion a LEAD, positive a PURCHASE.
	FieldAmount Field = "amount"
	// FieldTransactionID is the network's id for the conversion; a repeat
	// within an integration is a DUPLICATE. Blank means "none".
	FieldTransactionID Field = "transaction_id"
	// FieldCurrency is the ISO 4217 code of the amount.
	FieldCurrency Field = "currency"
	// FieldEvent names the event (Sale, Trial, Signup) instead of the
	// default Lead or Purchase.
	FieldEvent Field = "event"
	// FieldStatus is the network's status for the conversion, normalised
	// to a [Status].
	FieldStatus Field = "status"
)

// The event attributes: kept as sent (trimmed) in [Attributes], for
// matching (external id, then email) and for the ad platforms, whose
// clients normalise and hash them in their own way. They follow the fields
// above in the canonical order.
const (
	FieldCountry     Field = "country"
	FieldState       Field = "state"
	FieldCity        Field = "city"
	FieldZipcode     Field = "zipcode"
	FieldEmail       Field = "email"
	FieldPhone       Field = "phone"
	FieldFirstName   Field = "first_name"
	FieldLastName    Field = "last_name"
	FieldExternalID  Field = "external_id"
	FieldIP          Field = "ip"
	FieldUserAgent   Field = "user_agent"
	FieldDateOfBirth Field = "date_of_birth"
	FieldGender      Field = "gender"
)

// field indexes fieldSpecs; Parse keeps one slot per field in an array.
type field uint8

const (
	fClickID field = iota
	fAmount
	fTransactionID
	fCurrency
	fEvent
	fStatus
	fCountry
	fState
	fCity
	fZipcode
	fEmail
	fPhone
	fFirstName
	fLastName
	fExternalID
	fIP
	fUserAgent
	fDateOfBirth
	fGender
	numFields
)

// fieldSpecs lists every field with its built-in aliases, in loose form
// (lower case, no '_' or '-'), most preferred first. An alias is here only
// if no network uses the name for something else: "cid", "subid", "sub1",
// "tid" and "s2" are click ids on some networks and campaign, sub-affiliate
// or transaction ids on others, so they are left to integration mappings.
var fieldSpecs = [numFields]struct {
	name    Field
	aliases []string
}{
	fClickID:       {FieldClickID, []string{"clkid", "clickref"}},
	fAmount:        {FieldAmount, []string{"payout", "payoutamount", "revenue", "commission", "sum", "value", "amt"}},
	fTransactionID: {FieldTransactionID, []string{"txid", "txnid", "transid", "orderid", "conversionid"}},
	fCurrency:      {FieldCurrency, []string{"currencycode", "cur", "ccy"}},
	fEvent:         {FieldEvent, []string{"eventname"}},
	fStatus:        {FieldStatus, []string{"conversionstatus", "transactionstatus"}},
	fCountry:       {FieldCountry, []string{"countrycode"}},
	fState:         {FieldState, []string{"region", "province", "statecode"}},
	fCity:          {FieldCity, []string{"town"}},
	fZipcode:       {FieldZipcode, []string{"zip", "postalcode", "postcode"}},
	fEmail:         {FieldEmail, []string{"emailaddress", "mail"}},
	fPhone:         {FieldPhone, []string{"phonenumber", "telephone", "tel", "mobile"}},
	fFirstName:     {FieldFirstName, []string{"fname", "givenname"}},
	fLastName:      {FieldLastName, []string{"lname", "surname", "familyname"}},
	fExternalID:    {FieldExternalID, []string{"refid", "referenceid"}},
	fIP:            {FieldIP, []string{"ipaddress", "clientip", "userip"}},
	fUserAgent:     {FieldUserAgent, []string{"ua"}},
	fDateOfBirth:   {FieldDateOfBirth, []string{"dob", "birthdate", "birthday"}},
	fGender:        {FieldGender, []string{"sex"}},
}

// nameRef is what a loose parameter name resolves to: a field and the
// name's rank. Lower ranks win when several parameters carry one field:
// 0 is an integration mapping, 1 the canonical name, 2… the aliases in
// fieldSpecs order.
type nameRef struct {
	field field
	rank  uint8
}

// names maps every loose canonical name and alias to its field.
var names = buildNames()

func buildNames() map[string]nameRef {
	m := make(map[string]nameRef)
	add := func(name string, ref nameRef) {
		if prev, dup := m[name]; dup {
			panic(fmt.Sprintf("postback: alias %q of %s is also a name of %s", name, fieldSpecs[ref.field].name, fieldSpecs[prev.field].name))
		}
		m[name] = ref
	}
	for i, spec := range fieldSpecs {
		add(string(appendLoose(nil, string(spec.name))), nameRef{field(i), 1})
		for j, alias := range spec.aliases {
			add(alias, nameRef{field(i), uint8(2 + j)})
		}
	}
	return m
}

// Fields returns the canonical fields in their canonical order, for
// integration forms and validation. The slice is the caller's to modify.
func Fields() []Field {
	out := make([]Field, numFields)
	for i, spec := range fieldSpecs {
		out[i] = spec.name
	}
	return out
}

// ParseField resolves a canonical field name loosely ("Click-ID",
// "clickid" and "click_id" are FieldClickID). Aliases ("payout") are not
// field names and give false: a mapping's target must say which field it
// means.
func ParseField(name string) (Field, bool) {
	i, ok := lookupField(name)
	if !ok {
		return "", false
	}
	return fieldSpecs[i].name, true
}

func lookupField(name string) (field, bool) {
	ref, ok := lookupName(name)
	if !ok || ref.rank != 1 {
		return 0, false
	}
	return ref.field, true
}

// lookupName resolves a parameter name through the built-in names.
func lookupName(name string) (nameRef, bool) {
	if len(name) > MaxNameLen {
		return nameRef{}, false
	}
	var buf [MaxNameLen]byte
	ref, ok := names[string(appendLoose(buf[:0], name))]
	return ref, ok
}

// appendLoose appends the loose form of s to dst: ASCII letters lower-cased,
// '_' and '-' dropped, every other byte kept. Loose names compare equal when
// a network writes click_id, clickid, ClickID or Click-ID.
func appendLoose(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// looseEqual reports whether a and b have the same loose form, without
// allocating.
func looseEqual(a, b string) bool {
	i, j := 0, 0
	for {
		for i < len(a) && (a[i] == '_' || a[i] == '-') {
			i++
		}
		for j < len(b) && (b[j] == '_' || b[j] == '-') {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if lowerASCII(a[i]) != lowerASCII(b[j]) {
			return false
		}
		i++
		j++
	}
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
