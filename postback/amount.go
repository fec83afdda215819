package postback

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MicrosPerUnit is how many micro-units make one unit of a currency:
// amounts are int64 micro-units (amount × 1,000,000), exact for every
// currency's minor units (at most 4 decimals) and large enough for
// 9.2 trillion units.
const MicrosPerUnit = 1_000_000

// maxAmountLen bounds the text ParseAmount reads; real amounts are short.
const maxAmountLen = 64

// Problems ParseAmount reports, wrapped in an *AmountError.
var (
	// ErrAmountSyntax means the text is not an amount in any format
	// ParseAmount knows.
	ErrAmountSyntax = errors.New("not a number")
	// ErrAmountRange means the amount does not fit in int64 micro-units.
	ErrAmountRange = errors.New("too large")
	// ErrAmountCurrencies means the text names two different currencies
	// ("€12 USD").
	ErrAmountCurrencies = errors.New("in two currencies")
)

// AmountError is ParseAmount's error. Its message is a sentence for the
// Events Log: `amount "12,3,4" is not a number`.
type AmountError struct {
	// Input is the text given to ParseAmount.
	Input string
	// Err is ErrAmountSyntax, ErrAmountRange or ErrAmountCurrencies.
	Err error
}

func (e *AmountError) Error() string {
	return "amount " + quoteShort(e.Input) + " is " + e.Err.Error()
}

func (e *AmountError) Unwrap() error { return e.Err }

// ParseAmount parses an amount as networks send it into micro-units,
// exactly (no float is involved), and returns the currency the text names,
// if it names one unambiguously.
//
// Accepted, with surrounding spaces: an optional sign ('-', '+' or '−'), an
// optional currency (an ISO code or sign before or after the number:
// "$32.50", "€12", "32.50 USD", "USD 32.50", "12,50 €"), and the number:
//
//   - "32.50", "7", ".5", "1e3": a single '.' is always the decimal point,
//     so "1.234" is 1.234 (machine output), and JSON exponents are allowed;
//   - "32,50", "0,125": a single ',' is the decimal comma, except before
//     exactly three digits after a non-zero integer part: "1,234" is
//     1234, as English formatting writes it;
//   - "1,234.56", "1.234,56", "1 234,56", "1'234.56": with grouping, the last
//     separator is the decimal one; groups after the first must have
//     three digits ("12,3,4" is refused), and "1,234,567" or "1.234.567"
//     has no decimals at all.
//
// A sign shared by several currencies ("$", "¥", "kr") names none: currency
// is "" and the caller's currency applies. Negative amounts are returned as
// such; whether to accept them is the caller's business ([Parse] accepts
// them only on reversals). Digits past the sixth decimal are rounded half
// away from zero (0.0000005 is 1 micro-unit): they are float noise from the
// network, not money. An amount beyond ±9,223,372,036,854.775807 is
// ErrAmountRange. Errors are *AmountError.
func ParseAmount(s string) (micros int64, currency string, err error) {
	fail := func(e error) (int64, string, error) {
		return 0, "", &AmountError{Input: s, Err: e}
	}
	rest := trimAmountSpace(s)
	if rest == "" || len(rest) > maxAmountLen {
		return fail(ErrAmountSyntax)
	}

	neg, signed := false, false
	takeSign := func() {
		if signed {
			return
		}
		switch {
		case strings.HasPrefix(rest, "-"), strings.HasPrefix(rest, "+"):
			neg, signed, rest = rest[0] == '-', true, trimAmountSpace(rest[1:])
		case strings.HasPrefix(rest, "−"):
			neg, signed, rest = true, true, trimAmountSpace(rest[len("−"):])
		}
	}
	takeSign()
	preCode, pre, rest := cutCurrencyPrefix(rest)
	takeSign()
	sufCode, suf, rest := cutCurrencySuffix(rest)
	switch {
	case pre && suf && preCode != "" && sufCode != "" && preCode != sufCode:
		return fail(ErrAmountCurrencies)
	case preCode != "":
		currency = preCode
	default:
		currency = sufCode
	}

	var digits [maxAmountLen]byte
	mant, exp, ok := parseNumber(rest, digits[:0])
	if !ok {
		return fail(ErrAmountSyntax)
	}
	v, ok := scaleMicros(mant, exp+6)
	if !ok {
		return fail(ErrAmountRange)
	}
	if neg {
		v = -v
	}
	return v, currency, nil
}

