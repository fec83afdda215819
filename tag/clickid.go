package tag

// clickIDPrefix starts every Click ID the tag generates, so that people recognise one in a
// URL or a network's report.
const clickIDPrefix = "cb_"

// clickIDRandLen is the number of random characters after the prefix: 22 characters of a
// 64-letter alphabet carry 132 bits, more than the 128 that make a Click ID unguessable.
const clickIDRandLen = 22

// ValidClickID reports whether s has the exact form of a Click ID the tag generates: "cb_"
// and 22 characters of the base64url alphabet (A-Z a-z 0-9 - _). Each character is one
// random byte masked to 6 bits, so, unlike base64, any character may come last.
//
// The ingest accepts more (WellFormedClickID); ValidClickID is for places that only
// ever see the tag's own ids, and to tell them from foreign ones.
func ValidClickID(s string) bool {
	if len(s) != len(clickIDPrefix)+clickIDRandLen || s[:len(clickIDPrefix)] != clickIDPrefix {
		return false
	}
	for i := len(clickIDPrefix); i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// WellFormedClickID reports whether s is acceptable as a Click ID on the wire: 1 to
// MaxClickIDLen URL-safe characters (RFC 3986 unreserved: A-Z a-z 0-9 . _ ~ -), so that it
// can be put in a URL, a cookie or a log line without escaping. Tag-generated ids
// (ValidClickID) are well formed; so are those of older tags and of tenants that set _cbid
// themselves.
func WellFormedClickID(s string) bool {
	if s == "" || len(s) > MaxClickIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' && c != '~' {
			return false
		}
	}
	return true
}
