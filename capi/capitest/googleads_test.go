package capitest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const adsPath = "/v23/customers/1234567890:uploadClickConversions"

// adsBundle is what the Google Ads fake tests need: both fakes and a valid
// token.
type adsBundle struct {
	oauth *GoogleOAuth
	ads   *GoogleAds
	token string
}

func setupAds(t *testing.T) *adsBundle {
	t.Helper()
	o := NewGoogleOAuth(t)
	a := NewGoogleAds(t, o)
	status, answer := post(t, o.URL+"/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"cs"}, "refresh_token": {"rt"}}.Encode())
	require.Equal(t, http.StatusOK, status)
	return &adsBundle{oauth: o, ads: a, token: answer["access_token"].(string)}
}

func (b *adsBundle) headers() http.Header {
	return http.Header{"Authorization": {"Bearer " + b.token}, "Developer-Token": {"dev"}}
}

// adsConversion returns a valid conversion with changes applied.
func adsConversion(change func(c map[string]any)) map[string]any {
	c := map[string]any{
		"gclid":              "Cj0KCQiA-x_1",
		"conversionAction":   "customers/1234567890/conversionActions/987654321",
		"conversionDateTime": "2026-03-01 12:32:45+00:00",
		"conversionValue":    123.45,
		"currencyCode":       "USD",
		"orderId":            "order-1",
		"userIdentifiers":    []any{map[string]any{"userIdentifierSource": "FIRST_PARTY", "hashedEmail": goodHash}},
	}
	if change != nil {
		change(c)
	}
	return c
}

func adsRequestBody(t *testing.T, convs ...map[string]any) string {
	t.Helper()
	list := make([]any, len(convs))
	for i, c := range convs {
		list[i] = c
	}
	b, err := json.Marshal(map[string]any{"conversions": list, "partialFailure": true})
	require.NoError(t, err)
	return string(b)
}

func TestGoogleAdsFakeAccepts(t *testing.T) {
	t.Parallel()

	b := setupAds(t)
	snakeCase := `{"conversions":[{"gclid":"abc","conversion_action":"customers/1234567890/conversionActions/1","conversion_date_time":"2026-03-01 12:32:45-08:00","order_id":"snake"}],"partial_failure":true}`
	status, answer := post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, adsConversion(nil)))
	require.Equal(t, http.StatusOK, status, answer)
	require.NotContains(t, answer, "partialFailureError")
	require.Equal(t, []any{map[string]any{
		"gclid": "Cj0KCQiA-x_1", "conversionAction": "customers/1234567890/conversionActions/987654321",
		"conversionDateTime": "2026-03-01 12:32:45+00:00", "orderId": "order-1",
		"userIdentifiers": []any{map[string]any{"userIdentifierSource": "FIRST_PARTY", "hashedEmail": goodHash}},
	}}, answer["results"])
	require.IsType(t, "", answer["jobId"], "int64 comes back as a string")

	status, answer = post(t, b.ads.URL+adsPath, b.headers(), snakeCase)
	require.Equal(t, http.StatusOK, status, answer)
	require.NotContains(t, answer, "partialFailureError", "snake_case is proto3 JSON too")

	ecl := adsConversion(func(c map[string]any) { delete(c, "gclid"); c["orderId"] = "ecl" })
	status, answer = post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, ecl))
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, answer, "partialFailureError", "enhanced conversions for leads need no click id")

	require.Equal(t, map[string]int{"order-1": 1, "snake": 1, "ecl": 1}, b.ads.CountByEventID())
}

func TestGoogleAdsFakeRequestErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		path   string
		header func(b *adsBundle) http.Header
		body   func(t *testing.T) string
		setup  func(b *adsBundle)
		status int
		grpc   string
		enum   string
	}{
		{name: "no bearer token", header: func(*adsBundle) http.Header { return http.Header{"Developer-Token": {"dev"}} },
			status: 401, grpc: "UNAUTHENTICATED", enum: "OAUTH_TOKEN_HEADER_INVALID"},
		{name: "token never issued", header: func(*adsBundle) http.Header {
			return http.Header{"Authorization": {"Bearer ya29.forged"}, "Developer-Token": {"dev"}}
		}, status: 401, grpc: "UNAUTHENTICATED", enum: "OAUTH_TOKEN_INVALID"},
		{name: "expired token", setup: func(b *adsBundle) { b.oauth.ExpireTokens() }, status: 401, grpc: "UNAUTHENTICATED", enum: "OAUTH_TOKEN_EXPIRED"},
		{name: "no developer token", header: func(b *adsBundle) http.Header {
			return http.Header{"Authorization": {"Bearer " + b.token}}
		}, status: 400, grpc: "INVALID_ARGUMENT", enum: "DEVELOPER_TOKEN_PARAMETER_MISSING"},
		{name: "wrong developer token", setup: func(b *adsBundle) { b.ads.SetDeveloperToken("other") }, status: 401, grpc: "UNAUTHENTICATED", enum: "DEVELOPER_TOKEN_INVALID"},
		{name: "hyphenated customer id", path: "/v23/customers/123-456-7890:uploadClickConversions", status: 400, grpc: "INVALID_ARGUMENT", enum: "INVALID_CUSTOMER_ID"},
		{name: "bad login-customer-id", header: func(b *adsBundle) http.Header {
			h := b.headers()
			h.Set("login-customer-id", "111-222-3333")
			return h
		}, status: 400, grpc: "INVALID_ARGUMENT", enum: "INVALID_CUSTOMER_ID"},
		{name: "partialFailure missing", body: func(t *testing.T) string {
			return strings.Replace(adsRequestBody(t, adsConversion(nil)), `"partialFailure":true`, `"validateOnly":false`, 1)
		}, status: 400, grpc: "INVALID_ARGUMENT", enum: "REQUIRED"},
		{name: "no conversions", body: func(*testing.T) string { return `{"conversions":[],"partialFailure":true}` }, status: 400, grpc: "INVALID_ARGUMENT", enum: "REQUIRED"},
		{name: "over 2000 conversions", body: func(t *testing.T) string {
			convs := make([]map[string]any, 2001)
			for i := range convs {
				convs[i] = adsConversion(nil)
			}
			return adsRequestBody(t, convs...)
		}, status: 400, grpc: "INVALID_ARGUMENT", enum: "TOO_MANY_CONVERSIONS_IN_REQUEST"},
		{name: "job id out of range", body: func(t *testing.T) string {
			return strings.Replace(adsRequestBody(t, adsConversion(nil)), `"partialFailure":true`, `"partialFailure":true,"jobId":2147483648`, 1)
		}, status: 400, grpc: "INVALID_ARGUMENT", enum: "INVALID_JOB_ID"},
		{name: "unknown field", body: func(t *testing.T) string {
			return adsRequestBody(t, adsConversion(func(c map[string]any) { c["conversionTime"] = "x" }))
		}, status: 400, grpc: "INVALID_ARGUMENT"},
		{name: "wrong path", path: "/v23/customers/1234567890:uploadConversions", status: 404, grpc: "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupAds(t)
			if tt.setup != nil {
				tt.setup(b)
			}
			path, header, body := adsPath, b.headers(), adsRequestBody(t, adsConversion(nil))
			if tt.path != "" {
				path = tt.path
			}
			if tt.header != nil {
				header = tt.header(b)
			}
			if tt.body != nil {
				body = tt.body(t)
			}
			status, answer := post(t, b.ads.URL+path, header, body)
			require.Equal(t, tt.status, status, answer)
			e := answer["error"].(map[string]any)
			require.EqualValues(t, tt.status, e["code"])
			require.Equal(t, tt.grpc, e["status"])
			require.NotEmpty(t, e["message"])
			if tt.enum != "" {
				errs := e["details"].([]any)[0].(map[string]any)["errors"].([]any)
				code := errs[0].(map[string]any)["errorCode"].(map[string]any)
				for _, v := range code {
					require.Equal(t, tt.enum, v)
				}
			}
			require.Empty(t, b.ads.Events())
		})
	}
}

