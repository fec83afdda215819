package capitest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const adsAdjustPath = "/v23/customers/1234567890:uploadConversionAdjustments"

// adsAdjustment returns a valid retraction of order-1 (adsConversion's)
// with changes applied.
func adsAdjustment(change func(a map[string]any)) map[string]any {
	a := map[string]any{
		"adjustmentType":     "RETRACTION",
		"conversionAction":   "customers/1234567890/conversionActions/987654321",
		"adjustmentDateTime": "2026-03-02 08:00:00+00:00",
		"orderId":            "order-1",
	}
	if change != nil {
		change(a)
	}
	return a
}

func adsAdjustBody(t *testing.T, adjs ...map[string]any) string {
	t.Helper()
	list := make([]any, len(adjs))
	for i, a := range adjs {
		list[i] = a
	}
	b, err := json.Marshal(map[string]any{"conversionAdjustments": list, "partialFailure": true})
	require.NoError(t, err)
	return string(b)
}

// uploadedAds returns a bundle whose fake holds adsConversion(nil) and a
// gclid-only conversion (no order id) of gclid "Cj0KCQiA-noorder".
func uploadedAds(t *testing.T) *adsBundle {
	t.Helper()
	b := setupAds(t)
	b.ads.SetClock(func() time.Time { return time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC) })
	noOrder := adsConversion(func(c map[string]any) { delete(c, "orderId"); c["gclid"] = "Cj0KCQiA-noorder" })
	status, answer := post(t, b.ads.URL+adsPath, b.headers(), adsRequestBody(t, adsConversion(nil), noOrder))
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, answer, "partialFailureError")
	return b
}

func TestGoogleAdsFakeAdjustmentAccepts(t *testing.T) {
	t.Parallel()
	b := uploadedAds(t)
	restate := adsAdjustment(func(a map[string]any) {
		a["adjustmentType"] = "RESTATEMENT"
		a["restatementValue"] = map[string]any{"adjustedValue": 70, "currencyCode": "USD"}
		a["adjustmentDateTime"] = "2026-03-02 07:00:00+00:00"
	})
	byGclid := adsAdjustment(func(a map[string]any) {
		delete(a, "orderId")
		a["gclidDateTimePair"] = map[string]any{"gclid": "Cj0KCQiA-noorder", "conversionDateTime": "2026-03-01 12:32:45+00:00"}
	})
	status, answer := post(t, b.ads.URL+adsAdjustPath, b.headers(), adsAdjustBody(t, restate, adsAdjustment(nil), byGclid))
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, answer, "partialFailureError")
	require.Len(t, answer["results"], 3)
	adjs := b.ads.Adjustments()
	require.Len(t, adjs, 3)
	require.Equal(t, "RESTATEMENT", adjs[0].Type)
	require.Equal(t, 70.0, adjs[0].Value)
	require.Equal(t, "RETRACTION", adjs[1].Type)
	require.Equal(t, "order-1", adjs[1].OrderID)
	require.Equal(t, "Cj0KCQiA-noorder", adjs[2].Gclid)

	// Retracted once, a conversion cannot be retracted or restated again.
	status, answer = post(t, b.ads.URL+adsAdjustPath, b.headers(), adsAdjustBody(t, adsAdjustment(func(a map[string]any) {
		a["adjustmentDateTime"] = "2026-03-02 09:00:00+00:00"
	})))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, mustJSON(t, answer), "CONVERSION_ALREADY_RETRACTED")
	require.Len(t, b.ads.Adjustments(), 3)
}

func TestGoogleAdsFakeAdjustmentRowErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(a map[string]any)
		setup  func(a *GoogleAds)
		enum   string
	}{
		{"retraction with a value", func(a map[string]any) { a["restatementValue"] = map[string]any{"adjustedValue": 1} }, nil, "VALUE_MUST_BE_UNSET"},
		{"restatement without a value", func(a map[string]any) { a["adjustmentType"] = "RESTATEMENT" }, nil, "REQUIRED"},
		{"no type", func(a map[string]any) { delete(a, "adjustmentType") }, nil, "REQUIRED"},
		{"enhancement", func(a map[string]any) { a["adjustmentType"] = "ENHANCEMENT" }, nil, "CONVERSION_ACTION_NOT_ELIGIBLE_FOR_ENHANCEMENT"},
		{"time without offset", func(a map[string]any) { a["adjustmentDateTime"] = "2026-03-02 08:00:00" }, nil, "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"},
		{"RFC 3339 time", func(a map[string]any) { a["adjustmentDateTime"] = "2026-03-02T08:00:00Z" }, nil, "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"},
		{"no time", func(a map[string]any) { delete(a, "adjustmentDateTime") }, nil, "REQUIRED"},
		{"before the conversion", func(a map[string]any) { a["adjustmentDateTime"] = "2026-03-01 12:32:45+00:00" }, nil, "ADJUSTMENT_PRECEDES_CONVERSION"},
		{"both identifiers", func(a map[string]any) {
			a["gclidDateTimePair"] = map[string]any{"gclid": "Cj0KCQiA-x_1", "conversionDateTime": "2026-03-01 12:32:45+00:00"}
		}, nil, "GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET"},
		{"no identifier", func(a map[string]any) { delete(a, "orderId") }, nil, "REQUIRED"},
		{"unknown order id", func(a map[string]any) { a["orderId"] = "order-2" }, nil, "CONVERSION_NOT_FOUND"},
		{"gclid of a conversion uploaded with an order id", func(a map[string]any) {
			delete(a, "orderId")
			a["gclidDateTimePair"] = map[string]any{"gclid": "Cj0KCQiA-x_1", "conversionDateTime": "2026-03-01 12:32:45+00:00"}
		}, nil, "CONVERSION_NOT_FOUND"},
		{"gclid with another time", func(a map[string]any) {
			delete(a, "orderId")
			a["gclidDateTimePair"] = map[string]any{"gclid": "Cj0KCQiA-noorder", "conversionDateTime": "2026-03-01 12:32:46+00:00"}
		}, nil, "CONVERSION_NOT_FOUND"},
		{"another conversion action", func(a map[string]any) { a["conversionAction"] = "customers/1234567890/conversionActions/5" }, nil, "CONVERSION_NOT_FOUND"},
		{"a deleted conversion action", nil, func(a *GoogleAds) { a.SetConversionActions("5") }, "NO_CONVERSION_ACTION_FOUND"},
		{"user identifiers", func(a map[string]any) { a["userIdentifiers"] = []any{} }, nil, "UNSUPPORTED_USER_IDENTIFIER"},
		{"too recent", nil, func(a *GoogleAds) { a.SetAdjustmentDelay(48 * time.Hour) }, "TOO_RECENT_CONVERSION"},
		{"expired", nil, func(a *GoogleAds) {
			a.SetClock(func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) })
		}, "CONVERSION_EXPIRED"},
		{"injected", nil, func(a *GoogleAds) { a.FailRow("order-1", "internalError", "TRANSIENT_ERROR", "Try again.") }, "TRANSIENT_ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := uploadedAds(t)
			if tc.setup != nil {
				tc.setup(b.ads)
			}
			status, answer := post(t, b.ads.URL+adsAdjustPath, b.headers(), adsAdjustBody(t, adsAdjustment(tc.change)))
			require.Equal(t, http.StatusOK, status)
			pf, _ := answer["partialFailureError"].(map[string]any)
			require.NotNil(t, pf, "partialFailureError")
			require.Equal(t, []any{map[string]any{}}, answer["results"])
			errs := pf["details"].([]any)[0].(map[string]any)["errors"].([]any)
			require.Len(t, errs, 1)
			e := errs[0].(map[string]any)
			require.Contains(t, mustJSON(t, e["errorCode"]), `"`+tc.enum+`"`)
			require.Contains(t, mustJSON(t, e["location"]), `"conversion_adjustments"`)
			require.Empty(t, b.ads.Adjustments())
		})
	}
}

func TestGoogleAdsFakeAdjustmentRequestErrors(t *testing.T) {
	t.Parallel()
	b := uploadedAds(t)
	noPF := `{"conversionAdjustments":[` + mustJSON(t, adsAdjustment(nil)) + `]}`
	status, answer := post(t, b.ads.URL+adsAdjustPath, b.headers(), noPF)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, mustJSON(t, answer), "partial_failure")

	status, _ = post(t, b.ads.URL+adsAdjustPath, b.headers(), `{"conversionAdjustments":[],"partialFailure":true}`)
	require.Equal(t, http.StatusBadRequest, status)

	status, _ = post(t, b.ads.URL+adsAdjustPath, b.headers(), `{"conversionAdjustments":[{"adjustmentType":"RETRACTION","bogus":1}],"partialFailure":true}`)
	require.Equal(t, http.StatusBadRequest, status)

	status, _ = post(t, b.ads.URL+adsAdjustPath, http.Header{"Developer-Token": {"dev"}}, adsAdjustBody(t, adsAdjustment(nil)))
	require.Equal(t, http.StatusUnauthorized, status)

	// The same adjustment twice in one request.
	status, answer = post(t, b.ads.URL+adsAdjustPath, b.headers(), adsAdjustBody(t, adsAdjustment(nil), adsAdjustment(nil)))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, mustJSON(t, answer), "DUPLICATE_ADJUSTMENT_IN_REQUEST")
	require.Len(t, b.ads.Adjustments(), 1)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
