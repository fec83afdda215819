package capi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors a caller branches on with errors.Is. They are wrapped in an
// [*Error], which carries the details.
var (
	// ErrInvalidEvent marks an event capi did not send because the platform
	// would reject it (too old, missing a field the platform requires, a name
	// the platform forbids). Permanent: the data must change.
	ErrInvalidEvent = errors.New("event rejected before sending")

	// ErrSkipped marks an event that cannot go to this platform at all, such
	// as a conversion without any Google click id or user identifier for
	// Google Ads. The delivery is SKIPPED rather than FAILED.
	ErrSkipped = errors.New("event does not apply to this platform")

	// ErrCredentials marks a destination whose credentials are incomplete or
	// malformed, found before anything was sent. Permanent until a person
	// fixes the destination.
	ErrCredentials = errors.New("destination credentials incomplete")

	// ErrPlatform marks an error the platform answered.
	ErrPlatform = errors.New("platform rejected the request")

	// ErrTransport marks a request that got no usable answer: network error,
	// timeout, cancellation, or a body that could not be read.
	ErrTransport = errors.New("no answer from the platform")
)

// maxMessage bounds Error.Message, which is shown to people in the Events Log.
const maxMessage = 300

// Error is why an event was not delivered, sorted by the platform's rules of
// specs/capi.md into retryable or permanent, with what the platform said.
type Error struct {
	// Platform is the platform that was being called.
	Platform Platform

	// Retryable reports whether the same event may succeed later unchanged:
	// network errors, timeouts, 429, 5xx, and the platform's own transient
	// and throttling codes. Permanent errors need a person to fix the event
	// or the destination.
	Retryable bool

	// RetryAfter is the wait the platform asked for (a Retry-After header,
	// or six hours for Google Ads' TOO_RECENT_* codes); zero when it did not
	// say, and the caller's backoff applies.
	RetryAfter time.Duration

	// StatusCode is the HTTP status of the answer; zero when none came.
	StatusCode int

	// Code is the platform's error code, as it names it: "100/2804003" for
	// Meta (code/subcode), "CLICK_NOT_FOUND" for Google Ads, "40002" for
	// TikTok, "invalid_grant" for Google OAuth. capi's own codes: "network",
	// "timeout" and "canceled" when no answer came, "unexpected_response" for
	// an answer in no known shape, and "invalid_event", "skipped" and
	// "credentials" when nothing was sent. Empty when only the HTTP status
	// speaks.
	Code string

	// Message is the platform's own message (or capi's reason), bounded to a
	// few hundred bytes for the Events Log.
	Message string

	// Response is a bounded excerpt of the platform's raw answer.
	Response string

	// Err is the sentinel (ErrPlatform, ErrTransport, ErrInvalidEvent,
	// ErrSkipped, ErrCredentials), or the underlying network error.
	Err error
}

// Error renders the error on one line for logs: platform, status, code,
// message, and whether it will be retried.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(string(e.Platform)))
	b.WriteString(": ")
	if e.StatusCode != 0 {
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(": ")
	}
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Retryable {
		b.WriteString(" (retryable)")
	} else {
		b.WriteString(" (permanent)")
	}
	return b.String()
}

// Unwrap returns the sentinel or underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is an [*Error] that may succeed later.
// Errors of other types are treated as retryable: they can only come from the
// caller's side (a cancelled context, say), never from a platform's verdict.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return err != nil
}

// RetryAfter returns the wait the platform asked for, or zero.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Outcome is what became of one event of a Send, written to the event's
// Delivery as one attempt.
type Outcome struct {
	// EventID is the event's EventID, to tie the outcome back.
	EventID string

	// Err is nil when the platform accepted the event (or already had it, see
	// Duplicate), and says why not otherwise.
	Err *Error

	// Duplicate reports that the platform refused the event because it
	// already had it — Google Ads' CLICK_CONVERSION_ALREADY_EXISTS and
	// ORDER_ID_ALREADY_IN_USE — which means an earlier attempt landed: the
	// event counts as delivered and must not be retried.
	Duplicate bool

	// StatusCode is the HTTP status of the request that carried the event;
	// zero when the event was never sent.
	StatusCode int

	// Response is a bounded excerpt of that request's answer, for the
	// attempt log.
	Response string
}