func TestGoogleAdsFakeRowErrors(t *testing.T) {
	t.Parallel()

	clickAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(c map[string]any)
		setup  func(a *GoogleAds)
		enum   string
		field  string
	}{
		{"gclid and gbraid", func(c map[string]any) { c["gbraid"] = "gb" }, nil, "VALUE_MUST_BE_UNSET", "gbraid"},
		{"gbraid and wbraid", func(c map[string]any) { delete(c, "gclid"); c["gbraid"], c["wbraid"] = "gb", "wb" }, nil, "GBRAID_WBRAID_BOTH_SET", "wbraid"},
		{"no click id and no identifier", func(c map[string]any) { delete(c, "gclid"); delete(c, "userIdentifiers") }, nil, "REQUIRED", "gclid"},
		{"bad gclid", func(c map[string]any) { c["gclid"] = "not a gclid!" }, nil, "UNPARSEABLE_GCLID", "gclid"},
		{"time without offset", func(c map[string]any) { c["conversionDateTime"] = "2026-03-01 12:32:45" }, nil, "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "conversion_date_time"},
		{"RFC 3339 time", func(c map[string]any) { c["conversionDateTime"] = "2026-03-01T12:32:45Z" }, nil, "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "conversion_date_time"},
		{"impossible date", func(c map[string]any) { c["conversionDateTime"] = "2026-02-30 12:32:45+00:00" }, nil, "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "conversion_date_time"},
		{"malformed action", func(c map[string]any) { c["conversionAction"] = "conversionActions/1" }, nil, "RESOURCE_NAME_MALFORMED", "conversion_action"},
		{"unknown action", func(c map[string]any) { c["conversionAction"] = "customers/1234567890/conversionActions/5" },
			func(a *GoogleAds) { a.SetConversionActions("987654321") }, "NO_CONVERSION_ACTION_FOUND", "conversion_action"},
		{"unhashed email", func(c map[string]any) {
			c["userIdentifiers"] = []any{map[string]any{"hashedEmail": "a@b.co"}}
		}, nil, "INVALID_USER_IDENTIFIER", "user_identifiers"},
		{"empty-string hash", func(c map[string]any) {
			c["userIdentifiers"] = []any{map[string]any{"hashedPhoneNumber": emptyHash}}
		}, nil, "INVALID_USER_IDENTIFIER", "user_identifiers"},
		{"email and phone in one identifier", func(c map[string]any) {
			c["userIdentifiers"] = []any{map[string]any{"hashedEmail": goodHash, "hashedPhoneNumber": goodHash}}
		}, nil, "INVALID_USER_IDENTIFIER", "user_identifiers"},
		{"address identifier", func(c map[string]any) {
			c["userIdentifiers"] = []any{map[string]any{"addressInfo": map[string]any{"city": "x"}}}
		}, nil, "UNSUPPORTED_USER_IDENTIFIER", "user_identifiers"},
		{"six identifiers", func(c map[string]any) {
			ids := make([]any, 6)
			for i := range ids {
				ids[i] = map[string]any{"hashedEmail": goodHash}
			}
			c["userIdentifiers"] = ids
		}, nil, "TOO_MANY", "user_identifiers"},
		{"lowercase currency", func(c map[string]any) { c["currencyCode"] = "usd" }, nil, "UNSUPPORTED", "currency_code"},
		{"email as order id", func(c map[string]any) { c["orderId"] = "a@b.co" }, nil, "ORDER_ID_CONTAINS_PII", "order_id"},
		{"conversion before its click", func(c map[string]any) { c["conversionDateTime"] = "2026-03-01 11:59:59+00:00" },
			func(a *GoogleAds) { a.RegisterClick("Cj0KCQiA-x_1", clickAt) }, "CONVERSION_PRECEDES_EVENT", "conversion_date_time"},
		{"offset taken into account", func(c map[string]any) { c["conversionDateTime"] = "2026-03-01 06:59:59-05:00" },
			func(a *GoogleAds) { a.RegisterClick("Cj0KCQiA-x_1", clickAt) }, "CONVERSION_PRECEDES_EVENT", "conversion_date_time"},
		{"click older than 90 days", func(c map[string]any) { c["conversionDateTime"] = "2026-06-30 12:00:00+00:00" },
			func(a *GoogleAds) { a.RegisterClick("Cj0KCQiA-x_1", clickAt) }, "EXPIRED_EVENT", ""},
		{"click under 6 hours ago", nil, func(a *GoogleAds) {
			a.RegisterClick("Cj0KCQiA-x_1", clickAt)
			a.SetClock(func() time.Time { return clickAt.Add(5 * time.Hour) })
		}, "TOO_RECENT_EVENT", ""},
		{"injected", nil, func(a *GoogleAds) {
			a.FailRow("order-1", "conversionUploadError", "CLICK_NOT_FOUND", "The click could not be found.")
		}, "CLICK_NOT_FOUND", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupAds(t)
			if tt.setup != nil {
				tt.setup(b.ads)
			}
			good := adsConversion(func(c map[string]any) { c["orderId"], c["gclid"] = "good", "other-click" })
			status, answer := post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, good, adsConversion(tt.change)))
			require.Equal(t, http.StatusOK, status, "row errors are partial failures: HTTP 200")
			results := answer["results"].([]any)
			require.Len(t, results, 2)
			require.NotEmpty(t, results[0])
			require.Equal(t, map[string]any{}, results[1], "a failed row is {}")
			pf := answer["partialFailureError"].(map[string]any)
			require.EqualValues(t, 3, pf["code"])
			detail := pf["details"].([]any)[0].(map[string]any)
			require.Equal(t, "type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure", detail["@type"])
			errs := detail["errors"].([]any)
			require.Len(t, errs, 1)
			e := errs[0].(map[string]any)
			for _, v := range e["errorCode"].(map[string]any) {
				require.Equal(t, tt.enum, v)
			}
			path := e["location"].(map[string]any)["fieldPathElements"].([]any)
			require.Equal(t, map[string]any{"fieldName": "conversions", "index": 1.0}, path[0])
			wantMsg := e["message"].(string) + ", at conversions[1]"
			if tt.field != "" {
				require.Equal(t, map[string]any{"fieldName": tt.field}, path[1])
				wantMsg += "." + tt.field
			}
			require.Equal(t, wantMsg, pf["message"])
			require.Equal(t, map[string]int{"good": 1}, b.ads.CountByEventID())
		})
	}
}

