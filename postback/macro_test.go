package postback_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

func TestIsMacro(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want bool
	}{
		// Every syntax of specs/networks.md, and the tag's placeholder.
		{"{clickid}", true},
		{"{aff_sub}", true},
		{"{SubId1}", true},
		{"${epi}", true},
		{"${commissiondecimal}", true},
		{"#s2#", true},
		{"#S1#", true},
		{"[sub1]", true},
		{"!!afftrack!!", true},
		{"!!!clickRef!!!", true},
		{postback.ClickIDPlaceholder, true},
		{"--click-id--", true},
		{"{{click_id}}", true},
		{"{offer.id}", true},
		{"{a:b}", true},
		{" {clickid} ", true},
		// Percent-encoded once or twice, as networks return unknown macros.
		{"%7Bclickid%7D", true},
		{"%7bclickid%7d", true},
		{"%257Bclickid%257D", true},
		{"%24%7Bsub1%7D", true},
		{"%23s2%23", true},
		{"%5Bsub1%5D", true},
		{"%21%21%21clickRef%21%21%21", true},
		{"--CLICK%2DID--", true},
		// Values.
		{"", false},
		{"abc", false},
		{"cb_8f3a2c", false},
		{"{}", false},
		{"${}", false},
		{"##", false},
		{"[]", false},
		{"!!!!", false},
		{"!!x!!!", false},
		{"!x!", false},
		{"----", false},
		{"---x---", false},
		{"[1]", false},
		{"#123#", false},
		{"{12.50}", false},
		{"{a b}", false},
		{`{"a":1}`, false},
		{"{clickid", false},
		{"clickid}", false},
		{"x{clickid}", false},
		{"{clickid}x", false},
		{"{clickid}{payout}", false},
		{"${a", false},
		{"#s2", false},
		{"{" + strings.Repeat("a", 64) + "}", true},
		{"{" + strings.Repeat("a", 65) + "}", false},
		{"%25257Bclickid%25257D", false}, // encoded three times
		{"%7Bclickid", false},
		{"100%", false},
		{"%", false},
		{strings.Repeat("%25", 1000), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, postback.IsMacro(tt.in))
		})
	}
}

func TestSyntaxMacro(t *testing.T) {
	t.Parallel()

	tests := []struct {
		syntax postback.Syntax
		want   string
	}{
		{postback.SyntaxBraces, "{sub1}"},
		{postback.SyntaxDollarBraces, "${sub1}"},
		{postback.SyntaxHashes, "#sub1#"},
		{postback.SyntaxBrackets, "[sub1]"},
		{postback.SyntaxDoubleBangs, "!!sub1!!"},
		{postback.SyntaxTripleBangs, "!!!sub1!!!"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.syntax), func(t *testing.T) {
			t.Parallel()

			got := tt.syntax.Macro("sub1")
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.syntax != "", postback.IsMacro(got))
		})
	}
}
