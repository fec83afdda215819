package postback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Input limits. A real postback has a dozen short parameters; these leave
// ample room for it while bounding the work and memory a hostile request
// can cause. Going over a limit is an error, never a silent truncation: a
// cut-off click id or amount would be wrong data, not less data.
const (
	// MaxParams is the most parameters ParseParams accepts, counting the
	// query string and the body together.
	MaxParams = 200
	// MaxNameLen is the longest parameter name, in bytes; for JSON bodies
	// it applies to the flattened, dotted name.
	MaxNameLen = 128
	// MaxValueLen is the longest parameter value, in bytes after decoding.
	MaxValueLen = 2048
	// MaxBodyBytes is the largest body ParseParams reads. The HTTP layer
	// should cap its reader at this size (http.MaxBytesReader) so that a
	// larger body is refused before it is read.
	MaxBodyBytes = 64 << 10
	// MaxJSONDepth is how deeply JSON objects and arrays may nest.
	MaxJSONDepth = 8
)

// Errors of ParseParams. Each is returned wrapped with the detail a person
// needs (which parameter, how long, which limit): branch with errors.Is and
// show err.Error() in the 4xx answer. The message never contains a value,
// and only a quoted, shortened name, so it is safe to log.
var (
	// ErrTooManyParams means more than MaxParams parameters.
	ErrTooManyParams = errors.New("too many parameters")
	// ErrNameTooLong means a parameter name longer than MaxNameLen.
	ErrNameTooLong = errors.New("parameter name too long")
	// ErrValueTooLong means a parameter value longer than MaxValueLen.
	ErrValueTooLong = errors.New("parameter value too long")
	// ErrInvalidUTF8 means a name, value or JSON body that is not UTF-8
	// after percent-decoding; binary garbage usually ends here.
	ErrInvalidUTF8 = errors.New("not valid UTF-8")
	// ErrControlChar means a control character (C0, DEL or C1) in a name,
	// or in a value other than tab, line feed and carriage return.
	ErrControlChar = errors.New("control character")
	// ErrBodyTooLarge means a body longer than MaxBodyBytes.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrUnsupportedContentType means a non-empty body that is neither a
	// form nor JSON (the HTTP layer may answer 415).
	ErrUnsupportedContentType = errors.New("unsupported content type")
	// ErrInvalidJSON means a JSON body that does not parse, is not an
	// object at the top, or nests deeper than MaxJSONDepth.
	ErrInvalidJSON = errors.New("invalid JSON body")
)

// Param is one parameter as the network sent it: the decoded name and
// value, nothing trimmed or normalised.
type Param struct {
	Name  string
	Value string
}

// Params are a request's parameters in the order they came: the query
// string first, then the body. Names may repeat; [Parse] decides which
// occurrence counts. Callers may also build Params directly, for example
// for a test postback.
type Params []Param

// Get returns the value of the first parameter whose name loosely equals
// name (case, '_' and '-' ignored), and whether there is one.
func (p Params) Get(name string) (string, bool) {
	for _, prm := range p {
		if looseEqual(prm.Name, name) {
			return prm.Value, true
		}
	}
	return "", false
}

// Redacted returns p with the value of every [SecretParam] parameter
// replaced by [Redacted], for logs and the stored raw request. It returns p
// itself when there is nothing to redact, and a copy otherwise: p is never
// modified.
func (p Params) Redacted() Params {
	var out Params
	for i, prm := range p {
		if !looseEqual(prm.Name, SecretParam) {
			continue
		}
		if out == nil {
			out = make(Params, len(p))
			copy(out, p)
		}
		out[i].Value = Redacted
	}
	if out == nil {
		return p
	}
	return out
}

// ParseParams reads a postback's parameters from its raw query string and
// its body, merged in that order.
//
// The body is read by content type: application/x-www-form-urlencoded as a
// form, application/json (or any +json type) as JSON; an empty or text/plain
// content type is sniffed (a body starting with '{' is JSON, anything else
// a form), because networks often omit it. The charset parameter is
// ignored: everything must be UTF-8. A blank body is ignored whatever its
// type; any other body is ErrUnsupportedContentType.
//
// Query strings and forms split on '&' only. '+' decodes to a space; an
// invalid percent escape (a lone "%") is kept literally rather than failing
// the postback. Pairs with an empty name ("=x", "&&") carry nothing and are
// dropped.
//
// A JSON body must be one object. Strings are taken as they are, numbers in
// their exact text ("32.50" stays "32.50", never a float), booleans as
// "true"/"false", null as "". Nested objects and arrays are flattened with
// dotted names: {"customer":{"email":"a@b"}} gives "customer.email" and
// {"items":["x"]} gives "items.0", which an integration can map.
//
// The limits above apply to everything, and ParseParams returns no params
// with the first error. It never panics, and its work is linear in the
// input.
func ParseParams(rawQuery, contentType string, body []byte) (Params, error) {
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, len(body), MaxBodyBytes)
	}
	kind, err := bodyKindOf(contentType, body)
	if err != nil {
		return nil, err
	}
	n := strings.Count(rawQuery, "&") + 1
	if kind == bodyForm {
		n += bytes.Count(body, []byte("&")) + 1
	}
	ps := make(Params, 0, min(n, MaxParams))
	if ps, err = appendQuery(ps, rawQuery); err != nil {
		return nil, err
	}
	switch kind {
	case bodyForm:
		ps, err = appendQuery(ps, string(body))
	case bodyJSON:
		ps, err = appendJSON(ps, body)
	}
	if err != nil {
		return nil, err
	}
	return ps, nil
}

type bodyKind uint8

const (
	bodyNone bodyKind = iota
	bodyForm
	bodyJSON
)

