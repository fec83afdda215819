package capi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/capi/capitest"
)

type adsBundle struct {
	oauth  *capitest.GoogleOAuth
	fake   *capitest.GoogleAds
	client *capi.GoogleAds
	creds  capi.GoogleAdsCredentials
	clock  *clock
}

func setupAds(t *testing.T) *adsBundle {
	t.Helper()
	c := newClock()
	oauth := capitest.NewGoogleOAuth(t)
	oauth.SetClient("client-id", "client-secret")
	oauth.SetClock(c.Now)
	fake := capitest.NewGoogleAds(t, oauth)
	fake.SetDeveloperToken("dev-token")
	fake.SetConversionActions("987654321")
	fake.SetClock(c.Now)
	return &adsBundle{
		oauth:  oauth,
		fake:   fake,
		client: capi.NewGoogleAds(fake.URL, oauth.URL, &http.Client{Timeout: 2 * time.Second}, capi.WithClock(c.Now)),
		creds: capi.GoogleAdsCredentials{
			CustomerID: "123-456-7890", ConversionActionID: "987654321", DeveloperToken: "dev-token",
			ClientID: "client-id", ClientSecret: "client-secret", RefreshToken: "refresh-token", LoginCustomerID: "111-222-3333",
		},
		clock: c,
	}
}

func TestGoogleAdsSend(t *testing.T) {
	t.Parallel()

	t.Run("uploads what the fake accepts", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		require.NoError(t, res.Err())
		require.False(t, res.Outcomes[0].Duplicate)
		require.Equal(t, http.StatusOK, res.Outcomes[0].StatusCode)
		events := b.fake.Events()
		require.Len(t, events, 1)
		require.Equal(t, "tx-a", events[0].ID)
		require.Equal(t, "customers/1234567890/conversionActions/987654321", events[0].Name)
		f := events[0].Fields
		require.Equal(t, "Cj0KCQiAa", f["gclid"])
		require.Equal(t, []any{
			map[string]any{"userIdentifierSource": "FIRST_PARTY", "hashedEmail": capi.Hash("buyer@example.com")},
			map[string]any{"userIdentifierSource": "FIRST_PARTY", "hashedPhoneNumber": capi.Hash("+16505551212")},
		}, f["userIdentifiers"])
	})

	t.Run("a re-upload is a duplicate, delivered, counted once", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		ev := conversion("a", b.clock.Now())
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{ev}).Err())
		res := b.client.Send(context.Background(), b.creds, []capi.Event{ev})
		require.NoError(t, res.Err())
		require.True(t, res.Outcomes[0].Duplicate)
		require.True(t, res.Outcomes[0].Delivered())
		require.Equal(t, map[string]int{"tx-a": 1}, b.fake.CountByEventID())
	})

	t.Run("partial failure gives each event its own fate", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		evs := conversions(5, b.clock.Now())
		require.NoError(t, b.client.Send(context.Background(), b.creds, evs[:1]).Err())
		b.fake.FailRow(evs[1].Click.Gclid, "conversionUploadError", "CLICK_NOT_FOUND", "The email address or phone number for this event can't be matched to a click.")
		b.fake.FailRow(evs[2].Click.Gclid, "internalError", "INTERNAL_ERROR", "An internal error has occurred.")
		b.fake.RegisterClick(evs[3].Click.Gclid, b.clock.Now().Add(-time.Hour))
		res := b.client.Send(context.Background(), b.creds, evs)
		require.Equal(t, 2, b.fake.Requests(), "one request for the batch")

		require.True(t, res.Outcomes[0].Duplicate)
		require.Nil(t, res.Outcomes[0].Err)

		require.Equal(t, "CLICK_NOT_FOUND", res.Outcomes[1].Err.Code)
		require.False(t, res.Outcomes[1].Err.Retryable)
		require.Contains(t, res.Outcomes[1].Err.Message, "can't be matched")

		require.Equal(t, "INTERNAL_ERROR", res.Outcomes[2].Err.Code)
		require.True(t, res.Outcomes[2].Err.Retryable)

		require.Equal(t, "TOO_RECENT_EVENT", res.Outcomes[3].Err.Code)
		require.True(t, res.Outcomes[3].Err.Retryable)
		require.Equal(t, 6*time.Hour, res.Outcomes[3].Err.RetryAfter)

		require.Nil(t, res.Outcomes[4].Err)
		require.False(t, res.Outcomes[4].Duplicate)
		for _, o := range res.Outcomes {
			require.Equal(t, http.StatusOK, o.StatusCode)
			require.Contains(t, o.Response, "partialFailureError")
		}
		require.Equal(t, map[string]int{"tx-ev-0000": 1, "tx-ev-0004": 1}, b.fake.CountByEventID())
	})

	t.Run("batches of at most 2000", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		res := b.client.Send(context.Background(), b.creds, conversions(2500, b.clock.Now()))
		require.NoError(t, res.Err())
		require.Equal(t, 2, b.fake.Requests())
		require.Len(t, b.fake.CountByEventID(), 2500)
		require.Equal(t, 1, b.oauth.TokensIssued(), "both batches use the one cached token")
	})

	t.Run("no click id and no identifier is skipped, unsent", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		ev := conversion("a", b.clock.Now())
		ev.Click, ev.User = capi.Click{}, capi.UserData{}
		res := b.client.Send(context.Background(), b.creds, []capi.Event{ev})
		require.ErrorIs(t, res.Err(), capi.ErrSkipped)
		require.Zero(t, b.fake.Requests())
	})

	t.Run("a batch refused for one conversion is resent without it", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.fake.FailNext(1, capitest.Fault{Status: 400, Body: `{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT",
			"details":[{"@type":"type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure","errors":[{"errorCode":{"fieldError":"INVALID_VALUE"},
			"message":"The field's value is invalid.","location":{"fieldPathElements":[{"fieldName":"conversions","index":1},{"fieldName":"order_id"}]}}]}]}}`})
		b.fake.FailNext(1, capitest.GoogleAdsError(400, "INVALID_ARGUMENT", "fieldError", "INVALID_VALUE", "The field's value is invalid."))
		res := b.client.Send(context.Background(), b.creds, conversions(3, b.clock.Now()))
		require.Equal(t, 4, b.fake.Requests(), "the batch, then each conversion alone")
		require.Equal(t, 2, res.Delivered())
		for _, o := range res.Outcomes {
			if o.Err != nil {
				require.Equal(t, "INVALID_VALUE", o.Err.Code)
				require.False(t, o.Err.Retryable)
			}
		}
		require.Len(t, b.fake.CountByEventID(), 2)
	})
}