// FormatAmount writes micro-units as a plain decimal string, without
// trailing zeros or grouping: 32500000 is "32.5", 7000000 is "7", -1 is
// "-0.000001". ParseAmount reads it back to the same value.
func FormatAmount(micros int64) string {
	var buf [24]byte
	b := buf[:0]
	u := uint64(micros)
	if micros < 0 {
		b = append(b, '-')
		u = uint64(-(micros + 1)) + 1 // no overflow for math.MinInt64
	}
	b = strconv.AppendUint(b, u/MicrosPerUnit, 10)
	if frac := u % MicrosPerUnit; frac != 0 {
		var f [6]byte
		for i := 5; i >= 0; i-- {
			f[i] = byte('0' + frac%10)
			frac /= 10
		}
		b = append(b, '.')
		b = append(b, strings.TrimRight(string(f[:]), "0")...)
	}
	return string(b)
}

// trimAmountSpace trims spaces, including the no-break and thin spaces
// that formatted amounts carry.
func trimAmountSpace(s string) string {
	return strings.TrimFunc(s, isAmountSpace)
}

func isAmountSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' || r == '\u2009' || r == '\u202f'
}

// cutCurrencyPrefix removes a leading currency code or sign and returns
// its code ("" for an ambiguous sign) and whether there was one.
func cutCurrencyPrefix(s string) (code string, found bool, rest string) {
	if s == "" || isDigit(s[0]) || s[0] == '.' {
		return "", false, s
	}
	if len(s) > 3 && isLetter(s[0]) && isLetter(s[1]) && isLetter(s[2]) && !isLetter(s[3]) {
		if info, ok := lookupCurrencyCode(s[:3]); ok {
			return info.code, true, trimAmountSpace(s[3:])
		}
	}
	for _, cs := range currencySymbols {
		if strings.HasPrefix(s, cs.symbol) {
			return cs.code, true, trimAmountSpace(s[len(cs.symbol):])
		}
	}
	return "", false, s
}

