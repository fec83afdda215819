// Package capitest provides fake ad platform servers for tests: Meta
// Conversions API, GA4 Measurement Protocol, Google Ads
// UploadClickConversions with its OAuth token endpoint, and TikTok Events API.
//
// Each fake is an httptest.Server whose URL is a base URL with the real API's
// paths beneath it, so a test points clickback at it through the operator
// variables (CLICKBACK_META_API_URL=fake.URL …) and exercises the real client
// code. The fakes enforce the validation rules of specs/capi.md to the letter
// and answer with each platform's own error bodies, record what they accept,
// and can be told to fail: 5xx, 429, slow answers, a platform's permanent
// error, for the next N requests or until told to recover.
//
// The fakes do not import package capi: they are an independent reading of
// the spec, so a client bug cannot hide behind a fake sharing its code.
package capitest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"
)

// Event is one event a fake accepted.
type Event struct {
	// ID is the event's dedup key: Meta and TikTok event_id, the GA4
	// event_id (or transaction_id) parameter, the Google Ads order id (or
	// click id and conversion time).
	ID string
	// Name is the event name (Google Ads: the conversion action).
	Name string
	// Time is the event's time as sent.
	Time time.Time
	// TestEventCode is the request's test_event_code, if any.
	TestEventCode string
	// Fields is the event object as received, decoded from JSON.
	Fields map[string]any
}

// Rejection is a request a fake refused (or, for GA4, silently dropped as
// production GA4 does), with the answer it gave.
type Rejection struct {
	Status int
	Body   string
	// Reason is the first rule the request broke, in words.
	Reason string
}

// Fault is an answer a fake gives instead of doing its job.
type Fault struct {
	// Status is the HTTP status to answer; 0 means answer normally after
	// Delay (a slow platform).
	Status int
	// Body is the answer's body, sent as JSON.
	Body string
	// Header is added to the answer (Retry-After, say).
	Header http.Header
	// Delay is how long to wait before answering. The wait ends early when
	// the client gives up or the fake closes, so a client timeout shorter
	// than Delay sees a timeout.
	Delay time.Duration
}

// ServerError is a bare HTTP 500.
func ServerError() Fault {
	return Fault{Status: http.StatusInternalServerError, Body: `{"error":"internal"}`}
}

// Unavailable is an HTTP 503, a platform down for maintenance.
func Unavailable() Fault {
	return Fault{Status: http.StatusServiceUnavailable, Body: `{"error":"unavailable"}`}
}

// TooManyRequests is an HTTP 429 with a Retry-After of retryAfter (omitted
// when zero).
func TooManyRequests(retryAfter time.Duration) Fault {
	f := Fault{Status: http.StatusTooManyRequests, Body: `{"error":"rate limited"}`}
	if retryAfter > 0 {
		f.Header = http.Header{"Retry-After": {fmt.Sprint(int(retryAfter.Seconds()))}}
	}
	return f
}

// Slow answers normally, after d.
func Slow(d time.Duration) Fault {
	return Fault{Delay: d}
}

// Fake is what every fake platform shares: the server, the recorded events,
// the rejections and the fault schedule. Its methods are safe for concurrent
// use.
type Fake struct {
	*httptest.Server

	handler http.Handler
	done    chan struct{}

	mu         sync.Mutex
	now        func() time.Time
	events     []Event
	counts     map[string]int
	rejections []Rejection
	requests   int
	next       []Fault
	down       *Fault
	changed    chan struct{}
	closed     bool
	observe    func(body []byte, status int)
}

// newFake starts a fake serving handler. With tb non-nil it is closed when
// the test ends; otherwise the caller closes it.
func newFake(tb testing.TB, handler http.Handler) *Fake {
	f := &Fake{
		handler: handler,
		done:    make(chan struct{}),
		now:     time.Now,
		counts:  map[string]int{},
		changed: make(chan struct{}),
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	if tb != nil {
		tb.Cleanup(f.Close)
	}
	return f
}

// Close stops the fake, first releasing requests held by a slow fault.
func (f *Fake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.done)
	f.mu.Unlock()
	f.Server.Close()
}

// serve counts the request, applies a scheduled fault, or hands it on.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	var fault *Fault
	switch {
	case len(f.next) > 0:
		ft := f.next[0]
		f.next = f.next[1:]
		fault = &ft
	case f.down != nil:
		ft := *f.down
		fault = &ft
	}
	observe := f.observe
	f.mu.Unlock()
	if observe != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		defer func() { observe(body, cmp.Or(sw.status, http.StatusOK)) }()
	}
	if fault != nil {
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-f.done:
				return
			}
		}
		if fault.Status != 0 {
			for k, v := range fault.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fault.Status)
			_, _ = w.Write([]byte(fault.Body))
			return
		}
	}
	f.handler.ServeHTTP(w, r)
}