func TestGoogleAdsFakeDuplicates(t *testing.T) {
	t.Parallel()

	b := setupAds(t)
	first := adsConversion(nil)
	status, answer := post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, first))
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, answer, "partialFailureError")

	sameClick := adsConversion(func(c map[string]any) { delete(c, "orderId") })
	newClick := adsConversion(func(c map[string]any) { delete(c, "orderId"); c["gclid"] = "new-click" })
	status, answer = post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, first, sameClick, newClick, newClick))
	require.Equal(t, http.StatusOK, status)
	errs := answer["partialFailureError"].(map[string]any)["details"].([]any)[0].(map[string]any)["errors"].([]any)
	var enums []string
	for _, e := range errs {
		enums = append(enums, e.(map[string]any)["errorCode"].(map[string]any)["conversionUploadError"].(string))
	}
	require.Equal(t, []string{"ORDER_ID_ALREADY_IN_USE", "CLICK_CONVERSION_ALREADY_EXISTS", "DUPLICATE_CLICK_CONVERSION_IN_REQUEST"}, enums)
	require.True(t, strings.HasPrefix(answer["partialFailureError"].(map[string]any)["message"].(string), "Multiple errors in 'details'. First error: "))

	orders := adsRequestBody(t, adsConversion(func(c map[string]any) { c["orderId"], c["gclid"] = "x", "c1" }), adsConversion(func(c map[string]any) { c["orderId"], c["gclid"] = "x", "c2" }))
	_, answer = post(t, b.ads.URL+adsPath, b.headers(), orders)
	errs = answer["partialFailureError"].(map[string]any)["details"].([]any)[0].(map[string]any)["errors"].([]any)
	require.Len(t, errs, 1)
	require.Equal(t, "DUPLICATE_ORDER_ID", errs[0].(map[string]any)["errorCode"].(map[string]any)["conversionUploadError"])
	require.Equal(t, map[string]int{"order-1": 1, "new-click|2026-03-01 12:32:45+00:00": 1, "x": 1}, b.ads.CountByEventID(), "Google never counts a conversion twice")
}

