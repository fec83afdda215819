package capi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/capi/capitest"
)

// clock is a controllable time shared by a client and a fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// conversion returns a valid website purchase at time at.
func conversion(id string, at time.Time) capi.Event {
	return capi.Event{
		EventID:        id,
		EventName:      "Purchase",
		Time:           at,
		Value:          49_990_000,
		Currency:       "USD",
		OrderID:        "tx-" + id,
		SourceURL:      "https://shop.example/landing",
		ClientIP:       "203.0.113.7",
		UserAgent:      "Mozilla/5.0 (X11; Linux x86_64)",
		DefaultCountry: "US",
		User:           capi.UserData{Email: "Buyer@Example.com", Phone: "(650) 555-1212", ExternalID: "u-" + id},
		Click: capi.Click{
			FBClid: "IwAR" + id, FBP: "fb.1.1596403881668.1116446470", Time: at.Add(-time.Hour),
			Gclid: "Cj0KCQiA" + id, Ttclid: "E.C.P." + id, TTP: "ttp-" + id,
			GAClientID: "GA1.1.1234567890.1699999999", GASessionID: "1762900000",
		},
	}
}

func conversions(n int, at time.Time) []capi.Event {
	evs := make([]capi.Event, n)
	for i := range evs {
		evs[i] = conversion(fmt.Sprintf("ev-%04d", i), at)
	}
	return evs
}

type metaBundle struct {
	fake   *capitest.Meta
	client *capi.Meta
	creds  capi.MetaCredentials
	clock  *clock
}

func setupMeta(t *testing.T, opts ...capi.Option) *metaBundle {
	t.Helper()
	c := newClock()
	fake := capitest.NewMeta(t)
	fake.SetAccessToken("EAAB-token")
	fake.SetPixels("1234567890")
	fake.SetClock(c.Now)
	client := capi.NewMeta(fake.URL, &http.Client{Timeout: 2 * time.Second}, append([]capi.Option{capi.WithClock(c.Now)}, opts...)...)
	return &metaBundle{fake: fake, client: client, creds: capi.MetaCredentials{PixelID: "1234567890", AccessToken: "EAAB-token"}, clock: c}
}

func TestMetaSend(t *testing.T) {
	t.Parallel()

	t.Run("delivers and the fake accepts every field", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		require.NoError(t, res.Err())
		require.Equal(t, 1, res.Delivered())
		o := res.Outcomes[0]
		require.Equal(t, "a", o.EventID)
		require.Equal(t, http.StatusOK, o.StatusCode)
		require.Contains(t, o.Response, `"events_received":1`)
		events := b.fake.Events()
		require.Len(t, events, 1)
		require.Equal(t, "a", events[0].ID)
		require.Empty(t, events[0].TestEventCode)
		user := events[0].Fields["user_data"].(map[string]any)
		require.Equal(t, []any{capi.Hash("buyer@example.com")}, user["em"])
		require.Equal(t, []any{capi.Hash("16505551212")}, user["ph"])
		require.True(t, strings.HasPrefix(user["fbc"].(string), "fb.1."))
	})

	t.Run("test event code from the credentials travels with every request", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		b.creds.TestEventCode = "TEST123"
		res := b.client.Send(context.Background(), b.creds, conversions(2, b.clock.Now()))
		require.NoError(t, res.Err())
		for _, e := range b.fake.Events() {
			require.Equal(t, "TEST123", e.TestEventCode)
		}
	})

	t.Run("batches of at most 1000", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		res := b.client.Send(context.Background(), b.creds, conversions(2500, b.clock.Now()))
		require.NoError(t, res.Err())
		require.Equal(t, 2500, res.Delivered())
		require.Equal(t, 3, b.fake.Requests())
		counts := b.fake.CountByEventID()
		require.Len(t, counts, 2500)
		for id, n := range counts {
			require.Equal(t, 1, n, id)
		}
	})

	t.Run("an invalid event fails alone, before sending", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		evs := conversions(3, b.clock.Now())
		evs[1].Time = b.clock.Now().Add(-8 * 24 * time.Hour)
		res := b.client.Send(context.Background(), b.creds, evs)
		require.True(t, res.Outcomes[0].Delivered())
		require.True(t, res.Outcomes[2].Delivered())
		err := res.Outcomes[1].Err
		require.ErrorIs(t, err, capi.ErrInvalidEvent)
		require.False(t, err.Retryable)
		require.Zero(t, res.Outcomes[1].StatusCode, "never sent")
		require.Equal(t, 1, b.fake.Requests())
		require.Len(t, b.fake.Events(), 2)
	})

	t.Run("a batch Meta rejects as invalid is resent event by event", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		b.fake.FailNext(1, capitest.MetaError(http.StatusBadRequest, 100, 2804019, "Invalid parameter", false))
		b.fake.FailNext(1, capitest.MetaError(http.StatusBadRequest, 100, 2804019, "Invalid parameter", false))
		res := b.client.Send(context.Background(), b.creds, conversions(3, b.clock.Now()))
		require.Equal(t, 4, b.fake.Requests(), "one batch, then three single events")
		require.Equal(t, 2, res.Delivered())
		var failed int
		for _, o := range res.Outcomes {
			if o.Err != nil {
				failed++
				require.Equal(t, "100/2804019", o.Err.Code)
				require.False(t, o.Err.Retryable)
			}
		}
		require.Equal(t, 1, failed)
		require.Len(t, b.fake.CountByEventID(), 2)
	})

	t.Run("credentials checked before sending", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		res := b.client.Send(context.Background(), capi.MetaCredentials{PixelID: "px", AccessToken: "t"}, conversions(2, b.clock.Now()))
		for _, o := range res.Outcomes {
			require.ErrorIs(t, o.Err, capi.ErrCredentials)
		}
		require.Zero(t, b.fake.Requests())
	})
}