// cutCurrencySuffix is cutCurrencyPrefix at the end of s.
func cutCurrencySuffix(s string) (code string, found bool, rest string) {
	n := len(s)
	if n == 0 || isDigit(s[n-1]) {
		return "", false, s
	}
	if n > 3 && isLetter(s[n-1]) && isLetter(s[n-2]) && isLetter(s[n-3]) && !isLetter(s[n-4]) {
		if info, ok := lookupCurrencyCode(s[n-3:]); ok {
			return info.code, true, trimAmountSpace(s[:n-3])
		}
	}
	for _, cs := range currencySymbols {
		if strings.HasSuffix(s, cs.symbol) {
			return cs.code, true, trimAmountSpace(s[:n-len(cs.symbol)])
		}
	}
	return "", false, s
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Separator classes of a formatted number.
const (
	sepDot   = '.'
	sepComma = ','
	sepQuote = '\''
	sepSpace = ' '
)

// separatorAt returns the class and byte size of the separator at s[i], or
// size 0 if there is none.
func separatorAt(s string, i int) (class byte, size int) {
	switch c := s[i]; c {
	case '.', ',', '\'', ' ':
		return c, 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	switch r {
	case '\u00a0', '\u2009', '\u202f':
		return sepSpace, size
	case '’':
		return sepQuote, size
	}
	return 0, 0
}

// parseNumber reads the number part of an amount into its significant
// digits, appended to digits, and a power of ten: the value is
// mant × 10^exp.
func parseNumber(s string, digits []byte) (mant []byte, exp int, ok bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		return parseExponent(s[:i], s[i+1:], digits)
	}

	// Split into digit runs and the separators between them.
	var runs [maxAmountLen/2 + 1]string
	var seps [maxAmountLen / 2]byte
	nr := 0
	for i := 0; ; {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if nr == len(runs) {
			return nil, 0, false
		}
		runs[nr] = s[i:j]
		nr++
		if j == len(s) {
			break
		}
		class, size := separatorAt(s, j)
		if size == 0 || nr > len(seps) {
			return nil, 0, false
		}
		seps[nr-1] = class
		i = j + size
	}
	nsep := nr - 1

	// Find the decimal separator, if any.
	dec := -1
	if nsep > 0 {
		last := seps[nsep-1]
		count := 0
		for _, c := range seps[:nsep] {
			if c == last {
				count++
			}
		}
		switch {
		case count > 1 || last == sepQuote || last == sepSpace:
			// Only grouping: "1,234,567", "1 234".
		case last == sepDot:
			dec = nsep - 1
		case nsep > 1: // a single ',' after other grouping: "1.234,56"
			dec = nsep - 1
		case len(runs[1]) == 3 && runs[0] != "" && strings.Trim(runs[0], "0") != "":
			// "1,234": a thousands comma.
		default:
			dec = nsep - 1 // "32,50", "0,125"
		}
	}

	intRuns, frac := runs[:nr], ""
	groupSeps := seps[:nsep]
	if dec >= 0 {
		intRuns, frac = runs[:dec+1], runs[dec+1]
		groupSeps = seps[:dec]
	}
	if len(groupSeps) > 0 {
		for _, c := range groupSeps {
			if c != groupSeps[0] {
				return nil, 0, false
			}
		}
		if n := len(intRuns[0]); n < 1 || n > 3 {
			return nil, 0, false
		}
		for _, r := range intRuns[1:] {
			if len(r) != 3 {
				return nil, 0, false
			}
		}
	}
	if intRuns[0] == "" && frac == "" {
		return nil, 0, false
	}
	for _, r := range intRuns {
		digits = append(digits, r...)
	}
	digits = append(digits, frac...)
	return digits, -len(frac), true
}

// parseExponent reads "1.5e3" style numbers: plain digits, at most one '.',
// and an exponent of at most 4 digits.
func parseExponent(mantissa, exponent string, digits []byte) (mant []byte, exp int, ok bool) {
	intPart, frac, _ := strings.Cut(mantissa, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return nil, 0, false
	}
	neg := false
	if exponent != "" && (exponent[0] == '+' || exponent[0] == '-') {
		neg = exponent[0] == '-'
		exponent = exponent[1:]
	}
	if exponent == "" || len(exponent) > 4 || !allDigits(exponent) {
		return nil, 0, false
	}
	e, _ := strconv.Atoi(exponent)
	if neg {
		e = -e
	}
	digits = append(digits, intPart...)
	digits = append(digits, frac...)
	return digits, e - len(frac), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// scaleMicros returns mant × 10^exp rounded half away from zero to an
// integer, and false if it does not fit in int64.
func scaleMicros(mant []byte, exp int) (int64, bool) {
	for len(mant) > 0 && mant[0] == '0' {
		mant = mant[1:]
	}
	if len(mant) == 0 {
		return 0, true
	}
	keep := len(mant) + exp // digits of the integer result
	switch {
	case keep < 0:
		return 0, true
	case keep == 0:
		if mant[0] >= '5' {
			return 1, true
		}
		return 0, true
	case keep > 19:
		return 0, false
	}
	var v uint64 // 19 digits always fit in uint64
	for i := range keep {
		d := uint64(0)
		if i < len(mant) {
			d = uint64(mant[i] - '0')
		}
		v = v*10 + d
	}
	if keep < len(mant) && mant[keep] >= '5' {
		v++
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
