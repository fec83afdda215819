package capi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/capi/capitest"
)

func TestGoogleAdsAdjust(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// uploaded returns a bundle holding conversion ev, uploaded an hour ago.
	uploaded := func(t *testing.T, id string) (*adsBundle, capi.Event) {
		t.Helper()
		b := setupAds(t)
		ev := conversion(id, b.clock.Now())
		require.NoError(t, b.client.Send(ctx, b.creds, []capi.Event{ev}).Err())
		b.clock.Add(time.Hour)
		return b, ev
	}

	t.Run("a retraction names the conversion by its order id, without a value", func(t *testing.T) {
		t.Parallel()
		b, ev := uploaded(t, "a")
		at := b.clock.Now().Add(-time.Minute)
		res := b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Retraction, Event: ev, At: at}})
		require.NoError(t, res.Err())
		require.Equal(t, http.StatusOK, res.Outcomes[0].StatusCode)
		require.Equal(t, "a", res.Outcomes[0].EventID)
		adjs := b.fake.Adjustments()
		require.Len(t, adjs, 1)
		require.Equal(t, "RETRACTION", adjs[0].Type)
		require.Equal(t, "tx-a", adjs[0].OrderID)
		require.Equal(t, "customers/1234567890/conversionActions/987654321", adjs[0].ConversionAction)
		require.Equal(t, at.Truncate(time.Second).UTC(), adjs[0].At.UTC())
		require.Equal(t, at.UTC().Format("2006-01-02 15:04:05+00:00"), adjs[0].Fields["adjustmentDateTime"])
		require.NotContains(t, adjs[0].Fields, "restatementValue")
		require.NotContains(t, adjs[0].Fields, "gclidDateTimePair")
	})

	t.Run("the same retraction again is done, and the fake holds one", func(t *testing.T) {
		t.Parallel()
		b, ev := uploaded(t, "a")
		adj := capi.Adjustment{Type: capi.Retraction, Event: ev, At: b.clock.Now()}
		require.NoError(t, b.client.Adjust(ctx, b.creds, []capi.Adjustment{adj}).Err())
		res := b.client.Adjust(ctx, b.creds, []capi.Adjustment{adj})
		require.NoError(t, res.Err())
		require.True(t, res.Outcomes[0].Duplicate)
		require.Len(t, b.fake.Adjustments(), 1)
	})

	t.Run("a restatement carries the new value and currency", func(t *testing.T) {
		t.Parallel()
		b, ev := uploaded(t, "a")
		res := b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Restatement, Event: ev, At: b.clock.Now(), Value: 20_000_000}})
		require.NoError(t, res.Err())
		adjs := b.fake.Adjustments()
		require.Len(t, adjs, 1)
		require.Equal(t, "RESTATEMENT", adjs[0].Type)
		require.Equal(t, 20.0, adjs[0].Value)
		require.Equal(t, "USD", adjs[0].Currency)
		// A retraction after the restatement still goes; a restatement
		// after the retraction cannot.
		require.NoError(t, b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Retraction, Event: ev, At: b.clock.Now().Add(time.Minute)}}).Err())
		res = b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Restatement, Event: ev, At: b.clock.Now().Add(2 * time.Minute), Value: 10_000_000}})
		var e *capi.Error
		require.ErrorAs(t, res.Err(), &e)
		require.Equal(t, "CONVERSION_ALREADY_RETRACTED", e.Code)
		require.False(t, e.Retryable)
	})

	t.Run("without an order id the gclid and conversion time identify it", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		ev := conversion("a", b.clock.Now())
		ev.OrderID, ev.EventID = "", ""
		require.NoError(t, b.client.Send(ctx, b.creds, []capi.Event{ev}).Err())
		b.clock.Add(time.Hour)
		require.NoError(t, b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Retraction, Event: ev}}).Err())
		adjs := b.fake.Adjustments()
		require.Len(t, adjs, 1)
		require.Equal(t, ev.Click.Gclid, adjs[0].Gclid)
		require.Equal(t, ev.Time.Truncate(time.Second).UTC().Format("2006-01-02 15:04:05+00:00"), adjs[0].ConversionDateTime)
		require.Empty(t, adjs[0].OrderID)
	})

	t.Run("an adjustment time not after the conversion moves past it", func(t *testing.T) {
		t.Parallel()
		b, ev := uploaded(t, "a")
		require.NoError(t, b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Retraction, Event: ev, At: ev.Time.Add(-time.Hour)}}).Err())
		require.Equal(t, ev.Time.Truncate(time.Second).Add(time.Second).UTC(), b.fake.Adjustments()[0].At.UTC())
	})

	errorCases := []struct {
		name      string
		setup     func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment)
		code      string
		retryable bool
		wait      time.Duration
		sentinel  error
	}{
		{
			name:      "an unknown conversion is not found, retried later (the upload may not be processed yet)",
			setup:     func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) { adj.Event.OrderID = "tx-never-uploaded" },
			code:      "CONVERSION_NOT_FOUND",
			retryable: true, wait: time.Hour, sentinel: capi.ErrPlatform,
		},
		{
			name: "a conversion too recent for Google waits a day",
			setup: func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) {
				b.fake.SetAdjustmentDelay(24 * time.Hour)
			},
			code:      "TOO_RECENT_CONVERSION",
			retryable: true, wait: 24 * time.Hour, sentinel: capi.ErrPlatform,
		},
		{
			name:     "a conversion older than 54 days has expired",
			setup:    func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) { b.clock.Add(55 * 24 * time.Hour) },
			code:     "CONVERSION_EXPIRED",
			sentinel: capi.ErrPlatform,
		},
		{
			name: "a deleted conversion action",
			setup: func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) {
				b.fake.SetConversionActions("111")
			},
			code:     "NO_CONVERSION_ACTION_FOUND",
			sentinel: capi.ErrPlatform,
		},
		{
			name: "an internal error row is retried",
			setup: func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) {
				b.fake.FailRow(ev.OrderID, "internalError", "INTERNAL_ERROR", "An internal error has occurred.")
			},
			code:      "INTERNAL_ERROR",
			retryable: true, sentinel: capi.ErrPlatform,
		},
		{
			name: "an outage is retried",
			setup: func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) {
				b.fake.FailNext(1, capitest.Unavailable())
			},
			retryable: true, sentinel: capi.ErrPlatform,
		},
		{
			name: "a request-level refusal is permanent",
			setup: func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) {
				b.fake.FailNext(1, capitest.GoogleAdsError(http.StatusForbidden, "PERMISSION_DENIED", "authorizationError", "USER_PERMISSION_DENIED", "User doesn't have permission to access customer."))
			},
			code:     "USER_PERMISSION_DENIED",
			sentinel: capi.ErrPlatform,
		},
		{
			name:     "a restatement to nothing is refused before sending",
			setup:    func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) { adj.Type, adj.Value = capi.Restatement, 0 },
			code:     "invalid_event",
			sentinel: capi.ErrInvalidEvent,
		},
		{
			name:     "incomplete credentials are refused before sending",
			setup:    func(b *adsBundle, ev *capi.Event, adj *capi.Adjustment) { b.creds.DeveloperToken = "" },
			code:     "credentials",
			sentinel: capi.ErrCredentials,
		},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, ev := uploaded(t, "a")
			adj := capi.Adjustment{Type: capi.Retraction, Event: ev, At: b.clock.Now()}
			tc.setup(b, &ev, &adj)
			res := b.client.Adjust(ctx, b.creds, []capi.Adjustment{adj})
			var e *capi.Error
			require.ErrorAs(t, res.Err(), &e)
			if tc.code != "" {
				require.Equal(t, tc.code, e.Code, e.Error())
			}
			require.Equal(t, tc.retryable, e.Retryable, e.Error())
			require.Equal(t, tc.wait, e.RetryAfter)
			require.True(t, errors.Is(e, tc.sentinel), e.Error())
			require.False(t, res.Outcomes[0].Duplicate)
			require.Empty(t, b.fake.Adjustments())
		})
	}

	t.Run("partial failure gives each adjustment its own fate", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		evs := conversions(3, b.clock.Now())
		require.NoError(t, b.client.Send(ctx, b.creds, evs[:2]).Err())
		b.clock.Add(time.Hour)
		adjs := []capi.Adjustment{
			{Type: capi.Retraction, Event: evs[0], At: b.clock.Now()},
			{Type: capi.Retraction, Event: evs[2], At: b.clock.Now()}, // never uploaded
			{Type: capi.Restatement, Event: evs[1], At: b.clock.Now(), Value: 1_500_000},
		}
		before := b.fake.Requests()
		res := b.client.Adjust(ctx, b.creds, adjs)
		require.Equal(t, before+1, b.fake.Requests(), "one request")
		require.Nil(t, res.Outcomes[0].Err)
		require.Equal(t, "CONVERSION_NOT_FOUND", res.Outcomes[1].Err.Code)
		require.Nil(t, res.Outcomes[2].Err)
		require.Len(t, b.fake.Adjustments(), 2)
	})

	t.Run("an expired token is refreshed", func(t *testing.T) {
		t.Parallel()
		b, ev := uploaded(t, "a")
		b.clock.Add(2 * time.Hour) // the one-hour token has expired
		res := b.client.Adjust(ctx, b.creds, []capi.Adjustment{{Type: capi.Retraction, Event: ev, At: b.clock.Now()}})
		require.NoError(t, res.Err())
		require.Len(t, b.fake.Adjustments(), 1)
	})
}
