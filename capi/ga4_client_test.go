package capi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/capi/capitest"
)

type ga4Bundle struct {
	fake   *capitest.GA4
	client *capi.GA4
	creds  capi.GA4Credentials
	clock  *clock
}

func setupGA4(t *testing.T) *ga4Bundle {
	t.Helper()
	c := newClock()
	fake := capitest.NewGA4(t)
	fake.SetAPISecret("mp-secret")
	fake.SetClock(c.Now)
	return &ga4Bundle{
		fake:   fake,
		client: capi.NewGA4(fake.URL, &http.Client{Timeout: 2 * time.Second}, capi.WithClock(c.Now)),
		creds:  capi.GA4Credentials{MeasurementID: "G-ABC123", APISecret: "mp-secret"},
		clock:  c,
	}
}

func ga4Conversion(id string, at time.Time) capi.Event {
	ev := conversion(id, at)
	ev.EventName = "purchase"
	return ev
}

func TestGA4Send(t *testing.T) {
	t.Parallel()

	t.Run("delivers what the fake accepts", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		ev := ga4Conversion("a", b.clock.Now())
		ev.User.FirstName, ev.User.City, ev.User.Country = "Mary", "New York", "US"
		res := b.client.Send(context.Background(), b.creds, []capi.Event{ev})
		require.NoError(t, res.Err())
		require.Equal(t, http.StatusNoContent, res.Outcomes[0].StatusCode)
		require.Empty(t, b.fake.Rejections(), "nothing was silently dropped")
		events := b.fake.Events()
		require.Len(t, events, 1)
		require.Equal(t, "a", events[0].ID)
		require.Equal(t, "purchase", events[0].Name)
		require.Equal(t, b.clock.Now().UnixMicro(), events[0].Time.UnixMicro())
	})

	t.Run("one visitor's events share requests of 25", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		evs := make([]capi.Event, 30)
		for i := range evs {
			evs[i] = ga4Conversion(fmt.Sprintf("ev-%d", i), b.clock.Now())
			evs[i].User = capi.UserData{}
		}
		res := b.client.Send(context.Background(), b.creds, evs)
		require.NoError(t, res.Err())
		require.Equal(t, 2, b.fake.Requests())
		require.Len(t, b.fake.CountByEventID(), 30)
	})

	t.Run("different visitors go in separate requests", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		evs := make([]capi.Event, 3)
		for i := range evs {
			evs[i] = ga4Conversion(fmt.Sprintf("ev-%d", i), b.clock.Now())
			evs[i].Click.GAClientID = fmt.Sprintf("%d.1699999999", 100+i)
		}
		res := b.client.Send(context.Background(), b.creds, evs)
		require.NoError(t, res.Err())
		require.Equal(t, 3, b.fake.Requests(), "client_id is per request")
		require.Len(t, b.fake.CountByEventID(), 3)
	})

	t.Run("an event GA4 would drop silently is refused", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		ev := ga4Conversion("old", b.clock.Now().Add(-80*time.Hour))
		res := b.client.Send(context.Background(), b.creds, []capi.Event{ev})
		require.ErrorIs(t, res.Err(), capi.ErrInvalidEvent)
		require.Zero(t, b.fake.Requests())
	})

	t.Run("a wrong API secret cannot be seen from production GA4", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		b.creds.APISecret = "wrong"
		res := b.client.Send(context.Background(), b.creds, []capi.Event{ga4Conversion("a", b.clock.Now())})
		require.NoError(t, res.Err(), "GA4 answers 204 to everything")
		require.Empty(t, b.fake.Events())
		require.Equal(t, "api_secret is missing or wrong", b.fake.Rejections()[0].Reason)
	})

	t.Run("the API secret never shows in an error", func(t *testing.T) {
		t.Parallel()
		fake := capitest.NewGA4(nil)
		url := fake.URL
		fake.Close()
		res := capi.NewGA4(url, nil).Send(context.Background(), capi.GA4Credentials{MeasurementID: "G-1", APISecret: "top-secret"}, []capi.Event{ga4Conversion("a", time.Now())})
		require.True(t, capi.IsRetryable(res.Err()))
		require.NotContains(t, res.Err().Error(), "top-secret")
		require.NotContains(t, res.Outcomes[0].Err.Message, "top-secret")
	})
}

func TestGA4Faults(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		fault      capitest.Fault
		retryable  bool
		status     int
		retryAfter time.Duration
	}{
		{"500", capitest.ServerError(), true, 500, 0},
		{"503", capitest.Unavailable(), true, 503, 0},
		{"429", capitest.TooManyRequests(10 * time.Second), true, 429, 10 * time.Second},
		{"403 is a configuration problem", capitest.Fault{Status: 403, Body: `{"error":"forbidden"}`}, false, 403, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupGA4(t)
			b.fake.FailNext(1, tt.fault)
			res := b.client.Send(context.Background(), b.creds, []capi.Event{ga4Conversion("a", b.clock.Now())})
			err := res.Outcomes[0].Err
			require.NotNil(t, err)
			require.Equal(t, tt.retryable, err.Retryable)
			require.Equal(t, tt.status, err.StatusCode)
			require.Equal(t, tt.retryAfter, err.RetryAfter)
			require.Empty(t, b.fake.Events())
		})
	}
}

func TestGA4Test(t *testing.T) {
	t.Parallel()

	t.Run("valid event", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		rep := b.client.Test(context.Background(), b.creds, ga4Conversion("t", b.clock.Now()))
		require.True(t, rep.OK, rep.String())
		require.Empty(t, rep.Messages)
		require.Contains(t, rep.Summary, "validation server")
		require.Empty(t, b.fake.Events(), "the debug endpoint records nothing")
	})

	t.Run("validation messages are shown", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		b.fake.FailNext(1, capitest.Fault{Status: 200, Body: `{"validationMessages":[
			{"fieldPath":"events","description":"Event at index: [0] has name [first_open] which is reserved.","validationCode":"NAME_RESERVED"},
			{"description":"Unable to parse Measurement Protocol JSON payload.","validationCode":"VALUE_INVALID"}]}`})
		rep := b.client.Test(context.Background(), b.creds, ga4Conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.Equal(t, []string{
			"Event at index: [0] has name [first_open] which is reserved. (NAME_RESERVED at events)",
			"Unable to parse Measurement Protocol JSON payload. (VALUE_INVALID)",
		}, rep.Messages)
		require.Equal(t, "NAME_RESERVED", rep.Err.Code)
		require.Contains(t, rep.String(), "- Event at index: [0]")
	})

	t.Run("an event capi refuses is not sent", func(t *testing.T) {
		t.Parallel()
		b := setupGA4(t)
		ev := ga4Conversion("t", b.clock.Now())
		ev.EventName = "first_open"
		rep := b.client.Test(context.Background(), b.creds, ev)
		require.False(t, rep.OK)
		require.ErrorIs(t, rep.Err, capi.ErrInvalidEvent)
		require.Zero(t, b.fake.Requests())
	})
}
