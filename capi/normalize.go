package capi

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The Normalize functions turn raw user data into the canonical form the
// platforms hash (specs/capi.md §1.4, §2.7, §3.4, §4.4). Each returns "" when
// nothing usable is left, and the callers then omit the field instead of
// hashing an empty string.

// NormalizeEmail trims and lowercases an email address, the rule of Meta and
// TikTok. It returns "" for anything without the shape local@domain.tld
// (Meta's SDK rejects those too).
func NormalizeEmail(raw string) string {
	s := strings.ToLower(strings.TrimSpace(raw))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || strings.ContainsAny(s, " \t\r\n") {
		return ""
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 {
		return ""
	}
	return s
}

// NormalizeGoogleEmail is NormalizeEmail plus Google's rule for Google Ads and
// GA4: the dots of the local part are removed for gmail.com and
// googlemail.com addresses only (j.smith@gmail.com is jsmith@gmail.com;
// j.smith@example.com keeps its dot).
func NormalizeGoogleEmail(raw string) string {
	s := NormalizeEmail(raw)
	if s == "" {
		return ""
	}
	at := strings.LastIndexByte(s, '@')
	if domain := s[at+1:]; domain == "gmail.com" || domain == "googlemail.com" {
		local := strings.ReplaceAll(s[:at], ".", "")
		if local == "" {
			return ""
		}
		return local + "@" + domain
	}
	return s
}

// NormalizeName lowercases and trims a first or last name and removes
// punctuation, symbols and digits, keeping letters of every script with their
// accents (Valéry → valéry, O'Brien → obrien). Inner runs of spaces become one
// space. This satisfies Meta ("lowercase, no punctuation, UTF-8") and GA4
// ("remove digits and symbols, lowercase, trim").
func NormalizeName(raw string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(raw) {
		switch {
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsSpace(r):
			space = true
		}
	}
	return b.String()
}

// NormalizeCity lowercases a city and keeps only its letters: Meta wants no
// punctuation, no special characters and no spaces (New York → newyork).
func NormalizeCity(raw string) string {
	return letters(raw)
}

// NormalizeState returns a US state as its two-letter code in lowercase,
// mapping full names (California → ca); outside the US it lowercases and
// removes everything but letters, Meta's rule. country is the user's country
// (any form NormalizeCountry reads); an empty country is read as the US when
// the value is a US state name or code.
func NormalizeState(raw, country string) string {
	c := NormalizeCountry(country)
	if c == "" || c == "us" {
		if code, ok := usStates[wordKey(raw)]; ok {
			return code
		}
	}
	return letters(raw)
}

// NormalizeZip lowercases a postal code and removes spaces and dashes; a US
// zip is cut to its first five digits (94035-1234 → 94035). With an empty
// country, a value shaped like a US zip (5 digits, optionally -4 more) is read
// as one.
func NormalizeZip(raw, country string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(raw)) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	c := NormalizeCountry(country)
	if c == "us" || (c == "" && looksLikeUSZip(strings.TrimSpace(raw))) {
		if len(s) >= 5 && allDigits(s[:5]) {
			return s[:5]
		}
		if c == "us" {
			return ""
		}
	}
	return s
}

// looksLikeUSZip reports whether s is 12345, 12345-6789 or 123456789.
func looksLikeUSZip(s string) bool {
	switch len(s) {
	case 5, 9:
		return allDigits(s)
	case 10:
		return allDigits(s[:5]) && s[5] == '-' && allDigits(s[6:])
	}
	return false
}

// NormalizeCountry returns the lowercase ISO 3166-1 alpha-2 code of a country
// given as a code (US, usa) or an English name (United States, United
// Kingdom, Côte d'Ivoire). It returns "" for anything it cannot map, because a
// code Meta does not know is rejected by its SDK.
func NormalizeCountry(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	if len(s) <= 3 {
		l := strings.ToLower(s)
		if _, ok := countryByAlpha2[l]; ok {
			return l
		}
		if c, ok := countryByAlpha3[l]; ok {
			return c
		}
	}
	return countryByName[wordKey(s)]
}

// NormalizeDateOfBirth returns a date of birth as YYYYMMDD. It reads
// YYYYMMDD, YYYY-MM-DD and YYYY/MM/DD; M/D/YYYY the US way (2/16/1997, Meta's
// example) unless the first number cannot be a month; and D.M.YYYY or
// D-M-YYYY the European way unless the second cannot be a month. Dates that do
// not exist, or lie before 1900 or after today, give "".
func NormalizeDateOfBirth(raw string) string {
	s := strings.TrimSpace(raw)
	if len(s) == 8 && allDigits(s) {
		return validDate(s[:4], s[4:6], s[6:])
	}
	sep := strings.IndexAny(s, "/-.")
	if sep < 0 {
		return ""
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '-' || r == '.' })
	if len(parts) != 3 {
		return ""
	}
	a, b, c := parts[0], parts[1], parts[2]
	if len(a) == 4 {
		return validDate(a, b, c)
	}
	if len(c) != 4 {
		return ""
	}
	first, _ := strconv.Atoi(a)
	second, _ := strconv.Atoi(b)
	if s[sep] == '/' {
		if first > 12 {
			return validDate(c, b, a)
		}
		return validDate(c, a, b)
	}
	if second > 12 {
		return validDate(c, a, b)
	}
	return validDate(c, b, a)
}

// validDate returns YYYYMMDD when year, month and day form a real date in
// [1900, today], else "".
func validDate(year, month, day string) string {
	if !allDigits(year) || !allDigits(month) || !allDigits(day) || len(month) > 2 || len(day) > 2 {
		return ""
	}
	y, _ := strconv.Atoi(year)
	m, _ := strconv.Atoi(month)
	d, _ := strconv.Atoi(day)
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d || y < 1900 || t.After(time.Now()) {
		return ""
	}
	return t.Format("20060102")
}

// NormalizeGender returns "f" or "m", the only values Meta accepts, reading
// f/female/woman and m/male/man in any case; anything else gives "".
func NormalizeGender(raw string) string {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "f", "female", "woman":
		return "f"
	case "m", "male", "man":
		return "m"
	}
	return ""
}

// NormalizeExternalID trims and lowercases an advertiser's user id before it
// is hashed, as the browser pixels do, so the server event's hash matches the
// pixel's.
func NormalizeExternalID(raw string) string {
	return strings.ToLower(strings.TrimSpace(raw))
}

// letters lowercases s and keeps only its letters (and combining marks).
func letters(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// wordKey reduces a place name to a lookup key: lowercase letters of its
// words, without the filler words "and", "the" and "of", with "st" read as
// "saint" and "&" as "and" — so "Trinidad & Tobago", "trinidad and tobago"
// and "TRINIDAD-TOBAGO" meet.
func wordKey(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r)
	}) {
		switch w {
		case "and", "the", "of":
		case "st":
			b.WriteString("saint")
		default:
			b.WriteString(w)
		}
	}
	return b.String()
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