func TestGoogleAdsFakeValidateOnly(t *testing.T) {
	t.Parallel()

	b := setupAds(t)
	bad := adsConversion(func(c map[string]any) { c["conversionDateTime"] = "yesterday" })
	body := strings.Replace(adsRequestBody(t, adsConversion(nil), bad), `"partialFailure":true`, `"partialFailure":true,"validateOnly":true`, 1)
	status, answer := post(t, b.ads.URL+adsPath, b.headers(), body)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, answer, "results", "validateOnly returns only errors")
	require.Contains(t, answer["partialFailureError"].(map[string]any)["message"], "at conversions[1].conversion_date_time")
	require.Empty(t, b.ads.Events())

	status, answer = post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, adsConversion(nil)))
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, answer, "partialFailureError", "a validated conversion is not recorded, so it is not a duplicate")
}

func TestGoogleOAuthFake(t *testing.T) {
	t.Parallel()

	form := func(change func(url.Values)) string {
		v := url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"cs"}, "refresh_token": {"rt"}}
		if change != nil {
			change(v)
		}
		return v.Encode()
	}
	tests := []struct {
		name   string
		setup  func(o *GoogleOAuth)
		body   string
		status int
		err    string
	}{
		{"issued", nil, form(nil), 200, ""},
		{"wrong grant", nil, form(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type"},
		{"no client id", nil, form(func(v url.Values) { v.Del("client_id") }), 400, "invalid_request"},
		{"wrong client", func(o *GoogleOAuth) { o.SetClient("cid", "other") }, form(nil), 401, "invalid_client"},
		{"no refresh token", nil, form(func(v url.Values) { v.Del("refresh_token") }), 400, "invalid_request"},
		{"revoked", func(o *GoogleOAuth) { o.Revoke("rt") }, form(nil), 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := NewGoogleOAuth(t)
			if tt.setup != nil {
				tt.setup(o)
			}
			status, answer := post(t, o.URL+"/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, tt.body)
			require.Equal(t, tt.status, status, answer)
			if tt.err != "" {
				require.Equal(t, tt.err, answer["error"])
				require.NotEmpty(t, answer["error_description"])
				require.Zero(t, o.TokensIssued())
				return
			}
			require.EqualValues(t, 3600, answer["expires_in"])
			require.Equal(t, "Bearer", answer["token_type"])
			tok := answer["access_token"].(string)
			valid, known := o.Check(tok)
			require.True(t, valid)
			require.True(t, known)
			o.SetClock(func() time.Time { return time.Now().Add(time.Hour + time.Second) })
			valid, known = o.Check(tok)
			require.False(t, valid, "tokens expire after their lifetime")
			require.True(t, known)
		})
	}
}
