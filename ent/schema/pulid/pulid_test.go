package pulid

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^cnv_[0-9A-HJKMNP-TV-Z]{26}$`)
	seen := make(map[string]bool)
	prev := ""
	for range 1000 {
		id := New("cnv")
		require.Regexp(t, re, id)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
		// Timestamps lead, so IDs minted in later milliseconds sort later.
		require.True(t, id[:14] >= prev[:min(len(prev), 14)])
		prev = id
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ id, want string }{
		{"cnv_01H", "cnv"},
		{"nounderscore", ""},
		{"_x", ""},
		{"", ""},
	} {
		require.Equal(t, tt.want, Prefix(tt.id), tt.id)
	}
}
