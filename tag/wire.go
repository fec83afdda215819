package tag

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the wire format. The tag cuts strings to these lengths (in characters) before
// sending, so a batch from the tag is never refused for a length.
const (
	// MaxBodyBytes bounds a request body. The HTTP layer should refuse longer bodies
	// before reading them (http.MaxBytesReader); ParseBatch checks again. The tag keeps
	// its batches under 60000 bytes, below the 64 KiB that sendBeacon and fetch keepalive
	// allow in flight.
	MaxBodyBytes = 64 << 10
	// MaxEvents bounds the events of one batch.
	MaxEvents = 50
	// MaxURLLen bounds URL, Referrer and LinkURL: the longest URL every browser and proxy
	// handles.
	MaxURLLen = 2048
	// MaxTitleLen bounds Title.
	MaxTitleLen = 512
	// MaxParamLen bounds UTM parameters, ad click ids, ExternalID, string properties and
	// error messages.
	MaxParamLen = 512
	// MaxCookieLen bounds FBP, FBC and TTP: an _fbc holds a whole fbclid.
	MaxCookieLen = 1024
	// MaxLinkTextLen bounds LinkText, a reminder of which link was followed.
	MaxLinkTextLen = 128
	// MaxNameLen bounds custom event names and property keys.
	MaxNameLen = 64
	// MaxProps bounds the properties of one custom event.
	MaxProps = 32
	// MaxClickIDLen bounds ClickID.
	MaxClickIDLen = 128
	// MaxValue bounds Value, in micro-units: one trillion units of any currency.
	MaxValue = 1_000_000_000_000 * MicrosPerUnit
	// MicrosPerUnit is the scale of Value: 1.5 EUR is 1_500_000.
	MicrosPerUnit = 1_000_000
)

// EventType says what an Event records.
type EventType string

// Event types. TrackEvents (PageView, OutboundClick, Custom) are stored and counted;
// Identify links the Click to a user; Error is the tag reporting its own failure.
const (
	PageView      EventType = "PageView"
	OutboundClick EventType = "OutboundClick"
	Custom        EventType = "Custom"
	Identify      EventType = "Identify"
	Error         EventType = "Error"
)

// wireTypes maps the wire's t to an EventType.
var wireTypes = map[string]EventType{"pv": PageView, "oc": OutboundClick, "tr": Custom, "id": Identify, "er": Error}

// Errors of ParseBatch. Every error it returns is one of these or a *FieldError (which
// wraps ErrInvalidEvent); their texts are meant for the sender, in a 400 response.
var (
	ErrBodyTooLarge  = fmt.Errorf("body is larger than %d bytes", MaxBodyBytes)
	ErrInvalidUTF8   = errors.New("body is not valid UTF-8")
	ErrMalformed     = errors.New(`body is not a JSON object {"v":1,"events":[…]}`)
	ErrVersion       = errors.New("unsupported version: v must be 1")
	ErrNoEvents      = errors.New("batch has no events")
	ErrTooManyEvents = fmt.Errorf("batch has more than %d events", MaxEvents)
	ErrInvalidEvent  = errors.New("invalid event")
)

// FieldError says which field of which event is invalid, and why.
type FieldError struct {
	// Event is the index of the event in the batch.
	Event int
	// Field is the wire key ("u", "p.plan"), "" for the event itself.
	Field string
	// Reason is what is wrong, for a person.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("invalid event %d: %s", e.Event, e.Reason)
	}
	return fmt.Sprintf("invalid event %d: %s: %s", e.Event, e.Field, e.Reason)
}

// Unwrap makes every FieldError match ErrInvalidEvent.
func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

// Batch is what one POST from the tag holds.
type Batch struct {
	// Events are in the order the tag recorded them; there is at least one.
	Events []Event
}

// UTM holds the utm_* parameters of the landing URL.
type UTM struct {
	Source, Medium, Campaign, Term, Content string
}