func TestGoogleAdsFaults(t *testing.T) {
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
		{"503", capitest.GoogleAdsError(503, "UNAVAILABLE", "internalError", "TRANSIENT_ERROR", "The service is currently unavailable."), true, 503, "TRANSIENT_ERROR", 0},
		{"504", capitest.GoogleAdsError(504, "DEADLINE_EXCEEDED", "internalError", "DEADLINE_EXCEEDED", "Deadline exceeded."), true, 504, "DEADLINE_EXCEEDED", 0},
		{"429 quota with retryDelay", capitest.GoogleAdsQuotaExhausted(30 * time.Second), true, 429, "RESOURCE_EXHAUSTED", 30 * time.Second},
		{"429 with Retry-After", capitest.TooManyRequests(45 * time.Second), true, 429, "", 45 * time.Second},
		{"403", capitest.GoogleAdsError(403, "PERMISSION_DENIED", "authorizationError", "USER_PERMISSION_DENIED", "User doesn't have permission to access customer."), false, 403, "USER_PERMISSION_DENIED", 0},
		{"404", capitest.GoogleAdsError(404, "NOT_FOUND", "requestError", "RESOURCE_NOT_FOUND", "Resource was not found."), false, 404, "RESOURCE_NOT_FOUND", 0},
		{"400", capitest.GoogleAdsError(400, "INVALID_ARGUMENT", "requestError", "INVALID_CUSTOMER_ID", "Invalid customer ID."), false, 400, "INVALID_CUSTOMER_ID", 0},
		{"401 a new token cannot cure", capitest.GoogleAdsTwoStepNotEnrolled(), false, 401, "TWO_STEP_VERIFICATION_NOT_ENROLLED", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupAds(t)
			b.fake.FailNext(1, tt.fault)
			res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
			err := res.Outcomes[0].Err
			require.NotNil(t, err)
			require.Equal(t, capi.PlatformGoogleAds, err.Platform)
			require.Equal(t, tt.retryable, err.Retryable, err.Error())
			require.Equal(t, tt.status, err.StatusCode)
			require.Equal(t, tt.code, err.Code)
			require.Equal(t, tt.retryAfter, err.RetryAfter)
			require.Equal(t, 1, b.fake.Requests())
			require.Equal(t, 1, b.oauth.TokensIssued(), "only a curable 401 refreshes the token")
			require.Empty(t, b.fake.Events())
		})
	}
}

