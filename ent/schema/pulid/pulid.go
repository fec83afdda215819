// Package pulid makes the identifiers of clickback's records: a short type
// prefix, an underscore and 26 characters of Crockford base32 holding a
// millisecond timestamp and 80 random bits (a ULID).
//
// The prefix tells a person (and the Relay `node` resolver) what kind of
// record an ID names; the timestamp keeps new rows at the end of every
// primary-key index; the random part makes IDs unguessable and lets any
// number of processes mint them without coordination.
package pulid

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// New returns a fresh identifier with the given prefix.
func New(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	// The first 6 bytes hold the timestamp; the last 10 are random.
	_, _ = rand.Read(b[6:])
	var sb strings.Builder
	sb.Grow(len(prefix) + 1 + 26)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	encode(&sb, b)
	return sb.String()
}

// encode writes the 128 bits of b as 26 base32 characters, most significant
// first (the first character carries only 3 bits).
func encode(sb *strings.Builder, b [16]byte) {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	sb.Write(out[:])
}

// Prefix returns the type prefix of id, or "" when id has none.
func Prefix(id string) string {
	i := strings.IndexByte(id, '_')
	if i <= 0 {
		return ""
	}
	return id[:i]
}
