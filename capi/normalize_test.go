package capi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()

	tests := []struct {
		raw, meta, google string
	}{
		{"  John.Smith@Gmail.com ", "john.smith@gmail.com", "johnsmith@gmail.com"},
		{"j.o.h.n@googlemail.com", "j.o.h.n@googlemail.com", "john@googlemail.com"},
		{"j.smith@example.com", "j.smith@example.com", "j.smith@example.com"},
		{"j.smith+tag@example.co.uk", "j.smith+tag@example.co.uk", "j.smith+tag@example.co.uk"},
		{"", "", ""},
		{"no-at-sign.example.com", "", ""},
		{"@example.com", "", ""},
		{"user@localhost", "", ""},
		{"user@example.", "", ""},
		{"us er@example.com", "", ""},
		{"...@gmail.com", "...@gmail.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.meta, NormalizeEmail(tt.raw))
			require.Equal(t, tt.google, NormalizeGoogleEmail(tt.raw))
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, raw, country, e164, meta, tiktok string
	}{
		{"us national", "(650) 555-1212", "US", "+16505551212", "16505551212", "+16505551212"},
		{"us with trunk 1", "1-650-555-1212", "us", "+16505551212", "16505551212", "+16505551212"},
		{"us country by name", "650.555.1212", "United States", "+16505551212", "16505551212", "+16505551212"},
		{"international keeps its code whatever the default", "+44 20 7946 0958", "US", "+442079460958", "442079460958", "+442079460958"},
		{"00 prefix", "0044 20 7946 0958", "", "+442079460958", "442079460958", "+442079460958"},
		{"uk national drops trunk 0", "020 7946 0958", "GB", "+442079460958", "442079460958", "+442079460958"},
		{"uk mobile written with country code, no plus", "447700900123", "GB", "+447700900123", "447700900123", "+447700900123"},
		{"germany national", "030 1234567", "de", "+49301234567", "49301234567", "+49301234567"},
		{"italy keeps its 0", "06 1234 5678", "IT", "+390612345678", "390612345678", "+390612345678"},
		{"russia trunk 8", "8 (912) 345-67-89", "RU", "+79123456789", "79123456789", "+79123456789"},
		{"china drops +86 for tiktok only", "+86 138 0000 0000", "", "+8613800000000", "8613800000000", "13800000000"},
		{"china national", "138 0000 0000", "CN", "+8613800000000", "8613800000000", "13800000000"},
		{"extension ignored", "+1 650 555 1212 ext. 34", "", "+16505551212", "16505551212", "+16505551212"},
		{"tel uri", "tel:+16505551212", "", "+16505551212", "16505551212", "+16505551212"},
		{"unknown country, long number assumed international", "16505551212", "", "+16505551212", "16505551212", "+16505551212"},
		{"unknown country, national number dropped", "(650) 555-1212", "", "", "", ""},
		{"unknown country, trunk 0 dropped", "020 7946 0958", "", "", "", ""},
		{"us number of wrong length dropped", "555-1212", "US", "", "", ""},
		{"too long dropped", "+1234567890123456", "", "", "", ""},
		{"plus zero dropped", "+0 650 555 1212", "", "", "", ""},
		{"no digits", "n/a", "US", "", "", ""},
		{"empty", "", "US", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.e164, NormalizePhone(tt.raw, tt.country))
			require.Equal(t, tt.meta, MetaPhone(tt.raw, tt.country))
			require.Equal(t, tt.tiktok, TikTokPhone(tt.raw, tt.country))
		})
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, want string }{
		{"Mary", "mary"},
		{"  Valéry ", "valéry"},
		{"O'Brien", "obrien"},
		{"Mary-Jane", "maryjane"},
		{"Anne  Marie", "anne marie"},
		{"José3!", "josé"},
		{"ÉLODIE", "élodie"},
		{"Jürgen", "jürgen"},
		{"김민준", "김민준"},
		{"123", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeName(tt.raw))
		})
	}
}

func TestNormalizeCity(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, want string }{
		{"New York", "newyork"},
		{"  San Francisco ", "sanfrancisco"},
		{"St. Louis", "stlouis"},
		{"Winston-Salem", "winstonsalem"},
		{"São Paulo", "sãopaulo"},
		{"75001 Paris", "paris"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeCity(tt.raw))
		})
	}
}

func TestNormalizeState(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, country, want string }{
		{"CA", "US", "ca"},
		{"California", "US", "ca"},
		{"california", "", "ca"},
		{"New York", "usa", "ny"},
		{"District of Columbia", "United States", "dc"},
		{"Washington, D.C.", "US", "dc"},
		{"Georgia", "US", "ga"},
		{" tx ", "", "tx"},
		{"Ontario", "CA", "ontario"},
		{"Île-de-France", "FR", "îledefrance"},
		{"Bavaria", "DE", "bavaria"},
		{"", "US", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.country, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeState(tt.raw, tt.country))
		})
	}
}

