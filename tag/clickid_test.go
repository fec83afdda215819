package tag

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClickID(t *testing.T) {
	t.Parallel()

	const rand22 = "0123456789abcdefABCDEF"

	tests := []struct {
		id                string
		valid, wellFormed bool
	}{
		{testClickID, true, true},
		{"cb_" + strings.Repeat("_", 22), true, true},
		{"cb_" + rand22, true, true},
		{"cb_" + rand22 + "G", false, true},      // 23 characters
		{"cb_" + rand22[1:], false, true},        // 21 characters
		{"CB_" + rand22, false, true},            // the prefix is lower case
		{"cb_" + rand22[1:] + ".", false, true},  // . is not in the alphabet
		{"cb_" + rand22[1:] + "=", false, false}, // base64 padding
		{"cb_" + rand22[1:] + "+", false, false}, // standard base64
		{"cb_" + rand22[2:] + "é", false, false}, // 22 bytes, 21 characters
		{"gclid.Cj0KCQ~x-y_z", false, true},
		{strings.Repeat("a", MaxClickIDLen), false, true},
		{strings.Repeat("a", MaxClickIDLen+1), false, false},
		{"", false, false},
		{"--CLICK-ID--", false, true},
		{"a b", false, false},
		{"a%20b", false, false},
		{"a/b", false, false},
		{"a\x00", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.valid, ValidClickID(tt.id), "ValidClickID")
			require.Equal(t, tt.wellFormed, WellFormedClickID(tt.id), "WellFormedClickID")
		})
	}
}
