package capi

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// EmptyHash is SHA-256 of the empty string. It is a well-formed digest that
// matches nobody, and forwarders that hash missing values by accident send it
// (specs/capi.md §0.1, §6); capi never does, even when a caller passes it in
// as an "already hashed" value.
const EmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// IsHashed reports whether s is a lowercase hex SHA-256 digest — Meta's test
// for "already hashed", ^[a-f0-9]{64}$. Uppercase hex does not count: the
// platforms compare lowercase digests.
func IsHashed(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Hash returns the lowercase hex SHA-256 of a value that is already
// normalised. It returns "" for "" (a missing value stays missing) and returns
// a value that already is a digest unchanged, so nothing is hashed twice.
func Hash(normalized string) string {
	if normalized == "" || normalized == EmptyHash {
		return ""
	}
	if IsHashed(normalized) {
		return normalized
	}
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}

// hashWith normalises raw with normalize and hashes the result. A raw value
// that already is a digest (in either case, surrounded by spaces or not) is
// passed through before normalisation could mangle it: the phone normaliser
// would otherwise keep only its digits. The empty-string digest counts as
// missing.
func hashWith(raw string, normalize func(string) string) string {
	if raw == "" {
		return ""
	}
	if t := strings.ToLower(strings.TrimSpace(raw)); IsHashed(t) {
		if t == EmptyHash {
			return ""
		}
		return t
	}
	return Hash(normalize(raw))
}