// AdClickIDs holds the click ids the ad platforms add to the landing URL: Google (GCLID,
// and GBRAID/WBRAID for iOS), Meta (FBCLID), TikTok (TTCLID), Microsoft (MSCLKID), LinkedIn
// (LiFatID), X (TWCLID), Pinterest (EPIK), Snapchat (ScCID).
type AdClickIDs struct {
	GCLID, GBRAID, WBRAID, FBCLID, TTCLID, MSCLKID, LiFatID, TWCLID, EPIK, ScCID string
}

// Event is one validated event. Fields the sender left out are zero. The page context (URL,
// ClickID, ClientTime) comes with every event; the attribution fields (Referrer to
// Language) normally only with a PageView.
type Event struct {
	Type EventType
	// Name is the custom event's name for Custom, and the type's name otherwise, so that
	// it can be stored as is: custom names may not be "PageView" or "OutboundClick".
	Name string
	// ClickID identifies the visit. It is empty only for an Error the tag hit before it
	// had one.
	ClickID string
	// ClientTime is the browser's clock when the event happened: a hint, since clocks
	// are wrong; zero when not sent.
	ClientTime time.Time

	URL, Referrer, Title string
	UTM                  UTM
	AdClickIDs           AdClickIDs
	// FBP, FBC and TTP are the _fbp, _fbc (Meta) and _ttp (TikTok) cookies, as sent.
	FBP, FBC, TTP string
	// Screen is "{width}x{height}" in CSS pixels; Language is navigator.language.
	Screen, Language string

	// LinkURL and LinkText describe the link of an OutboundClick.
	LinkURL, LinkText string

	// Value is in micro-units (MicrosPerUnit), parsed exactly from the decimal text and
	// rounded half up to the micro-unit, never through a float; HasValue tells 0 from
	// absent.
	Value    int64
	HasValue bool
	// Currency is an ISO 4217 code, upper case, as sent; it is not checked against the
	// list of currencies.
	Currency string
	// Props are the custom event's other properties; each value is a string, a bool or a
	// json.Number (kept as text, exact). Nil when there are none.
	Props map[string]any

	// ExternalID and EmailSHA256 (64 lower-case hex digits) come with Identify.
	ExternalID, EmailSHA256 string

	// Message is the error an Error event reports.
	Message string
}

// wireEvent is an event as sent; see the package documentation.
type wireEvent struct {
	T  string          `json:"t"`
	C  string          `json:"c"`
	TS json.RawMessage `json:"ts"`
	U  string          `json:"u"`
	R  string          `json:"r"`
	Ti string          `json:"ti"`

	UTMSource   string `json:"utm_source"`
	UTMMedium   string `json:"utm_medium"`
	UTMCampaign string `json:"utm_campaign"`
	UTMTerm     string `json:"utm_term"`
	UTMContent  string `json:"utm_content"`

	GCLID   string `json:"gclid"`
	GBRAID  string `json:"gbraid"`
	WBRAID  string `json:"wbraid"`
	FBCLID  string `json:"fbclid"`
	TTCLID  string `json:"ttclid"`
	MSCLKID string `json:"msclkid"`
	LiFatID string `json:"li_fat_id"`
	TWCLID  string `json:"twclid"`
	EPIK    string `json:"epik"`
	ScCID   string `json:"ScCid"`

	FBP string `json:"fbp"`
	FBC string `json:"fbc"`
	TTP string `json:"ttp"`
	Sc  string `json:"sc"`
	Lg  string `json:"lg"`

	L  string `json:"l"`
	Lt string `json:"lt"`

	N   string                     `json:"n"`
	Val json.RawMessage            `json:"val"`
	Cur string                     `json:"cur"`
	P   map[string]json.RawMessage `json:"p"`

	Xid string `json:"xid"`
	Em  string `json:"em"`
	M   string `json:"m"`
}

