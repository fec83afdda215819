package postback_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

func TestNormalizeCurrency(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"USD", "USD", true},
		{"usd", "USD", true},
		{" Eur ", "EUR", true},
		{"jpy", "JPY", true},
		{"XCG", "XCG", true},
		{"ZWG", "ZWG", true},
		{"SLE", "SLE", true},
		{"CHF", "CHF", true},
		{"€", "EUR", true},
		{"£", "GBP", true},
		{"R$", "BRL", true},
		{"$", "", false},
		{"¥", "", false},
		{"kr", "", false},
		{"XYZ", "", false},
		{"HRK", "", false}, // withdrawn in 2023
		{"ZWL", "", false},
		{"US", "", false},
		{"USDT", "", false},
		{"", "", false},
		{"U$D", "", false},
		{"ÜSD", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			got, ok := postback.NormalizeCurrency(tt.in)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.ok, ok)
		})
	}
}

func TestCurrencyMinorUnits(t *testing.T) {
	t.Parallel()

	tests := []struct {
		code  string
		units int
		ok    bool
	}{
		{"USD", 2, true},
		{"eur", 2, true},
		{"JPY", 0, true},
		{"KWD", 3, true},
		{"CLF", 4, true},
		{"XAU", 0, false},
		{"XYZ", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()

			units, ok := postback.CurrencyMinorUnits(tt.code)
			require.Equal(t, tt.units, units)
			require.Equal(t, tt.ok, ok)
		})
	}
}
