package capi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/capi/capitest"
)

type tiktokBundle struct {
	fake   *capitest.TikTok
	client *capi.TikTok
	creds  capi.TikTokCredentials
	clock  *clock
}

func setupTikTok(t *testing.T) *tiktokBundle {
	t.Helper()
	c := newClock()
	fake := capitest.NewTikTok(t)
	fake.SetAccessToken("tt-token")
	fake.SetPixels("CPIXEL123")
	fake.SetClock(c.Now)
	return &tiktokBundle{
		fake:   fake,
		client: capi.NewTikTok(fake.URL, &http.Client{Timeout: 2 * time.Second}, capi.WithClock(c.Now)),
		creds:  capi.TikTokCredentials{PixelCode: "CPIXEL123", AccessToken: "tt-token"},
		clock:  c,
	}
}

func TestTikTokSend(t *testing.T) {
	t.Parallel()

	t.Run("delivers what the fake accepts", func(t *testing.T) {
		t.Parallel()
		b := setupTikTok(t)
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		require.NoError(t, res.Err())
		require.Contains(t, res.Outcomes[0].Response, `"code":0`)
		events := b.fake.Events()
		require.Len(t, events, 1)
		require.Equal(t, "a", events[0].ID)
		user := events[0].Fields["user"].(map[string]any)
		require.Equal(t, "E.C.P.a", user["ttclid"])
		require.Equal(t, "ttp-a", user["ttp"])
		require.Equal(t, capi.Hash("+16505551212"), user["phone"])
		require.Equal(t, capi.Hash("u-a"), user["external_id"])
	})

	t.Run("batches of at most 1000", func(t *testing.T) {
		t.Parallel()
		b := setupTikTok(t)
		res := b.client.Send(context.Background(), b.creds, conversions(1500, b.clock.Now()))
		require.NoError(t, res.Err())
		require.Equal(t, 2, b.fake.Requests())
		require.Len(t, b.fake.CountByEventID(), 1500)
	})

	t.Run("a batch TikTok rejects is resent event by event", func(t *testing.T) {
		t.Parallel()
		b := setupTikTok(t)
		b.fake.FailNext(2, capitest.TikTokError(40002, "Batch.1.properties.contents.0.content_id: Not a valid string"))
		res := b.client.Send(context.Background(), b.creds, conversions(3, b.clock.Now()))
		require.Equal(t, 4, b.fake.Requests())
		require.Equal(t, 2, res.Delivered())
		require.Len(t, b.fake.CountByEventID(), 2)
	})
}

func TestTikTokFaults(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		fault     capitest.Fault
		retryable bool
		status    int
		code      string
	}{
		{"rate limit 40100 in an HTTP 200", capitest.TikTokRateLimited(), true, 200, "40100"},
		{"no permission 40001", capitest.TikTokNoPermission("CPIXEL123"), false, 200, "40001"},
		{"invalid parameters 40002", capitest.TikTokError(40002, "Batch.0.event: Missing data for required field."), false, 200, "40002"},
		{"server error 50002", capitest.TikTokError(50002, "Internal error"), true, 200, "50002"},
		{"unknown code", capitest.TikTokError(40105, "The access token is invalid"), false, 200, "40105"},
		{"HTTP 500", capitest.ServerError(), true, 500, ""},
		{"HTTP 429", capitest.TooManyRequests(0), true, 429, ""},
		{"not JSON", capitest.Fault{Status: 200, Body: "<html>maintenance</html>"}, true, 200, "unexpected_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupTikTok(t)
			b.fake.FailNext(1, tt.fault)
			res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
			err := res.Outcomes[0].Err
			require.NotNil(t, err)
			require.Equal(t, capi.PlatformTikTok, err.Platform)
			require.Equal(t, tt.retryable, err.Retryable, err.Error())
			require.Equal(t, tt.status, err.StatusCode)
			require.Equal(t, tt.code, err.Code)
			require.Empty(t, b.fake.Events())
		})
	}
}

func TestTikTokCodeTwentyThousandOneIsSuccess(t *testing.T) {
	t.Parallel()

	b := setupTikTok(t)
	b.fake.FailNext(1, capitest.TikTokError(20001, "partial success"))
	res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
	require.NoError(t, res.Err(), "rudder-transformer treats 20001 as success (§4.5)")
}

func TestTikTokTest(t *testing.T) {
	t.Parallel()

	t.Run("with a test event code", func(t *testing.T) {
		t.Parallel()
		b := setupTikTok(t)
		b.creds.TestEventCode = "TEST777"
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.True(t, rep.OK, rep.String())
		require.Contains(t, rep.Summary, "TEST777")
		require.Equal(t, "TEST777", b.fake.Events()[0].TestEventCode)
	})

	t.Run("without one nothing is sent", func(t *testing.T) {
		t.Parallel()
		b := setupTikTok(t)
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.ErrorIs(t, rep.Err, capi.ErrCredentials)
		require.Zero(t, b.fake.Requests())
	})

	t.Run("TikTok's refusal is shown", func(t *testing.T) {
		t.Parallel()
		b := setupTikTok(t)
		b.creds.TestEventCode = "TEST777"
		b.creds.PixelCode = "COTHER"
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.Equal(t, "40001", rep.Err.Code)
		require.Contains(t, rep.Summary, "No permission to operate pixel code: COTHER")
	})
}
