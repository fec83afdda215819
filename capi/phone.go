package capi

import (
	"strings"
	"unicode"
)

// NormalizePhone returns a phone number in E.164 form, "+" then the country
// code and the subscriber number ("+16505551212"), which is what Google Ads,
// GA4 and TikTok hash; Meta hashes the same digits without the "+" (see
// [MetaPhone]).
//
// A number written internationally ("+44 20 …", "0044 20 …") keeps its
// country code. A national number ("(650) 555-1212", "020 7946 0958") gets the
// calling code of defaultCountry (a code or name, see [NormalizeCountry]),
// with the national trunk prefix removed: the leading 0 in most countries, the
// leading 1 of an 11-digit NANP number, the 8 of Russia and Kazakhstan; Italy
// and the Vatican keep their leading 0 as their plan requires. Without a
// default country, a number that does not start with 0 and has 11 to 15 digits
// is taken to include its country code (Meta asks for numbers with one);
// anything else gives "", because a guessed country code only produces a hash
// that matches nobody. Text after the number ("ext. 12", "#3") is ignored.
func NormalizePhone(raw, defaultCountry string) string {
	digits, international := phoneDigits(raw)
	if digits == "" {
		return ""
	}
	switch {
	case international:
	case strings.HasPrefix(digits, "00"):
		digits = digits[2:]
	default:
		digits = nationalToInternational(digits, NormalizeCountry(defaultCountry))
	}
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return ""
	}
	return "+" + digits
}

// MetaPhone returns a phone number the way Meta and Snap hash it: the E.164
// digits with the country code and without the "+" ("16505551212").
func MetaPhone(raw, defaultCountry string) string {
	return strings.TrimPrefix(NormalizePhone(raw, defaultCountry), "+")
}

// TikTokPhone returns a phone number the way TikTok's Events API wants it
// before hashing: E.164 with the "+", except that Chinese numbers (country
// code 86) go without their country code ("13800000000"), as TikTok's own
// documentation says (specs/capi.md §4.4).
func TikTokPhone(raw, defaultCountry string) string {
	p := NormalizePhone(raw, defaultCountry)
	if strings.HasPrefix(p, "+86") {
		return p[3:]
	}
	return p
}

// phoneDigits extracts the digits of a phone number and whether it was
// written with a leading "+". Letters or #;, after the first digit end the
// number (an extension follows); letters before it ("tel:") are skipped.
func phoneDigits(raw string) (digits string, international bool) {
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0:
			international = true
		case b.Len() > 0 && (unicode.IsLetter(r) || r == '#' || r == ';' || r == ','):
			return b.String(), international
		}
	}
	return b.String(), international
}

// nationalToInternational prefixes a number written without "+" or "00" with
// the calling code of country (lowercase alpha-2, may be empty).
func nationalToInternational(digits, country string) string {
	c, ok := countryByAlpha2[country]
	if !ok {
		if digits[0] != '0' && len(digits) >= 11 {
			return digits
		}
		return ""
	}
	switch c.dial {
	case "1":
		switch {
		case len(digits) == 10:
			return "1" + digits
		case len(digits) == 11 && digits[0] == '1':
			return digits
		case strings.HasPrefix(digits, "011"):
			return digits[3:]
		}
		return ""
	case "7":
		switch {
		case len(digits) == 11 && digits[0] == '8':
			return "7" + digits[1:]
		case len(digits) == 11 && digits[0] == '7':
			return digits
		case len(digits) == 10:
			return "7" + digits
		}
		return ""
	case "39":
		if strings.HasPrefix(digits, "39") && len(digits) >= 11 {
			return digits
		}
		return "39" + digits
	}
	switch {
	case digits[0] == '0':
		return c.dial + strings.TrimLeft(digits, "0")
	case strings.HasPrefix(digits, c.dial) && len(digits) > len(c.dial)+6:
		return digits
	}
	return c.dial + digits
}