// ParseBatch decodes and validates a batch from the tag (see the package documentation for
// the format). It never panics, whatever the body, and accepts a batch whole or not at all:
// the error is one of the Err* values or a *FieldError naming the event and field.
//
// A ClickID need not be one the tag generates (ValidClickID): any WellFormedClickID is
// accepted, so that an older tag, a tenant-set _cbid cookie or a server-side sender still
// record their visits.
//
// The tag posts with sendBeacon (or fetch keepalive, without credentials) and the
// Content-Type text/plain;charset=UTF-8, which needs no CORS preflight: the HTTP layer must
// not insist on application/json. The tag never reads the answer.
//
// Parsing costs time linear in the body: about 5 µs per typical event, and in the order of
// 10 ms for the most hostile 64 KiB body (tens of thousands of properties), which the
// per-IP rate limit bounds.
func ParseBatch(body []byte) (Batch, error) {
	if len(body) > MaxBodyBytes {
		return Batch{}, ErrBodyTooLarge
	}
	if !utf8.Valid(body) {
		return Batch{}, ErrInvalidUTF8
	}
	// One pass decodes a well-formed batch; a batch it fails on is decoded
	// again event by event (checkedBatch), to name the event at fault.
	var fast struct {
		V      json.RawMessage `json:"v"`
		Events []wireEvent     `json:"events"`
	}
	if err := json.Unmarshal(body, &fast); err == nil && string(fast.V) == "1" && len(fast.Events) > 0 && len(fast.Events) <= MaxEvents {
		events := make([]Event, len(fast.Events))
		for i := range fast.Events {
			e, err := validEvent(i, &fast.Events[i])
			if err != nil {
				return Batch{}, err
			}
			events[i] = e
		}
		return Batch{Events: events}, nil
	}
	return checkedBatch(body)
}

// checkedBatch is ParseBatch for a body the one pass failed on: the
// envelope first, then each event on its own, so that the error says which
// event and field were wrong.
func checkedBatch(body []byte) (Batch, error) {
	var wb struct {
		V      json.RawMessage   `json:"v"`
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &wb); err != nil {
		return Batch{}, ErrMalformed
	}
	if string(wb.V) != "1" {
		return Batch{}, ErrVersion
	}
	if len(wb.Events) == 0 {
		return Batch{}, ErrNoEvents
	}
	if len(wb.Events) > MaxEvents {
		return Batch{}, ErrTooManyEvents
	}
	events := make([]Event, len(wb.Events))
	for i, raw := range wb.Events {
		e, err := parseEvent(i, raw)
		if err != nil {
			return Batch{}, err
		}
		events[i] = e
	}
	return Batch{Events: events}, nil
}

func parseEvent(i int, raw json.RawMessage) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return Event{}, &FieldError{Event: i, Field: typeErr.Field, Reason: "must be " + jsonKind(typeErr.Type)}
		}
		return Event{}, &FieldError{Event: i, Reason: "not a JSON object"}
	}
	return validEvent(i, &w)
}

