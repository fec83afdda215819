package capi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const specAction = "customers/1234567890/conversionActions/987654321"

// TestGoogleAdsRequestSpecExample builds §3.2's request. Both identifiers
// carry userIdentifierSource, which the spec's example sets on the first only.
func TestGoogleAdsRequestSpecExample(t *testing.T) {
	t.Parallel()

	ev := specEvent()
	ev.Time = time.Date(2026, 3, 1, 12, 32, 45, 0, time.UTC)
	ev.Click = Click{Gclid: "Cj0KCQiA", Gbraid: "ignored-when-gclid", Time: ev.Time.Add(-time.Hour)}
	p, err := buildAdsConversion(&ev, specAction, ev.Time.Add(time.Hour))
	require.Nil(t, err)
	require.JSONEq(t, `{
	  "conversions": [{
	    "gclid": "Cj0KCQiA",
	    "conversionAction": "customers/1234567890/conversionActions/987654321",
	    "conversionDateTime": "2026-03-01 12:32:45+00:00",
	    "conversionValue": 123.45,
	    "currencyCode": "USD",
	    "orderId": "order-123",
	    "userIdentifiers": [
	      {"userIdentifierSource": "FIRST_PARTY", "hashedEmail": "`+Hash("john_smith@gmail.com")+`"},
	      {"userIdentifierSource": "FIRST_PARTY", "hashedPhoneNumber": "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"}
	    ]
	  }],
	  "partialFailure": true
	}`, string(adsRequest([][]byte{p}, []int{0}, false)))
	require.JSONEq(t, `{"conversions":[`+string(p)+`],"partialFailure":true,"validateOnly":true}`, string(adsRequest([][]byte{p}, []int{0}, true)))
}

func TestBuildAdsConversion(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 3, 1, 12, 32, 45, 0, time.UTC)
	now := at.Add(24 * time.Hour)
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name    string
		modify  func(*Event)
		check   func(t *testing.T, c map[string]any)
		wantErr error
	}{
		{
			name:   "gbraid when there is no gclid",
			modify: func(e *Event) { e.Click = Click{Gbraid: "gb-1", Wbraid: "wb-1"} },
			check: func(t *testing.T, c map[string]any) {
				require.Equal(t, "gb-1", c["gbraid"])
				require.NotContains(t, c, "wbraid")
				require.NotContains(t, c, "gclid")
			},
		},
		{
			name:   "wbraid last",
			modify: func(e *Event) { e.Click = Click{Wbraid: " wb-1 "} },
			check:  func(t *testing.T, c map[string]any) { require.Equal(t, "wb-1", c["wbraid"]) },
		},
		{
			name:   "time in another zone is written in UTC",
			modify: func(e *Event) { e.Time = at.In(paris) },
			check: func(t *testing.T, c map[string]any) {
				require.Equal(t, "2026-03-01 12:32:45+00:00", c["conversionDateTime"])
			},
		},
		{
			name:   "conversion before its click moves to one second after it",
			modify: func(e *Event) { e.Click.Time = at.Add(10*time.Minute + 500*time.Millisecond) },
			check: func(t *testing.T, c map[string]any) {
				require.Equal(t, "2026-03-01 12:42:46+00:00", c["conversionDateTime"])
			},
		},
		{
			name:   "conversion in the same second as its click moves after it",
			modify: func(e *Event) { e.Click.Time = at },
			check: func(t *testing.T, c map[string]any) {
				require.Equal(t, "2026-03-01 12:32:46+00:00", c["conversionDateTime"])
			},
		},
		{
			name:   "gmail dots removed, E.164 phone",
			modify: func(e *Event) { e.User = UserData{Email: "J.Smith@gmail.com", Phone: "+44 20 7946 0958"} },
			check: func(t *testing.T, c map[string]any) {
				require.Equal(t, []any{
					map[string]any{"userIdentifierSource": "FIRST_PARTY", "hashedEmail": Hash("jsmith@gmail.com")},
					map[string]any{"userIdentifierSource": "FIRST_PARTY", "hashedPhoneNumber": Hash("+442079460958")},
				}, c["userIdentifiers"])
			},
		},
		{
			name:   "lead without value leaves value to the conversion action",
			modify: func(e *Event) { e.Value, e.Currency, e.OrderID = 0, "", "" },
			check: func(t *testing.T, c map[string]any) {
				require.NotContains(t, c, "conversionValue")
				require.NotContains(t, c, "currencyCode")
				require.Equal(t, "order-123", c["orderId"], "the event id stands in for the order id")
			},
		},
		{
			name: "no click id but an email goes as an enhanced conversion for leads",
			modify: func(e *Event) {
				e.Click = Click{}
				e.User = UserData{Email: "a@b.co"}
			},
			check: func(t *testing.T, c map[string]any) {
				require.NotContains(t, c, "gclid")
				require.Len(t, c["userIdentifiers"], 1)
			},
		},
		{
			name: "no click id and no identifier is skipped",
			modify: func(e *Event) {
				e.Click = Click{}
				e.User = UserData{FirstName: "Mary"}
			},
			wantErr: ErrSkipped,
		},
		{name: "no time", modify: func(e *Event) { e.Time = time.Time{} }, wantErr: ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := specEvent()
			ev.Time = at
			ev.Click = Click{Gclid: "Cj0KCQiA", Time: at.Add(-time.Hour)}
			tt.modify(&ev)
			p, err := buildAdsConversion(&ev, specAction, now)
			if tt.wantErr != nil {
				require.NotNil(t, err)
				require.ErrorIs(t, err, tt.wantErr)
				require.False(t, err.Retryable)
				return
			}
			require.Nil(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(p, &got))
			tt.check(t, got)
		})
	}
}