func bodyKindOf(contentType string, body []byte) (bodyKind, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return bodyNone, nil
	}
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	switch {
	case strings.EqualFold(mediaType, "application/x-www-form-urlencoded"):
		return bodyForm, nil
	case strings.EqualFold(mediaType, "application/json") || hasSuffixFold(mediaType, "+json"):
		return bodyJSON, nil
	case mediaType == "" || strings.EqualFold(mediaType, "text/plain"):
		if body[0] == '{' {
			return bodyJSON, nil
		}
		return bodyForm, nil
	}
	return bodyNone, fmt.Errorf("%w %s: send a query string, a form or a JSON object", ErrUnsupportedContentType, quoteShort(mediaType))
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// appendQuery appends the pairs of a query string or form body.
func appendQuery(ps Params, s string) (Params, error) {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		// Decoding never lengthens, so raw lengths far over the limits can
		// be refused before any decoding work.
		if len(name) > 3*MaxNameLen {
			return nil, fmt.Errorf("%w: %s… is over %d bytes", ErrNameTooLong, quoteShort(unescape(name[:3*MaxNameLen])), MaxNameLen)
		}
		name = unescape(name)
		if name == "" {
			continue
		}
		if len(value) > 3*MaxValueLen {
			return nil, valueTooLong(name, len(value))
		}
		var err error
		if ps, err = appendParam(ps, name, unescape(value)); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// appendParam checks one parameter against the limits and appends it.
func appendParam(ps Params, name, value string) (Params, error) {
	if len(ps) >= MaxParams {
		return nil, fmt.Errorf("%w: more than %d", ErrTooManyParams, MaxParams)
	}
	if len(name) > MaxNameLen {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrNameTooLong, quoteShort(name), len(name), MaxNameLen)
	}
	if len(value) > MaxValueLen {
		return nil, valueTooLong(name, len(value))
	}
	if err := checkText(name, false); err != nil {
		return nil, fmt.Errorf("%w in the name of parameter %s", err, quoteShort(name))
	}
	if err := checkText(value, true); err != nil {
		return nil, fmt.Errorf("%w in the value of parameter %s", err, quoteShort(name))
	}
	return append(ps, Param{Name: name, Value: value}), nil
}

func valueTooLong(name string, n int) error {
	return fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrValueTooLong, quoteShort(name), n, MaxValueLen)
}

// checkText returns ErrInvalidUTF8 or ErrControlChar (with the character)
// for text that is not clean UTF-8. Tab, line feed and carriage return are
// allowed in values only.
func checkText(s string, isValue bool) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 || c == 0x7f) && !(isValue && (c == '\t' || c == '\n' || c == '\r')) {
				return fmt.Errorf("%w U+%04X", ErrControlChar, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrInvalidUTF8
		}
		if 0x80 <= r && r <= 0x9f {
			return fmt.Errorf("%w U+%04X", ErrControlChar, r)
		}
		i += size
	}
	return nil
}

// unescape decodes a query component: "+" is a space and "%XX" a byte. An
// invalid escape is kept as it is. Strings without '%' or '+' come back
// unchanged, without allocating.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// appendJSON appends the flattened members of a JSON object body.
func appendJSON(ps Params, body []byte) (Params, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: the JSON body", ErrInvalidUTF8)
	}
	j := jsonFlattener{dec: json.NewDecoder(bytes.NewReader(body)), ps: ps}
	j.dec.UseNumber()
	tok, err := j.dec.Token()
	if err != nil {
		return nil, j.syntaxError(err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: the body must be one JSON object", ErrInvalidJSON)
	}
	if err := j.object("", 1); err != nil {
		return nil, err
	}
	if _, err := j.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrInvalidJSON)
	}
	return j.ps, nil
}

type jsonFlattener struct {
	dec *json.Decoder
	ps  Params
}

func (j *jsonFlattener) syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: it ends early", ErrInvalidJSON)
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("%w: %s at byte %d", ErrInvalidJSON, syntax, syntax.Offset)
	}
	return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
}

// object reads the members of an object whose '{' was consumed; prefix is
// the dotted name of the object ("" at the top, else ending in '.').
func (j *jsonFlattener) object(prefix string, depth int) error {
	for j.dec.More() {
		tok, err := j.dec.Token()
		if err != nil {
			return j.syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: object key expected", ErrInvalidJSON)
		}
		if err := j.value(prefix+key, depth); err != nil {
			return err
		}
	}
	_, err := j.dec.Token() // '}'
	if err != nil {
		return j.syntaxError(err)
	}
	return nil
}

func (j *jsonFlattener) array(name string, depth int) error {
	for i := 0; j.dec.More(); i++ {
		if err := j.value(name+"."+strconv.Itoa(i), depth); err != nil {
			return err
		}
	}
	_, err := j.dec.Token() // ']'
	if err != nil {
		return j.syntaxError(err)
	}
	return nil
}

func (j *jsonFlattener) value(name string, depth int) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrNameTooLong, quoteShort(name), len(name), MaxNameLen)
	}
	tok, err := j.dec.Token()
	if err != nil {
		return j.syntaxError(err)
	}
	var v string
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxJSONDepth {
			return fmt.Errorf("%w: nested deeper than %d levels", ErrInvalidJSON, MaxJSONDepth)
		}
		if t == '{' {
			return j.object(name+".", depth+1)
		}
		return j.array(name, depth+1)
	case string:
		v = t
	case json.Number:
		v = t.String()
	case bool:
		v = strconv.FormatBool(t)
	case nil:
		v = ""
	}
	if name == "" {
		return nil
	}
	j.ps, err = appendParam(j.ps, name, v)
	return err
}

// quoteShort quotes s for an error message, shortened to 64 bytes: enough
// to recognise a parameter, never enough to copy a huge value into logs.
func quoteShort(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
