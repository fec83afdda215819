package postback

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed iso4217.txt
var iso4217 string

// currencyInfo is one ISO 4217 code; code is kept so that lookups through
// a lower-cased or stack buffer can return the canonical string without
// allocating.
type currencyInfo struct {
	code  string
	minor int8 // -1: not applicable
}

var currencies = parseISO4217(iso4217)

func parseISO4217(data string) map[string]currencyInfo {
	m := make(map[string]currencyInfo, 200)
	for line := range strings.Lines(data) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		code, minor, ok := strings.Cut(line, " ")
		if !ok || len(code) != 3 || len(minor) != 1 || !(minor == "-" || '0' <= minor[0] && minor[0] <= '9') {
			panic(fmt.Sprintf("postback: bad line in iso4217.txt: %q", line))
		}
		info := currencyInfo{code: code, minor: -1}
		if minor != "-" {
			info.minor = int8(minor[0] - '0')
		}
		m[code] = info
	}
	return m
}

// currencySymbols are the currency signs an amount or a currency parameter
// may carry, longest first so that "US$" wins over "$". A sign shared by
// several currencies ("$", "¥", "kr") is recognised but names none: the
// currency then comes from the currency parameter or the account.
var currencySymbols = []struct{ symbol, code string }{
	{"US$", "USD"}, {"AU$", "AUD"}, {"CA$", "CAD"}, {"NZ$", "NZD"}, {"HK$", "HKD"}, {"MX$", "MXN"},
	{"A$", "AUD"}, {"C$", "CAD"}, {"S$", "SGD"}, {"R$", "BRL"},
	{"zł", "PLN"}, {"Kč", "CZK"}, {"Ft", "HUF"}, {"kr", ""},
	{"€", "EUR"}, {"£", "GBP"}, {"₹", "INR"}, {"₽", "RUB"}, {"₩", "KRW"}, {"₺", "TRY"},
	{"₪", "ILS"}, {"₫", "VND"}, {"₱", "PHP"}, {"₴", "UAH"}, {"₦", "NGN"}, {"฿", "THB"},
	{"₡", "CRC"}, {"₲", "PYG"}, {"₸", "KZT"}, {"₾", "GEL"}, {"₼", "AZN"}, {"৳", "BDT"},
	{"$", ""}, {"¥", ""}, {"￥", ""},
}

// NormalizeCurrency returns the ISO 4217 code s names, upper case, and
// whether it names one. Case and surrounding spaces are ignored ("usd",
// " Eur "), and an unambiguous sign counts ("€" is EUR, "£" GBP); an
// ambiguous one ("$") and anything outside ISO 4217 List One give false.
func NormalizeCurrency(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 3 {
		if info, ok := lookupCurrencyCode(s); ok {
			return info.code, true
		}
	}
	for _, cs := range currencySymbols {
		if s == cs.symbol {
			return cs.code, cs.code != ""
		}
	}
	return "", false
}

// CurrencyMinorUnits returns how many decimals ISO 4217 gives the
// currency (2 for USD, 0 for JPY, 3 for KWD), for a platform that wants
// amounts in minor units; false for an unknown code or one without minor
// units (XAU). code is matched as NormalizeCurrency does.
func CurrencyMinorUnits(code string) (int, bool) {
	code, ok := NormalizeCurrency(code)
	if !ok {
		return 0, false
	}
	info := currencies[code]
	if info.minor < 0 {
		return 0, false
	}
	return int(info.minor), true
}

// lookupCurrencyCode finds a three-letter code in any case, without
// allocating.
func lookupCurrencyCode(s string) (currencyInfo, bool) {
	if len(s) != 3 {
		return currencyInfo{}, false
	}
	var buf [3]byte
	for i := range 3 {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			return currencyInfo{}, false
		}
		buf[i] = c
	}
	info, ok := currencies[string(buf[:])]
	return info, ok
}