// Observe has fn called with the body of each request the fake answers
// and the status it answered, once it did: a load generator notes what
// reached the platform without a proxy in front of it, which cost as much
// again as the fake. nil stops it.
func (f *Fake) Observe(fn func(body []byte, status int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observe = fn
}

// statusWriter notes the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// FailNext makes the next n requests get fault ("down for n requests").
// Calls queue up: FailNext(2, a); FailNext(1, b) fails three requests.
func (f *Fake) FailNext(n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.next = append(f.next, fault)
	}
}

// Down makes every request get fault until Up.
func (f *Fake) Down(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = &fault
}

// Up ends Down and drops faults queued by FailNext.
func (f *Fake) Up() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = nil
	f.next = nil
}

// SetClock sets the clock the fake judges event ages and token expiry by.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// clock returns the fake's current time.
func (f *Fake) clock() time.Time {
	f.mu.Lock()
	now := f.now
	f.mu.Unlock()
	return now()
}

// Requests counts the requests the fake received, faulted ones included.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Events returns a copy of the events accepted so far, in arrival order.
func (f *Fake) Events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.events...)
}

// CountByEventID returns how many times each event id was accepted: more
// than one means a duplicate delivery reached the platform.
func (f *Fake) CountByEventID() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// Rejections returns a copy of the requests refused so far.
func (f *Fake) Rejections() []Rejection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Rejection(nil), f.rejections...)
}

// WaitForEvents waits until at least n events were accepted and returns them,
// failing the test if that takes longer than timeout. It wakes on each
// accepted event, never sleeps blindly.
func (f *Fake) WaitForEvents(tb testing.TB, n int, timeout time.Duration) []Event {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if len(f.events) >= n {
			out := append([]Event(nil), f.events...)
			f.mu.Unlock()
			return out
		}
		changed, got, rejected := f.changed, len(f.events), append([]Rejection(nil), f.rejections...)
		f.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("capitest: waited %s for %d events, got %d; rejections: %+v", timeout, n, got, rejected)
			return nil
		}
	}
}

// record stores accepted events and wakes waiters.
func (f *Fake) record(events ...Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		f.events = append(f.events, e)
		f.counts[e.ID]++
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// reject stores a refusal and writes it as the answer.
func (f *Fake) reject(w http.ResponseWriter, status int, body any, reason string) {
	b, _ := json.Marshal(body) // bodies are maps and slices of plain values
	f.mu.Lock()
	f.rejections = append(f.rejections, Rejection{Status: status, Body: string(b), Reason: reason})
	f.mu.Unlock()
	writeJSON(w, status, json.RawMessage(b))
}

// drop stores a refusal that is not visible to the client (GA4).
func (f *Fake) drop(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejections = append(f.rejections, Rejection{Status: http.StatusNoContent, Reason: reason})
}

// readAll reads a request body, up to a bound no test payload comes near.
func readAll(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("cannot read the body: %v", err)
	}
	return b, nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var hashRE = regexp.MustCompile(`^[a-f0-9]{64}$`)

// emptySHA256 is sha256(""), which the spec says is never a real value.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// validHash reports whether s is a lowercase SHA-256 hex digest other than
// the digest of the empty string.
func validHash(s string) bool {
	return hashRE.MatchString(s) && s != emptySHA256
}

// looksHashed reports whether s looks like a SHA-256 digest, in any case.
func looksHashed(s string) bool {
	return len(s) == 64 && hashRE.MatchString(lower(s))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// stringsOf returns v as a list of strings: a string gives one, a list of
// strings gives them all; ok is false for anything else.
func stringsOf(v any) (out []string, ok bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []any:
		for _, e := range t {
			s, isString := e.(string)
			if !isString {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// keysOf returns m's keys in sorted order, so messages come out stable.
func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// integer returns v as an int64 when it is a JSON number without a fraction.
func integer(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// number reports whether v is a JSON number.
func number(v any) bool {
	_, ok := v.(json.Number)
	return ok
}

// decodeObject decodes a JSON object keeping numbers as json.Number, so
// integers and decimals can be told apart.
func decodeObject(b []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// randomID returns a request or trace id that differs between calls.
func (f *Fake) randomID(prefix string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%s%d%06d", prefix, f.requests, time.Now().Nanosecond()/1000)
}
