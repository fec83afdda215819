package postback

import "strings"

// Status is a conversion's status at the network, normalised from the many
// words networks use. It is separate from the Events Log status (RECEIVED,
// MATCHED, …): a conversion can be MATCHED and PENDING at the network, and
// a later postback can move it to APPROVED or REVERSED.
type Status string

// The statuses a network's word normalises to.
const (
	// StatusPending is a conversion the network has not decided on yet
	// (also "hold").
	StatusPending Status = "PENDING"
	// StatusApproved is a conversion the network confirmed; the one
	// leading trackers forward.
	StatusApproved Status = "APPROVED"
	// StatusRejected is a conversion the network refused before paying it
	// ("declined", "invalid", "fraud").
	StatusRejected Status = "REJECTED"
	// StatusReversed is a conversion taken back after approval ("refund",
	// "chargeback", "voided").
	StatusReversed Status = "REVERSED"
)

// statusWords are the built-in words, in loose form. Network-specific
// codes that would be ambiguous elsewhere (Affise's "1", "2", "3", "5")
// live in the catalog presets instead.
var statusWords = map[string]Status{
	"pending": StatusPending, "pend": StatusPending, "hold": StatusPending, "onhold": StatusPending,
	"held": StatusPending, "waiting": StatusPending, "processing": StatusPending,
	"review": StatusPending, "inreview": StatusPending, "underreview": StatusPending,
	"new": StatusPending, "open": StatusPending, "unconfirmed": StatusPending,

	"approved": StatusApproved, "approve": StatusApproved, "accepted": StatusApproved,
	"accept": StatusApproved, "confirmed": StatusApproved, "complete": StatusApproved,
	"completed": StatusApproved, "success": StatusApproved, "successful": StatusApproved,
	"paid": StatusApproved, "locked": StatusApproved, "valid": StatusApproved,
	"validated": StatusApproved, "cleared": StatusApproved,

	"rejected": StatusRejected, "reject": StatusRejected, "declined": StatusRejected,
	"decline": StatusRejected, "denied": StatusRejected, "deny": StatusRejected,
	"invalid": StatusRejected, "fraud": StatusRejected, "fraudulent": StatusRejected,
	"cancelled": StatusRejected, "canceled": StatusRejected, "cancel": StatusRejected,
	"failed": StatusRejected, "deleted": StatusRejected, "blocked": StatusRejected,

	"reversed": StatusReversed, "reverse": StatusReversed, "reversal": StatusReversed,
	"refund": StatusReversed, "refunded": StatusReversed, "chargeback": StatusReversed,
	"chargedback": StatusReversed, "voided": StatusReversed, "void": StatusReversed,
	"returned": StatusReversed, "clawback": StatusReversed, "clawedback": StatusReversed,
}

// maxStatusWord bounds the status words looked up; longer text is no word.
const maxStatusWord = 32

// ParseStatus normalises a network's status word with the built-in words,
// loosely (case, spaces, '_' and '-' ignored: "On-Hold" and "on hold" are
// "onhold"):
// pending, hold, approved, confirmed, paid, locked, rejected, declined,
// denied, invalid, cancelled, reversed, refund, chargeback, voided and
// their variants. The canonical names themselves ("APPROVED") are words
// too. It reports false for any other word; networks' own codes come from
// the catalog presets and the integration's status mapping (see [Config]).
func ParseStatus(word string) (Status, bool) {
	return lookupStatus(statusWords, word)
}

// lookupStatus finds word, in loose form, in a map of loose words, without
// allocating.
func lookupStatus(words map[string]Status, word string) (Status, bool) {
	word = strings.TrimSpace(word)
	if len(word) > maxStatusWord || len(words) == 0 {
		return "", false
	}
	var buf [maxStatusWord]byte
	st, ok := words[string(appendLooseWord(buf[:0], word))]
	return st, ok
}

// appendLooseWord is appendLoose that also drops spaces, for status words.
func appendLooseWord(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_' || c == '-' || c == ' ':
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// looseStatusWords builds a loose-keyed status map from one written for
// people, checking that every key is distinct once loose.
func looseStatusWords(words map[string]Status) map[string]Status {
	m := make(map[string]Status, len(words))
	for w, st := range words {
		k := string(appendLooseWord(nil, w))
		if _, dup := m[k]; dup {
			panic("postback: status word " + w + " repeats")
		}
		m[k] = st
	}
	return m
}