func TestGoogleAdsOAuth(t *testing.T) {
	t.Parallel()

	t.Run("token cached across sends", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		for i := range 3 {
			require.NoError(t, b.client.Send(context.Background(), b.creds, conversions(i+1, b.clock.Now())[i:]).Err())
		}
		require.Equal(t, 1, b.oauth.TokensIssued())
	})

	t.Run("refreshed before it expires", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())}).Err())
		b.clock.Add(58 * time.Minute)
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{conversion("b", b.clock.Now())}).Err())
		require.Equal(t, 1, b.oauth.TokensIssued(), "58 minutes into a one-hour token it is still used")
		b.clock.Add(90 * time.Second)
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{conversion("c", b.clock.Now())}).Err())
		require.Equal(t, 2, b.oauth.TokensIssued(), "within a minute of expiry it is refreshed")
		require.Equal(t, 3, b.fake.Requests(), "Google never saw an expired token")
	})

	t.Run("a 401 refreshes the token and retries once", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())}).Err())
		b.oauth.ExpireTokens() // Google ends the token early; capi's cache does not know
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("b", b.clock.Now())})
		require.NoError(t, res.Err())
		require.Equal(t, 2, b.oauth.TokensIssued())
		require.Equal(t, 3, b.fake.Requests())
		require.Len(t, b.fake.Events(), 2)
	})

	t.Run("a 401 that survives a new token is permanent", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		unauth := capitest.GoogleAdsError(401, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_INVALID", "Request had invalid authentication credentials.")
		b.fake.FailNext(2, unauth)
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		err := res.Outcomes[0].Err
		require.False(t, err.Retryable)
		require.Equal(t, 401, err.StatusCode)
		require.Contains(t, err.Message, "refused the OAuth credentials")
		require.Equal(t, 2, b.oauth.TokensIssued())
		require.Equal(t, 2, b.fake.Requests())
	})

	t.Run("revoked refresh token needs a person", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.oauth.Revoke("refresh-token")
		res := b.client.Send(context.Background(), b.creds, conversions(2, b.clock.Now()))
		for _, o := range res.Outcomes {
			require.Equal(t, "invalid_grant", o.Err.Code)
			require.False(t, o.Err.Retryable)
			require.Contains(t, o.Err.Message, "reconnect Google Ads")
		}
		require.Zero(t, b.fake.Requests())
	})

	t.Run("wrong OAuth client", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.creds.ClientSecret = "s3cr3t-value"
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		require.Equal(t, "invalid_client", res.Outcomes[0].Err.Code)
		require.Equal(t, 401, res.Outcomes[0].Err.StatusCode)
		require.False(t, res.Outcomes[0].Err.Retryable)
		require.NotContains(t, res.Err().Error(), "s3cr3t")
	})

	t.Run("token endpoint down is retryable", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.oauth.FailNext(1, capitest.Unavailable())
		res := b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())})
		require.True(t, res.Outcomes[0].Err.Retryable)
		require.Equal(t, 503, res.Outcomes[0].Err.StatusCode)
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())}).Err())
	})

	t.Run("concurrent sends share one refresh", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.oauth.FailNext(1, capitest.Slow(50*time.Millisecond))
		var wg sync.WaitGroup
		results := make([]capi.Result, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = b.client.Send(context.Background(), b.creds, conversions(i+1, b.clock.Now())[i:])
			}()
		}
		wg.Wait()
		for _, r := range results {
			require.NoError(t, r.Err())
		}
		require.Equal(t, 1, b.oauth.TokensIssued())
		require.Equal(t, 1, b.oauth.Requests())
	})

	t.Run("separate destinations get separate tokens", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		other := b.creds
		other.RefreshToken = "another-refresh-token"
		require.NoError(t, b.client.Send(context.Background(), b.creds, []capi.Event{conversion("a", b.clock.Now())}).Err())
		require.NoError(t, b.client.Send(context.Background(), other, []capi.Event{conversion("b", b.clock.Now())}).Err())
		require.Equal(t, 2, b.oauth.TokensIssued())
	})
}

func TestGoogleAdsTest(t *testing.T) {
	t.Parallel()

	t.Run("validateOnly checks without recording", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.True(t, rep.OK, rep.String())
		require.Contains(t, rep.Summary, "validateOnly")
		require.Empty(t, b.fake.Events())
		require.Equal(t, 1, b.fake.Requests())
	})

	t.Run("Google's objection is shown", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.creds.ConversionActionID = "5"
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.Equal(t, "NO_CONVERSION_ACTION_FOUND", rep.Err.Code)
		require.Equal(t, []string{"NO_CONVERSION_ACTION_FOUND: The conversion action specified in the upload request cannot be found. Make sure it's available in this account."}, rep.Messages)
	})

	t.Run("bad credentials are shown without a request", func(t *testing.T) {
		t.Parallel()
		b := setupAds(t)
		b.creds.CustomerID = "123"
		rep := b.client.Test(context.Background(), b.creds, conversion("t", b.clock.Now()))
		require.False(t, rep.OK)
		require.ErrorIs(t, rep.Err, capi.ErrCredentials)
		require.Zero(t, b.fake.Requests())
		require.Zero(t, b.oauth.Requests())
	})
}