func TestGoogleAdsCheckCredentials(t *testing.T) {
	t.Parallel()

	good := GoogleAdsCredentials{CustomerID: "123-456-7890", ConversionActionID: "987654321", DeveloperToken: "dev",
		ClientID: "cid", ClientSecret: "secret", RefreshToken: "refresh", LoginCustomerID: "111-222-3333"}
	tests := []struct {
		name    string
		modify  func(*GoogleAdsCredentials)
		action  string
		wantErr bool
	}{
		{name: "numeric action id", modify: func(*GoogleAdsCredentials) {}, action: "customers/1234567890/conversionActions/987654321"},
		{name: "resource name kept", modify: func(c *GoogleAdsCredentials) { c.ConversionActionID = "customers/999/conversionActions/5" }, action: "customers/999/conversionActions/5"},
		{name: "customer id too short", modify: func(c *GoogleAdsCredentials) { c.CustomerID = "12345" }, wantErr: true},
		{name: "login customer id malformed", modify: func(c *GoogleAdsCredentials) { c.LoginCustomerID = "abc" }, wantErr: true},
		{name: "action malformed", modify: func(c *GoogleAdsCredentials) { c.ConversionActionID = "conversionActions/5" }, wantErr: true},
		{name: "no developer token", modify: func(c *GoogleAdsCredentials) { c.DeveloperToken = "" }, wantErr: true},
		{name: "no refresh token", modify: func(c *GoogleAdsCredentials) { c.RefreshToken = " " }, wantErr: true},
	}
	g := NewGoogleAds("", "", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			creds := good
			tt.modify(&creds)
			a, err := g.check(creds)
			if tt.wantErr {
				require.NotNil(t, err)
				require.ErrorIs(t, err, ErrCredentials)
				return
			}
			require.Nil(t, err)
			require.Equal(t, "1234567890", a.customerID)
			require.Equal(t, "1112223333", a.loginCustomerID)
			require.Equal(t, tt.action, a.conversionAction)
		})
	}
}

func TestGoogleAdsRows(t *testing.T) {
	t.Parallel()

	row := func(i int, category, enum string) string {
		return `{"errorCode":{"` + category + `":"` + enum + `"},"message":"` + enum + ` happened","location":{"fieldPathElements":[{"fieldName":"conversions","index":` + string(rune('0'+i)) + `},{"fieldName":"gclid"}]}}`
	}
	body := `{"partialFailureError":{"code":3,"message":"Multiple errors in 'details'. First error: …","details":[{"errors":[` +
		row(0, "conversionUploadError", "CLICK_CONVERSION_ALREADY_EXISTS") + `,` +
		row(1, "conversionUploadError", "ORDER_ID_ALREADY_IN_USE") + `,` +
		row(2, "internalError", "INTERNAL_ERROR") + `,` +
		row(3, "internalError", "TRANSIENT_ERROR") + `,` +
		row(4, "conversionUploadError", "TOO_RECENT_EVENT") + `,` +
		row(5, "conversionUploadError", "CLICK_NOT_FOUND") + `,` +
		row(6, "conversionUploadError", "UNPARSEABLE_GCLID") + `,` +
		row(6, "conversionUploadError", "EXPIRED_EVENT") + `]}]},
	  "results":[{},{},{},{},{},{},{},{"gclid":"ok"},{}]}`
	var a adsAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &a))
	g := NewGoogleAds("", "", nil)
	rows := g.rows(&reply{status: 200, body: []byte(body)}, &a, 9)

	type want struct {
		duplicate  bool
		delivered  bool
		retryable  bool
		code       string
		retryAfter time.Duration
	}
	wants := []want{
		{duplicate: true, delivered: true},
		{duplicate: true, delivered: true},
		{retryable: true, code: "INTERNAL_ERROR"},
		{retryable: true, code: "TRANSIENT_ERROR"},
		{retryable: true, code: "TOO_RECENT_EVENT", retryAfter: 6 * time.Hour},
		{code: "CLICK_NOT_FOUND"},
		{code: "UNPARSEABLE_GCLID"}, // the first error of a row wins
		{delivered: true},
		{code: "PARTIAL_FAILURE"}, // {} without its own error
	}
	for i, w := range wants {
		r := rows[i]
		require.Equal(t, w.duplicate, r.duplicate, "row %d", i)
		require.Equal(t, w.delivered, r.err == nil, "row %d", i)
		if r.err != nil {
			require.Equal(t, w.retryable, r.err.Retryable, "row %d", i)
			require.Equal(t, w.code, r.err.Code, "row %d", i)
			require.Equal(t, w.retryAfter, r.err.RetryAfter, "row %d", i)
			require.Equal(t, 200, r.err.StatusCode)
		}
	}
}