// validEvent validates event i as sent and turns it into an Event.
func validEvent(i int, w *wireEvent) (Event, error) {
	typ, ok := wireTypes[w.T]
	if !ok {
		return Event{}, &FieldError{Event: i, Field: "t", Reason: "must be one of pv, oc, tr, id, er"}
	}
	v := validator{event: i}
	e := Event{
		Type:       typ,
		Name:       string(typ),
		ClickID:    v.clickID(w.C, typ != Error),
		ClientTime: v.clientTime(w.TS),
		URL:        v.url("u", w.U, typ == PageView),
		Referrer:   v.text("r", w.R, MaxURLLen),
		Title:      v.text("ti", w.Ti, MaxTitleLen),
		UTM: UTM{
			Source:   v.text("utm_source", w.UTMSource, MaxParamLen),
			Medium:   v.text("utm_medium", w.UTMMedium, MaxParamLen),
			Campaign: v.text("utm_campaign", w.UTMCampaign, MaxParamLen),
			Term:     v.text("utm_term", w.UTMTerm, MaxParamLen),
			Content:  v.text("utm_content", w.UTMContent, MaxParamLen),
		},
		AdClickIDs: AdClickIDs{
			GCLID:   v.text("gclid", w.GCLID, MaxParamLen),
			GBRAID:  v.text("gbraid", w.GBRAID, MaxParamLen),
			WBRAID:  v.text("wbraid", w.WBRAID, MaxParamLen),
			FBCLID:  v.text("fbclid", w.FBCLID, MaxParamLen),
			TTCLID:  v.text("ttclid", w.TTCLID, MaxParamLen),
			MSCLKID: v.text("msclkid", w.MSCLKID, MaxParamLen),
			LiFatID: v.text("li_fat_id", w.LiFatID, MaxParamLen),
			TWCLID:  v.text("twclid", w.TWCLID, MaxParamLen),
			EPIK:    v.text("epik", w.EPIK, MaxParamLen),
			ScCID:   v.text("ScCid", w.ScCID, MaxParamLen),
		},
		FBP:         v.text("fbp", w.FBP, MaxCookieLen),
		FBC:         v.text("fbc", w.FBC, MaxCookieLen),
		TTP:         v.text("ttp", w.TTP, MaxCookieLen),
		Screen:      v.match("sc", w.Sc, validScreen, `must be "{width}x{height}"`),
		Language:    v.match("lg", w.Lg, validLanguage, "must be a BCP 47 language tag"),
		LinkURL:     v.url("l", w.L, typ == OutboundClick),
		LinkText:    v.text("lt", w.Lt, MaxLinkTextLen),
		Currency:    v.match("cur", w.Cur, validCurrency, "must be three upper-case letters (ISO 4217)"),
		ExternalID:  v.text("xid", w.Xid, MaxParamLen),
		EmailSHA256: v.match("em", w.Em, validSHA256, "must be 64 lower-case hex digits (SHA-256), not of an empty string"),
		Message:     v.text("m", w.M, MaxParamLen),
	}
	e.Value, e.HasValue = v.value(w.Val)
	e.Props = v.props(w.P)
	switch {
	case typ == Custom && (w.N == string(PageView) || w.N == string(OutboundClick)):
		v.fail("n", "is reserved for the tag's own events")
	case typ == Custom:
		e.Name = v.match("n", w.N, validName, "must be 1 to 64 letters, digits, spaces and _ . : - starting with a letter or digit")
		if w.N == "" {
			v.fail("n", "is required for a custom event")
		}
	case typ == Identify && e.ExternalID == "" && e.EmailSHA256 == "":
		v.fail("", "identify needs xid or em")
	}
	return e, v.err
}

// validator checks fields one by one and keeps the first failure, so that building an
// Event reads as one list.
type validator struct {
	event int
	err   error
}

func (v *validator) fail(field, reason string) {
	if v.err == nil {
		v.err = &FieldError{Event: v.event, Field: field, Reason: reason}
	}
}

// text accepts s if it is at most max characters long and holds no NUL.
func (v *validator) text(field, s string, max int) string {
	switch {
	case len(s) > max && utf8.RuneCountInString(s) > max:
		v.fail(field, fmt.Sprintf("longer than %d characters", max))
	case strings.IndexByte(s, 0) >= 0:
		v.fail(field, "contains a NUL character")
	}
	return s
}

// url accepts a text that starts with a URL scheme. The rest is not parsed: the tag may
// have cut the URL to MaxURLLen, in the middle of an escape.
func (v *validator) url(field, s string, required bool) string {
	s = v.text(field, s, MaxURLLen)
	switch {
	case s == "" && required:
		v.fail(field, "is required")
	case s != "" && !hasScheme(s):
		v.fail(field, "must be an absolute URL")
	}
	return s
}

func (v *validator) match(field, s string, valid func(string) bool, reason string) string {
	if s != "" && !valid(s) {
		v.fail(field, reason)
	}
	return s
}

func (v *validator) clickID(s string, required bool) string {
	switch {
	case s == "" && required:
		v.fail("c", "is required")
	case s != "" && !WellFormedClickID(s):
		v.fail("c", fmt.Sprintf("must be 1 to %d of A-Z a-z 0-9 . _ ~ -", MaxClickIDLen))
	}
	return s
}

// maxClientTime is the last millisecond of year 9999.
const maxClientTime = 253402300799999