// Delivered reports whether the platform has the event.
func (o Outcome) Delivered() bool { return o.Err == nil }

// Result is what Send reports: one Outcome per event, in the order of the
// events given.
type Result struct {
	Outcomes []Outcome
}

// Delivered counts the events the platform has.
func (r Result) Delivered() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Delivered() {
			n++
		}
	}
	return n
}

// Err returns nil when every event was delivered, else the first event's
// error — the convenient form when Send was given a single event.
func (r Result) Err() error {
	for _, o := range r.Outcomes {
		if o.Err != nil {
			return o.Err
		}
	}
	return nil
}

// newResult returns a Result with one Outcome per event, EventIDs filled in.
func newResult(events []Event) Result {
	r := Result{Outcomes: make([]Outcome, len(events))}
	for i := range events {
		r.Outcomes[i].EventID = events[i].EventID
	}
	return r
}

// failAll gives every outcome err.
func (r Result) failAll(err *Error) {
	for i := range r.Outcomes {
		r.setErr(i, err)
	}
}

// setErr records err on outcome i, with the status and response of the
// request when there was one.
func (r Result) setErr(i int, err *Error) {
	r.Outcomes[i].Err = err
	r.Outcomes[i].StatusCode = err.StatusCode
	r.Outcomes[i].Response = err.Response
}

// deliver records the answer r on the outcomes of the events idx it carried.
func (r Result) deliver(idx []int, rep *reply) {
	excerpt := rep.excerpt()
	for _, i := range idx {
		r.Outcomes[i].StatusCode, r.Outcomes[i].Response = rep.status, excerpt
	}
}

// TestReport is what a platform answered to a test event, for a person to
// read on the destination's page.
type TestReport struct {
	// OK reports whether the platform accepted the test event.
	OK bool
	// Summary is one sentence saying what happened and where to look.
	Summary string
	// Messages are the platform's own validation messages or warnings, one
	// per line (GA4's validationMessages, Google Ads' errors, Meta's messages).
	Messages []string
	// StatusCode and Response are the raw answer, bounded.
	StatusCode int
	Response   string
	// Err is why the test failed, nil when OK.
	Err *Error
}

// String renders the report as text: the summary, then one message a line.
func (r TestReport) String() string {
	var b strings.Builder
	b.WriteString(r.Summary)
	for _, m := range r.Messages {
		b.WriteString("\n- ")
		b.WriteString(m)
	}
	return b.String()
}

// failedReport turns an error into a report.
func failedReport(err *Error) TestReport {
	return TestReport{
		Summary:    err.Message,
		StatusCode: err.StatusCode,
		Response:   err.Response,
		Err:        err,
	}
}

// invalid returns the permanent ErrInvalidEvent error of platform p.
func invalid(p Platform, format string, args ...any) *Error {
	return &Error{Platform: p, Code: "invalid_event", Message: fmt.Sprintf(format, args...), Err: ErrInvalidEvent}
}

// skipped returns the permanent ErrSkipped error of platform p.
func skipped(p Platform, format string, args ...any) *Error {
	return &Error{Platform: p, Code: "skipped", Message: fmt.Sprintf(format, args...), Err: ErrSkipped}
}

// badCredentials returns the permanent ErrCredentials error of platform p.
func badCredentials(p Platform, format string, args ...any) *Error {
	return &Error{Platform: p, Code: "credentials", Message: fmt.Sprintf(format, args...), Err: ErrCredentials}
}

// shortMessage bounds a platform message for the Events Log.
func shortMessage(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	return truncate(s, maxMessage-3) + "..."
}
