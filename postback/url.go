package postback

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// SecretParam is the query parameter that carries an integration's secret
// in its postback URL. Parse never treats it as data, and the Redact
// helpers blank it; its name is matched loosely like every other. Read it
// with QuerySecret, from the query string only: BuildURL puts it there,
// and a secret accepted from a body would have to be redacted from every
// stored body too.
const SecretParam = "secret"

// QuerySecret returns the decoded value of the first SecretParam parameter
// of a raw query string, or "" when there is none. Compare it with the
// integration's secret in constant time (crypto/subtle).
func QuerySecret(rawQuery string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if name, value, _ := strings.Cut(pair, "="); looseEqual(unescape(name), SecretParam) {
			return unescape(value)
		}
	}
	return ""
}

// Redacted replaces secrets in logged and stored requests.
const Redacted = "REDACTED"

// QueryParam is an extra parameter of a postback URL: a fixed value
// ("event=Sale") or a network macro for a parameter the integration maps
// ("sub2={sub2}").
type QueryParam struct {
	Name  string
	Value string
}

// BuildURL returns the complete postback URL a tenant pastes into the
// network:
//
//	{publicURL}/{accountKey}/collect/{integrationSlug}?click_id={clickid}&amount={payout}&…&secret=…
//
// The macros' fields come in their canonical order (Fields), then extra in
// the given order, then the secret, last. A value IsMacro recognises
// exactly as given ("{clickid}", "#s2#", "!!!clickRef!!!") is written
// literally, since the network substitutes the literal text; any other
// value, the secret and every name are query-escaped. So a macro in a
// syntax IsMacro does not know is escaped as a fixed value, which the
// network would then not substitute: stick to the recognised syntaxes.
//
// publicURL is the base of generated URLs (CLICKBACK_PUBLIC_URL), http or
// https, optionally with a path; a trailing slash is ignored. An empty
// secret, account key or slug, a Macros key that is not a canonical Field,
// and an extra name that repeats another name or is the secret are errors:
// they are programming or configuration mistakes, and the URL would not
// work.
func BuildURL(publicURL, accountKey, integrationSlug, secret string, macros Macros, extra ...QueryParam) (string, error) {
	base, err := url.Parse(publicURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		base.User != nil || base.RawQuery != "" || base.ForceQuery || base.Fragment != "" {
		return "", fmt.Errorf("public URL %s is not an http(s) URL without user, query or fragment", quoteShort(publicURL))
	}
	switch {
	case accountKey == "":
		return "", errors.New("the account key is empty")
	case integrationSlug == "":
		return "", errors.New("the integration slug is empty")
	case secret == "":
		return "", errors.New("the secret is empty: a postback URL without one would accept anyone's postbacks")
	}
	for f := range macros {
		if _, ok := lookupCanonical(f); !ok {
			return "", fmt.Errorf("macro for %s: not a canonical field", quoteShort(string(f)))
		}
	}

	var b strings.Builder
	b.WriteString(base.Scheme)
	b.WriteString("://")
	b.WriteString(base.Host)
	b.WriteString(strings.TrimRight(base.EscapedPath(), "/"))
	b.WriteByte('/')
	b.WriteString(url.PathEscape(accountKey))
	b.WriteString("/collect/")
	b.WriteString(url.PathEscape(integrationSlug))

	var written []string
	sep := byte('?')
	write := func(name, value string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		if isMacroSyntax(value) {
			b.WriteString(value)
		} else {
			b.WriteString(url.QueryEscape(value))
		}
		written = append(written, name)
	}
	for _, spec := range fieldSpecs {
		if v := macros[spec.name]; v != "" {
			write(string(spec.name), v)
		}
	}
	for _, q := range extra {
		switch {
		case q.Name == "" || len(q.Name) > MaxNameLen || checkText(q.Name, false) != nil:
			return "", fmt.Errorf("extra parameter %s: not a parameter name", quoteShort(q.Name))
		case looseEqual(q.Name, SecretParam):
			return "", fmt.Errorf("extra parameter %s: the secret is added by BuildURL", quoteShort(q.Name))
		}
		for _, w := range written {
			if looseEqual(w, q.Name) {
				return "", fmt.Errorf("extra parameter %s: the URL already has %s", quoteShort(q.Name), quoteShort(w))
			}
		}
		write(q.Name, q.Value)
	}
	b.WriteByte(sep)
	b.WriteString(SecretParam)
	b.WriteByte('=')
	b.WriteString(url.QueryEscape(secret))
	return b.String(), nil
}

// lookupCanonical finds the index of an exact canonical Field.
func lookupCanonical(f Field) (field, bool) {
	for i, spec := range fieldSpecs {
		if spec.name == f {
			return field(i), true
		}
	}
	return 0, false
}

// RedactQuery returns a raw query string (or form body) with the value of
// every SecretParam parameter replaced by Redacted, and every other byte
// as it was, so that the logged request still shows exactly what the
// network sent. It returns rawQuery itself when there is nothing to redact.
func RedactQuery(rawQuery string) string {
	var b strings.Builder
	done := 0 // rawQuery[:done] is in b
	for pos := 0; pos < len(rawQuery); {
		end := strings.IndexByte(rawQuery[pos:], '&')
		if end < 0 {
			end = len(rawQuery)
		} else {
			end += pos
		}
		name, value, hasValue := strings.Cut(rawQuery[pos:end], "=")
		if hasValue && value != "" && value != Redacted && looseEqual(unescape(name), SecretParam) {
			if b.Len() == 0 {
				b.Grow(len(rawQuery))
			}
			b.WriteString(rawQuery[done : pos+len(name)+1])
			b.WriteString(Redacted)
			done = end
		}
		pos = end + 1
	}
	if done == 0 {
		return rawQuery
	}
	b.WriteString(rawQuery[done:])
	return b.String()
}

// RedactURL is RedactQuery for a whole URL: everything after the first
// '?' is taken as the query, '#' included, since a postback URL's
// unsubstituted macros ("#s2#") live there.
func RedactURL(rawURL string) string {
	i := strings.IndexByte(rawURL, '?')
	if i < 0 {
		return rawURL
	}
	q := RedactQuery(rawURL[i+1:])
	if q == rawURL[i+1:] {
		return rawURL
	}
	return rawURL[:i+1] + q
}