func TestNormalizeZip(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, country, want string }{
		{"94035-1234", "US", "94035"},
		{"94035", "us", "94035"},
		{"940351234", "US", "94035"},
		{"94035-1234", "", "94035"},
		{"9403", "US", ""},
		{"M1 1AE", "GB", "m11ae"},
		{"m1 1ae", "", "m11ae"},
		{"75001", "FR", "75001"},
		{"1010-123", "PT", "1010123"},
		{"K1A 0B1", "CA", "k1a0b1"},
		{"", "US", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.country, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeZip(tt.raw, tt.country))
		})
	}
}

func TestNormalizeCountry(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, want string }{
		{"US", "us"},
		{"us", "us"},
		{"USA", "us"},
		{"U.S.A.", "us"},
		{"United States", "us"},
		{"United States of America", "us"},
		{"united kingdom", "gb"},
		{"UK", "gb"},
		{"GBR", "gb"},
		{"Great Britain", "gb"},
		{"Deutschland", "de"},
		{"Germany", "de"},
		{"Côte d'Ivoire", "ci"},
		{"Cote d'Ivoire", "ci"},
		{"Trinidad & Tobago", "tt"},
		{"St. Lucia", "lc"},
		{"South Korea", "kr"},
		{"Türkiye", "tr"},
		{"Turkey", "tr"},
		{"Bosnia and Herzegovina", "ba"},
		{"Georgia", "ge"},
		{"Atlantis", ""},
		{"XX", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeCountry(tt.raw))
		})
	}
}

func TestCountryTable(t *testing.T) {
	t.Parallel()

	require.Len(t, countries, 249)
	require.Len(t, countryByAlpha2, 249, "alpha-2 codes are unique")
	require.Len(t, countryByAlpha3, 249, "alpha-3 codes are unique")
	for _, c := range countries {
		require.Len(t, c.alpha2, 2, c.name)
		require.Len(t, c.alpha3, 3, c.name)
		require.True(t, allDigits(c.dial), c.name)
		require.Equal(t, c.alpha2, NormalizeCountry(c.name), c.name)
		require.Equal(t, c.alpha2, NormalizeCountry(c.alpha3), c.name)
	}
	for alias, code := range countryAliases {
		_, ok := countryByAlpha2[code]
		require.True(t, ok, "alias %q points at unknown code %q", alias, code)
		require.Equal(t, alias, wordKey(alias), "alias keys are in wordKey form")
	}
	require.Len(t, usStateNames, 56)
}

func TestNormalizeDateOfBirth(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, want string }{
		{"2/16/1997", "19970216"},
		{"02/16/1997", "19970216"},
		{"16/2/1997", "19970216"},
		{"1997-02-16", "19970216"},
		{"1997/2/16", "19970216"},
		{"19970216", "19970216"},
		{"16.02.1997", "19970216"},
		{"16-02-1997", "19970216"},
		{"02-16-1997", "19970216"},
		{"3/4/1990", "19900304"},
		{"2/30/1997", ""},
		{"1997-13-01", ""},
		{"1899-01-01", ""},
		{time.Now().AddDate(1, 0, 0).Format("2006-01-02"), ""},
		{"16/2/97", ""},
		{"yesterday", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeDateOfBirth(tt.raw))
		})
	}
}

func TestNormalizeGender(t *testing.T) {
	t.Parallel()

	tests := []struct{ raw, want string }{
		{"f", "f"}, {"F", "f"}, {"Female", "f"}, {" woman ", "f"},
		{"m", "m"}, {"MALE", "m"}, {"man", "m"},
		{"other", ""}, {"x", ""}, {"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, NormalizeGender(tt.raw))
		})
	}
}

func TestNormalizeExternalID(t *testing.T) {
	t.Parallel()

	require.Equal(t, "user-42", NormalizeExternalID("  User-42 "))
	require.Equal(t, "", NormalizeExternalID("   "))
}

func TestAmountJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		micros int64
		want   string
	}{
		{0, "0"},
		{123_450_000, "123.45"},
		{1, "0.000001"},
		{50_000_000, "50"},
		{-2_500_000, "-2.5"},
		{999_999_999_999, "999999.999999"},
		{-9223372036854775808, "-9223372036854.775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			b, err := amount(tt.micros).MarshalJSON()
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
		})
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"(650) 555-1212", "+44 20 7946 0958", "0044", "tel:+1", "8 (912) 345-67-89", ""} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, country string) {
		p := NormalizePhone(raw, country)
		if p == "" {
			return
		}
		require.Equal(t, byte('+'), p[0])
		require.True(t, allDigits(p[1:]))
		require.GreaterOrEqual(t, len(p), 8)
		require.LessOrEqual(t, len(p), 16)
		require.NotEqual(t, byte('0'), p[1])
	})
}

func FuzzNormalizeDateOfBirth(f *testing.F) {
	for _, s := range []string{"2/16/1997", "1997-02-16", "19970216", "16.02.1997", "//", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d := NormalizeDateOfBirth(raw)
		if d == "" {
			return
		}
		_, err := time.Parse("20060102", d)
		require.NoError(t, err)
	})
}
