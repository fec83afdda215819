package integration

import (
	"bytes"
	"crypto/subtle"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSecretComparedInConstantTime: every postback secret check goes through
// crypto/subtle, on two SHA-256 digests (32 bytes each, whatever was sent),
// for the current and the previous secret alike, so that neither the
// content nor the length of a secret shows in the answer's timing. The
// check is structural rather than timed: a timed test on a shared machine
// is either flaky or too loose to catch anything.
func TestSecretComparedInConstantTime(t *testing.T) {
	require.Equal(t, reflect.ValueOf(subtle.ConstantTimeCompare).Pointer(), reflect.ValueOf(constantTimeCompare).Pointer(),
		"the comparison is crypto/subtle's")

	type call struct{ a, b []byte }
	var calls []call
	constantTimeCompare = func(a, b []byte) int {
		calls = append(calls, call{bytes.Clone(a), bytes.Clone(b)})
		return subtle.ConstantTimeCompare(a, b)
	}
	t.Cleanup(func() { constantTimeCompare = subtle.ConstantTimeCompare })

	now := time.Now()
	current, previous := NewSecret(), NewSecret()
	valid := now.Add(time.Hour)
	expired := now.Add(-time.Hour)
	for _, tc := range []struct {
		name     string
		given    string
		expires  *time.Time
		previous string
		want     bool
	}{
		{"current", current, &valid, previous, true},
		{"previous in its grace", previous, &valid, previous, true},
		{"previous expired", previous, &expired, previous, false},
		{"no previous", "", nil, "", false},
		{"missing", "", &valid, previous, false},
		{"one byte", "x", &valid, previous, false},
		{"last byte wrong", current[:len(current)-1] + other(current[len(current)-1]), &valid, previous, false},
		{"first byte wrong", other(current[0]) + current[1:], &valid, previous, false},
		{"prefix", current[:len(current)/2], &valid, previous, false},
		{"longer", current + "A", &valid, previous, false},
		{"other case", strings.ToUpper(current), &valid, previous, false},
		{"huge", strings.Repeat(current, 4096), &valid, previous, false},
		{"binary", "\x00\xff" + current, &valid, previous, false},
	} {
		calls = nil
		require.Equal(t, tc.want, SecretOK(current, tc.previous, tc.expires, tc.given, now), tc.name)
		require.Len(t, calls, 2, "%s: the current and the previous secret are both compared, always", tc.name)
		for _, c := range calls {
			require.Len(t, c.a, 32, tc.name)
			require.Len(t, c.b, 32, "%s: a fixed-length digest, not the %d bytes given", tc.name, len(tc.given))
			require.NotContains(t, string(c.a), current, tc.name)
			require.NotContains(t, string(c.b), current, tc.name)
		}
	}
}

// other is a character of a secret's alphabet that is not c: writing a
// fixed one over a character made the wrong secret the right one whenever
// the secret had that character there.
func other(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