func (v *validator) clientTime(raw json.RawMessage) time.Time {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms < 0 || ms > maxClientTime {
		v.fail("ts", "must be an integer number of milliseconds since 1970")
		return time.Time{}
	}
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func (v *validator) value(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil || !isDecimal(text) {
			v.fail("val", "must be a decimal number such as 12.50")
			return 0, false
		}
	} else if raw[0] == '-' || raw[0] < '0' || raw[0] > '9' {
		v.fail("val", "must be a number from 0 to 1e12 or a decimal string")
		return 0, false
	}
	micros, ok := parseMicros(text)
	if !ok {
		v.fail("val", "must be at most 1e12")
		return 0, false
	}
	return micros, true
}

func (v *validator) props(p map[string]json.RawMessage) map[string]any {
	if len(p) == 0 {
		return nil
	}
	if len(p) > MaxProps {
		v.fail("p", fmt.Sprintf("more than %d properties", MaxProps))
		return nil
	}
	props := make(map[string]any, len(p))
	for k, raw := range p {
		field := "p." + k
		if !validName(k) {
			v.fail("p", fmt.Sprintf("key %.64q must be 1 to 64 letters, digits, spaces and _ . : - starting with a letter or digit", k))
			return nil
		}
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				v.fail(field, "is not a JSON string")
				return nil
			}
			props[k] = v.text(field, s, MaxParamLen)
		case 't', 'f':
			props[k] = raw[0] == 't'
		case '{', '[', 'n':
			v.fail(field, "must be a string, a number or a boolean")
			return nil
		default:
			if len(raw) > 32 {
				v.fail(field, "number is longer than 32 characters")
				return nil
			}
			props[k] = json.Number(raw)
		}
	}
	return props
}

// parseMicros converts a JSON number without sign (digits, optional fraction, optional
// exponent) to micro-units, exactly: digits beyond the sixth decimal are rounded half up.
// It reports false above MaxValue.
func parseMicros(s string) (int64, bool) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		switch {
		case err == nil && e >= -100 && e <= 100:
			exp = e
		case strings.HasPrefix(s[i+1:], "-"):
			exp = -100 // rounds to 0
		default:
			exp = 100 // too large, unless the mantissa is 0
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // the decimal point sits after digits[:point]
	trimmed := strings.TrimLeft(digits, "0")
	point -= len(digits) - len(trimmed)
	digits = trimmed
	if digits == "" {
		return 0, true
	}
	n := point + 6 // digits[:n] are the whole micro-units
	switch {
	case n > 19:
		return 0, false
	case n < 0:
		return 0, true
	}
	whole := digits[:min(n, len(digits))] + strings.Repeat("0", max(0, n-len(digits)))
	var micros int64
	if whole != "" {
		var err error
		if micros, err = strconv.ParseInt(whole, 10, 64); err != nil {
			return 0, false
		}
	}
	if n < len(digits) && digits[n] >= '5' {
		micros++
	}
	return micros, micros <= MaxValue
}

// isDecimal reports whether s is digits with an optional fraction: the form a decimal
// string value must have.
func isDecimal(s string) bool {
	intPart, frac, hasPoint := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasPoint || allDigits(frac))
}

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

func hasScheme(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 || !isLetter(s[0]) {
		return false
	}
	for j := 1; j < i; j++ {
		c := s[j]
		if !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validName is the rule for custom event names and property keys: 1 to MaxNameLen
// letters, digits, spaces and _ . : -, the first a letter or digit.
func validName(s string) bool {
	if s == "" || len(s) > MaxNameLen || !isLetter(s[0]) && !isDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !isDigit(c) && !strings.ContainsRune("_ .:-", rune(c)) {
			return false
		}
	}
	return true
}

func validScreen(s string) bool {
	w, h, ok := strings.Cut(s, "x")
	return ok && len(w) <= 5 && len(h) <= 5 && allDigits(w) && allDigits(h)
}

func validLanguage(s string) bool {
	if len(s) > 35 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// emptySHA256 is the SHA-256 of "": a well-formed hash that matches nobody.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func validSHA256(s string) bool {
	if len(s) != 64 || s == emptySHA256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// jsonKind names the JSON type a Go type decodes from, for a FieldError.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map:
		return "an object"
	default:
		return "valid JSON"
	}
}