func TestMetaFaults(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		fault      capitest.Fault
		retryable  bool
		status     int
		code       string
		retryAfter time.Duration
	}{
		{"500", capitest.ServerError(), true, 500, "", 0},
		{"503", capitest.Unavailable(), true, 503, "", 0},
		{"429 with Retry-After", capitest.TooManyRequests(90 * time.Second), true, 429, "", 90 * time.Second},
		{"throttled (17)", capitest.MetaRateLimited(), true, 400, "17", 0},
		{"temporary (2)", capitest.MetaTemporary(), true, 500, "2", 0},
		{"bad token (190)", capitest.MetaTokenInvalid(), false, 400, "190", 0},
		{"timestamp too old", capitest.MetaTimestampTooOld(), false, 400, "100/2804003", 0},
		{"unknown pixel (100/33)", capitest.MetaError(400, 100, 33, "Unsupported post request.", false), false, 400, "100/33", 0},
		{"slow beyond the client timeout", capitest.Slow(5 * time.Second), true, 0, "timeout", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			fake := capitest.NewMeta(t)
			client := capi.NewMeta(fake.URL, &http.Client{Timeout: 200 * time.Millisecond}, capi.WithClock(c.Now))
			fake.FailNext(1, tt.fault)
			res := client.Send(context.Background(), capi.MetaCredentials{PixelID: "1", AccessToken: "t"}, []capi.Event{conversion("a", c.Now())})
			err := res.Outcomes[0].Err
			require.NotNil(t, err)
			require.Equal(t, capi.PlatformMeta, err.Platform)
			require.Equal(t, tt.retryable, err.Retryable, err.Error())
			require.Equal(t, tt.retryable, capi.IsRetryable(res.Err()))
			require.Equal(t, tt.status, err.StatusCode)
			require.Equal(t, tt.status, res.Outcomes[0].StatusCode)
			require.Equal(t, tt.code, err.Code)
			require.Equal(t, tt.retryAfter, err.RetryAfter)
			require.Equal(t, tt.retryAfter, capi.RetryAfter(res.Err()))
			require.LessOrEqual(t, len(err.Response), 1024)
			require.LessOrEqual(t, len(err.Message), 300)
			require.NotContains(t, err.Error(), "EAAB", "no secret in error text")
			require.Equal(t, 1, fake.Requests(), "capi makes one attempt; retrying is the caller's job")
			require.Empty(t, fake.Events())

			res = client.Send(context.Background(), capi.MetaCredentials{PixelID: "1", AccessToken: "t"}, []capi.Event{conversion("a", c.Now())})
			require.NoError(t, res.Err(), "the fault is over")
			require.Equal(t, map[string]int{"a": 1}, fake.CountByEventID())
		})
	}
}

func TestMetaDownUntilUp(t *testing.T) {
	t.Parallel()

	b := setupMeta(t)
	b.fake.Down(capitest.Unavailable())
	for range 3 {
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		require.True(t, capi.IsRetryable(res.Err()))
	}
	b.fake.Up()
	res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
	require.NoError(t, res.Err())
	require.Equal(t, map[string]int{"a": 1}, b.fake.CountByEventID(), "exactly one delivery once it recovers")
}

func TestMetaTransportErrors(t *testing.T) {
	t.Parallel()

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		fake := capitest.NewMeta(nil)
		url := fake.URL
		fake.Close()
		res := capi.NewMeta(url, nil).Send(context.Background(), capi.MetaCredentials{PixelID: "1", AccessToken: "secret-token"}, []capi.Event{conversion("a", time.Now())})
		err := res.Outcomes[0].Err
		require.ErrorIs(t, err, capi.ErrTransport)
		require.True(t, err.Retryable)
		require.Equal(t, "network", err.Code)
		require.NotContains(t, err.Error(), "secret-token")
	})

	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		fake := capitest.NewMeta(t)
		ctx, cancel := context.WithCancel(context.Background())
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			cancel() // the job is being stopped while the request is in flight
			return http.DefaultTransport.RoundTrip(r)
		})}
		res := capi.NewMeta(fake.URL, hc).Send(ctx, capi.MetaCredentials{PixelID: "1", AccessToken: "t"}, []capi.Event{conversion("a", time.Now())})
		err := res.Outcomes[0].Err
		require.Equal(t, "canceled", err.Code)
		require.True(t, err.Retryable)
	})
}

func TestMetaTest(t *testing.T) {
	t.Parallel()

	t.Run("with a test event code", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		b.creds.TestEventCode = "TEST42"
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.True(t, rep.OK, rep.String())
		require.Nil(t, rep.Err)
		require.Contains(t, rep.Summary, "TEST42")
		require.Equal(t, http.StatusOK, rep.StatusCode)
		events := b.fake.Events()
		require.Len(t, events, 1)
		require.Equal(t, "TEST42", events[0].TestEventCode)
	})

	t.Run("without one nothing is sent", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.ErrorIs(t, rep.Err, capi.ErrCredentials)
		require.Contains(t, rep.Summary, "test event code")
		require.Zero(t, b.fake.Requests())
	})

	t.Run("Meta's refusal is shown", func(t *testing.T) {
		t.Parallel()
		b := setupMeta(t)
		b.creds.TestEventCode = "TEST42"
		b.creds.AccessToken = "wrong"
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.Equal(t, "190", rep.Err.Code)
		require.Equal(t, "The access token could not be decrypted", rep.Summary)
		require.Contains(t, rep.Response, "OAuthException")
	})
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
