package postback_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in       string
		micros   int64
		currency string
	}{
		// Plain and machine formats.
		{"32.50", 32_500_000, ""},
		{"7", 7_000_000, ""},
		{" 7 ", 7_000_000, ""},
		{"0", 0, ""},
		{"0.00", 0, ""},
		{".5", 500_000, ""},
		{"5.", 5_000_000, ""},
		{"+5", 5_000_000, ""},
		{"-5", -5_000_000, ""},
		{"−5", -5_000_000, ""},
		{"1.234", 1_234_000, ""}, // a single dot is a decimal point
		{"0.000001", 1, ""},
		{"007.10", 7_100_000, ""},
		{"1e3", 1_000_000_000, ""},
		{"1.5E2", 150_000_000, ""},
		{"2.5e-1", 250_000, ""},
		{"1e-7", 0, ""},
		{"5e-7", 1, ""},
		{"0e9999", 0, ""},
		// Decimal comma and grouping.
		{"32,50", 32_500_000, ""},
		{"0,125", 125_000, ""},
		{"1,5", 1_500_000, ""},
		{"1,234", 1_234_000_000, ""}, // English thousands
		{"1,234.56", 1_234_560_000, ""},
		{"1.234,56", 1_234_560_000, ""},
		{"1,234,567", 1_234_567_000_000, ""},
		{"1.234.567", 1_234_567_000_000, ""},
		{"1,234,567.891", 1_234_567_891_000, ""},
		{"1 234,56", 1_234_560_000, ""},
		{"1\u00a0234,56", 1_234_560_000, ""},
		{"1\u202f234.56", 1_234_560_000, ""},
		{"1'234.56", 1_234_560_000, ""},
		{"1’234.56", 1_234_560_000, ""},
		{"12 345 678", 12_345_678_000_000, ""},
		// Rounding past six decimals, half away from zero.
		{"0.1234564", 123_456, ""},
		{"0.1234565", 123_457, ""},
		{"-0.1234565", -123_457, ""},
		{"12.3400000001", 12_340_000, ""},
		{"0.0000005", 1, ""},
		{"0.0000004999", 0, ""},
		{"0.9999999", 1_000_000, ""},
		// Currencies.
		{"$32.50", 32_500_000, ""},
		{"-$5", -5_000_000, ""},
		{"$-5", -5_000_000, ""},
		{"€12", 12_000_000, "EUR"},
		{"12 €", 12_000_000, "EUR"},
		{"12,50 €", 12_500_000, "EUR"},
		{"£3.20", 3_200_000, "GBP"},
		{"32.50 USD", 32_500_000, "USD"},
		{"32.50usd", 32_500_000, "USD"},
		{"USD 32.50", 32_500_000, "USD"},
		{"eur12", 12_000_000, "EUR"},
		{"US$9", 9_000_000, "USD"},
		{"R$ 9,90", 9_900_000, "BRL"},
		{"¥500", 500_000_000, ""},
		{"100 kr", 100_000_000, ""},
		{"$12 USD", 12_000_000, "USD"},
		{"99 zł", 99_000_000, "PLN"},
		// Limits.
		{"9223372036854.775807", math.MaxInt64, ""},
		{"-9223372036854.775807", -math.MaxInt64, ""},
		{"9,223,372,036,854.775807", math.MaxInt64, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			micros, currency, err := postback.ParseAmount(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.micros, micros)
			require.Equal(t, tt.currency, currency)
		})
	}
}

func TestParseAmountErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		err     error
		message string
	}{
		{"12,3,4", postback.ErrAmountSyntax, `amount "12,3,4" is not a number`},
		{"", postback.ErrAmountSyntax, `amount "" is not a number`},
		{"   ", postback.ErrAmountSyntax, ""},
		{"abc", postback.ErrAmountSyntax, ""},
		{"1.234.5", postback.ErrAmountSyntax, ""},
		{"1,234.567.890", postback.ErrAmountSyntax, ""},
		{"1.234,567.89", postback.ErrAmountSyntax, ""},
		{"1,23,456", postback.ErrAmountSyntax, ""}, // Indian grouping is not supported
		{"1234,567,890", postback.ErrAmountSyntax, ""},
		{"32 50", postback.ErrAmountSyntax, ""},
		{"1..5", postback.ErrAmountSyntax, ""},
		{",", postback.ErrAmountSyntax, ""},
		{".", postback.ErrAmountSyntax, ""},
		{"-", postback.ErrAmountSyntax, ""},
		{"--5", postback.ErrAmountSyntax, ""},
		{"5-", postback.ErrAmountSyntax, ""},
		{"(5.00)", postback.ErrAmountSyntax, ""},
		{"NaN", postback.ErrAmountSyntax, ""},
		{"Infinity", postback.ErrAmountSyntax, ""},
		{"1e", postback.ErrAmountSyntax, ""},
		{"1e99999", postback.ErrAmountSyntax, ""},
		{"e5", postback.ErrAmountSyntax, ""},
		{"1,5e3", postback.ErrAmountSyntax, ""},
		{"0x10", postback.ErrAmountSyntax, ""},
		{"{payout}", postback.ErrAmountSyntax, ""},
		{"12 XYZ", postback.ErrAmountSyntax, ""},
		{"12 EURO", postback.ErrAmountSyntax, ""},
		{"١٢", postback.ErrAmountSyntax, ""},
		{"1234567890123456789012345678901234567890123456789012345678901234567890", postback.ErrAmountSyntax, ""},
		{"9223372036854.775808", postback.ErrAmountRange, `amount "9223372036854.775808" is too large`},
		{"99999999999999", postback.ErrAmountRange, ""},
		{"1e13", postback.ErrAmountRange, ""},
		{"1e9999", postback.ErrAmountRange, ""},
		{"€12 USD", postback.ErrAmountCurrencies, `amount "€12 USD" is in two currencies`},
		{"GBP 5 EUR", postback.ErrAmountCurrencies, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			micros, currency, err := postback.ParseAmount(tt.in)
			require.ErrorIs(t, err, tt.err)
			var amountErr *postback.AmountError
			require.True(t, errors.As(err, &amountErr))
			require.Equal(t, tt.in, amountErr.Input)
			if tt.message != "" {
				require.EqualError(t, err, tt.message)
			}
			require.Zero(t, micros)
			require.Empty(t, currency)
		})
	}
}

func TestFormatAmount(t *testing.T) {
	t.Parallel()

	tests := []struct {
		micros int64
		want   string
	}{
		{0, "0"},
		{1, "0.000001"},
		{-1, "-0.000001"},
		{7_000_000, "7"},
		{32_500_000, "32.5"},
		{1_234_560_000, "1234.56"},
		{-12_340_000, "-12.34"},
		{100_000, "0.1"},
		{math.MaxInt64, "9223372036854.775807"},
		{math.MinInt64, "-9223372036854.775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, postback.FormatAmount(tt.micros))
			if tt.micros != math.MinInt64 {
				back, _, err := postback.ParseAmount(tt.want)
				require.NoError(t, err)
				require.Equal(t, tt.micros, back)
			}
		})
	}
}
