package capi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxExcerpt bounds the response excerpt kept for a Delivery's attempt log.
const maxExcerpt = 1024

// maxResponse bounds how much of a response is read. A full Google Ads answer
// for 2000 conversions is well under a megabyte.
const maxResponse = 8 << 20

// defaultHTTPClient is used when a client is created with a nil *http.Client:
// a request that hangs must not hold a worker forever.
var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

// Option tunes a client. The defaults suit production.
type Option func(*options)

type options struct {
	now         func() time.Time
	version     string
	concurrency int
}

// WithClock sets the clock used to judge event ages and token expiry; tests
// pass a fixed or controllable clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithAPIVersion overrides the platform API version in request paths (Meta
// "v25.0", Google Ads "v23"). GA4 and TikTok paths carry fixed versions and
// ignore it.
func WithAPIVersion(v string) Option {
	return func(o *options) { o.version = v }
}

// WithConcurrency sets how many requests one Send may have in flight when it
// needs several (more events than one request holds, GA4 visitors, isolating
// a rejected batch). The default is 4; values below 1 mean 1.
func WithConcurrency(n int) Option {
	return func(o *options) { o.concurrency = max(n, 1) }
}

// client is what every platform client shares: where to send, with what, and
// how to read the answer.
type client struct {
	platform Platform
	base     string
	hc       *http.Client
	opts     options
}

func newClient(p Platform, baseURL, defaultURL, version string, hc *http.Client, opts []Option) client {
	if baseURL == "" {
		baseURL = defaultURL
	}
	if hc == nil {
		hc = defaultHTTPClient
	}
	o := options{now: time.Now, version: version, concurrency: 4}
	for _, opt := range opts {
		opt(&o)
	}
	return client{platform: p, base: strings.TrimRight(baseURL, "/"), hc: hc, opts: o}
}

// now returns the client's current time.
func (c *client) now() time.Time { return c.opts.now() }

// reply is a platform's answer, read in full (up to maxResponse).
type reply struct {
	status int
	header http.Header
	body   []byte
}

// excerpt returns the start of the body, at most maxExcerpt bytes, cut on a
// UTF-8 boundary, for the attempt log.
func (r *reply) excerpt() string {
	return excerpt(r.body)
}

func excerpt(body []byte) string {
	// Replace invalid bytes first: each becomes a 3-byte U+FFFD, so cutting
	// before replacing could overrun the bound.
	b := strings.ToValidUTF8(string(bytes.TrimSpace(body)), "\uFFFD")
	if len(b) <= maxExcerpt {
		return b
	}
	return truncate(b, maxExcerpt-3) + "..."
}

// retryAfter reads the Retry-After header: delay-seconds or an HTTP date.
func (r *reply) retryAfter(now time.Time) time.Duration {
	return parseRetryAfter(r.header.Get("Retry-After"), now)
}

// maxRetryAfter bounds a Retry-After: a platform's wait of more than a week
// is a malformed header, not a plan.
const maxRetryAfter = 7 * 24 * time.Hour

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, maxRetryAfter)
}

// do sends one request and reads the answer. Any failure to get an answer is
// a retryable ErrTransport error whose message never contains the URL: GA4's
// API secret travels in the query string, and error text ends up in the
// Events Log.
func (c *client) do(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*reply, *Error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Platform: c.platform, Code: "request", Message: "cannot build the request: check the API base URL", Err: ErrCredentials}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		e := c.transportError(ctx, err)
		e.StatusCode = resp.StatusCode
		return nil, e
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// transportError classifies a failure to get an answer. All of them are
// retryable: the platform never judged the event.
func (c *client) transportError(ctx context.Context, err error) *Error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // drop the URL and its secrets
	}
	e := &Error{Platform: c.platform, Retryable: true, Code: "network", Message: shortMessage(err.Error()), Err: ErrTransport}
	var nerr net.Error
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		e.Code, e.Message = "canceled", "the request was canceled before the platform answered"
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()):
		e.Code, e.Message = "timeout", "the platform did not answer in time"
	}
	return e
}

// statusError classifies an HTTP status alone, for answers without a body the
// platform's rules can read: 408, 425, 429 and 5xx are retryable.
func (c *client) statusError(r *reply, code, message string) *Error {
	e := &Error{
		Platform:   c.platform,
		StatusCode: r.status,
		Code:       code,
		Message:    shortMessage(message),
		Response:   r.excerpt(),
		Retryable:  retryableStatus(r.status),
		RetryAfter: r.retryAfter(c.now()),
		Err:        ErrPlatform,
	}
	if e.Message == "" {
		e.Message = http.StatusText(r.status)
	}
	return e
}

func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooEarly ||
		status == http.StatusTooManyRequests || status >= 500
}

// parallel calls fn(0) … fn(n-1) with at most limit calls running at once
// and returns when all have returned. fn must only touch state of its own
// index.
func parallel(n, limit int, fn func(i int)) {
	if n == 1 || limit <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// chunks splits idx into slices of at most size elements.
func chunks(idx []int, size int) [][]int {
	var out [][]int
	for len(idx) > size {
		out = append(out, idx[:size:size])
		idx = idx[size:]
	}
	if len(idx) > 0 {
		out = append(out, idx)
	}
	return out
}

// sendTime returns the time to report for an event: its own time, or now if
// that lies in the future (a network's clock running ahead).
func sendTime(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}
