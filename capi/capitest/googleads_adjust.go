package capitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// adsAdjustmentFields are ConversionAdjustment's fields, in the proto3 JSON
// names; snake_case spellings are accepted too.
var (
	adsAdjustmentFields        = []string{"gclidDateTimePair", "orderId", "conversionAction", "adjustmentDateTime", "adjustmentType", "restatementValue", "userIdentifiers", "userAgent"}
	adsAdjustmentRequestFields = []string{"conversionAdjustments", "partialFailure", "validateOnly", "jobId"}
)

// adsConversionMaxAge is how old a conversion may be and still be adjusted:
// CONVERSION_EXPIRED "Adjustment can't be made to a conversion that occurred
// more than 54 days ago."
const adsConversionMaxAge = 54 * 24 * time.Hour

// adsUploaded is a conversion the fake accepted, as adjustments find it.
type adsUploaded struct {
	at        time.Time
	retracted bool
	// restated holds the adjustment times of its restatements.
	restated []time.Time
}

// Adjustment is one conversion adjustment the Google Ads fake accepted.
type Adjustment struct {
	// Type is RETRACTION or RESTATEMENT.
	Type string
	// OrderID identifies the conversion, or Gclid and ConversionDateTime
	// do when it was uploaded without one.
	OrderID            string
	Gclid              string
	ConversionDateTime string
	// ConversionAction is the resource name sent.
	ConversionAction string
	// At is the adjustment's time as sent.
	At time.Time
	// Value and Currency are a restatement's new value.
	Value    float64
	Currency string
	// Fields is the adjustment as received.
	Fields map[string]any
}

// remember records an accepted conversion so that adjustments can find it:
// by conversion action id and order id when it has one, else by gclid and
// conversion time ("If the conversion was reported with an order ID
// specified, that order ID must be used as the identifier"). The caller
// holds g.mu.
func (g *GoogleAds) remember(row *adsRow) {
	m := adsActionRE.FindStringSubmatch(row.action)
	if m == nil {
		return
	}
	key := adsAdjustKey(m[2], row.order, row.click, row.at)
	if key == "" {
		return
	}
	if _, ok := g.uploaded[key]; !ok {
		g.uploaded[key] = &adsUploaded{at: row.at}
	}
}

// adsAdjustKey is how an uploaded conversion is found: the conversion
// action id (Google ignores the customer id of the resource name) with the
// order id, or with the gclid and conversion time.
func adsAdjustKey(actionID, order, gclid string, at time.Time) string {
	switch {
	case order != "":
		return actionID + "|o|" + order
	case gclid != "":
		return actionID + "|c|" + gclid + "|" + at.UTC().Format(time.RFC3339)
	}
	return ""
}

// SetAdjustmentDelay makes adjustments of conversions younger than d fail
// with TOO_RECENT_CONVERSION ("Try adjusting a conversion that occurred at
// least 24 hours ago"). Zero, the default, turns the rule off: how strictly
// Google applies it to retractions of uploaded conversions is unconfirmed.
func (g *GoogleAds) SetAdjustmentDelay(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.adjustDelay = d
}

// Adjustments returns the adjustments accepted so far, in arrival order.
func (g *GoogleAds) Adjustments() []Adjustment {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Adjustment(nil), g.adjustments...)
}

// WaitForAdjustments waits until at least n adjustments were accepted and
// returns them, failing the test after timeout.
func (g *GoogleAds) WaitForAdjustments(tb testing.TB, n int, timeout time.Duration) []Adjustment {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		got := append([]Adjustment(nil), g.adjustments...)
		g.mu.Unlock()
		if len(got) >= n {
			return got
		}
		g.Fake.mu.Lock()
		changed, rejected := g.Fake.changed, append([]Rejection(nil), g.Fake.rejections...)
		g.Fake.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("capitest: waited %s for %d Google Ads adjustments, got %d; rejections: %+v", timeout, n, len(got), rejected)
			return nil
		}
	}
}

// serveAdjustments answers uploadConversionAdjustments, after serveUpload's
// checks of the path, credentials and headers. Request rules: partialFailure
// true, 1 to 2000 adjustments, no unknown fields. Per adjustment, the rules
// of the ConversionAdjustment reference and ConversionAdjustmentUploadError:
//
//   - adjustmentType RETRACTION or RESTATEMENT (ENHANCEMENT is for tag
//     conversions and is refused as not eligible);
//   - the conversion action's resource name, of an existing action;
//   - adjustmentDateTime in yyyy-mm-dd hh:mm:ss+|-hh:mm, after the
//     conversion (ADJUSTMENT_PRECEDES_CONVERSION);
//   - exactly one of orderId and gclidDateTimePair (both:
//     GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET), naming a conversion this
//     fake accepted — by its order id when it was uploaded with one —
//     else CONVERSION_NOT_FOUND, as Google answers;
//   - a RETRACTION carries no restatementValue ("An error will be returned
//     if provided for a retraction"); a RESTATEMENT needs one with
//     adjustedValue;
//   - user identifiers and user agent only in enhancements;
//   - no adjustment of a retracted conversion (CONVERSION_ALREADY_RETRACTED),
//     of one older than 54 days (CONVERSION_EXPIRED), nor a restatement with
//     the time of an earlier one (RESTATEMENT_ALREADY_EXISTS) or older than
//     the latest (MORE_RECENT_RESTATEMENT_FOUND); the same conversion and
//     time twice in one request is DUPLICATE_ADJUSTMENT_IN_REQUEST.
//
// Row errors come back as HTTP 200 with partialFailureError, the failed
// rows {} in results, as for uploads. FailRow's faults apply by order id or
// gclid.
func (g *GoogleAds) serveAdjustments(w http.ResponseWriter, version string, body map[string]any) {
	fail := func(category, enum, message, reason string) {
		g.reject(w, http.StatusBadRequest, adsErrorBody(version, http.StatusBadRequest, "INVALID_ARGUMENT", message, []map[string]any{adsErrorDetail(category, enum, message, nil)}), reason)
	}
	if k := unknownField(body, adsAdjustmentRequestFields); k != "" {
		g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k), nil), "unknown field "+k)
		return
	}
	list, _ := field(body, "conversionAdjustments")
	adjs, _ := list.([]any)
	pf, _ := field(body, "partialFailure")
	validateOnly, _ := field(body, "validateOnly")
	switch {
	case len(adjs) == 0:
		fail("fieldError", "REQUIRED", "The required field was not present.", "no conversion adjustments")
		return
	case len(adjs) > 2000:
		fail("conversionAdjustmentUploadError", "TOO_MANY_ADJUSTMENTS_IN_REQUEST", "Try uploading fewer than 2001 adjustments in a single API request.", "over 2000 adjustments")
		return
	case pf != true:
		fail("fieldError", "REQUIRED", "partial_failure is required and should always be set to true.", "partialFailure not true")
		return
	}
	for i, a := range adjs {
		obj, ok := a.(map[string]any)
		if !ok {
			g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. conversion_adjustments[%d] is not an object.", i), nil), "adjustment not an object")
			return
		}
		if k := unknownField(obj, adsAdjustmentFields); k != "" {
			g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'conversion_adjustments[%d]': Cannot find field.", k, i), nil), "unknown field "+k)
			return
		}
	}

	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []map[string]any
	results := make([]any, len(adjs))
	var accepted []Adjustment
	var convs []*adsUploaded
	seen := map[string]bool{}
	for i, a := range adjs {
		obj := a.(map[string]any)
		adj, conv, key, category, enum, message, fieldName := g.judgeAdjustment(obj, now)
		if enum == "" && seen[key+"|"+adj.At.UTC().Format(time.RFC3339)] {
			category, enum, message, fieldName = "conversionAdjustmentUploadError", "DUPLICATE_ADJUSTMENT_IN_REQUEST", "Imported adjustment has a duplicate conversion adjustment with same `adjustment_date_time`. Make sure your adjustment has the correct `adjustment_date_time` and try again.", "adjustment_date_time"
		}
		if enum != "" {
			loc := []map[string]any{{"fieldName": "conversion_adjustments", "index": i}}
			if fieldName != "" {
				loc = append(loc, map[string]any{"fieldName": fieldName})
			}
			errs = append(errs, adsErrorDetail(category, enum, message, loc))
			results[i] = map[string]any{}
			continue
		}
		seen[key+"|"+adj.At.UTC().Format(time.RFC3339)] = true
		if validateOnly != true {
			// Applied after the whole request is judged: rows are judged
			// against the state before it.
			convs = append(convs, conv)
			accepted = append(accepted, adj)
		}
		res := map[string]any{"conversionAction": adj.ConversionAction, "adjustmentType": adj.Type}
		for _, k := range []string{"adjustmentDateTime", "orderId", "gclidDateTimePair"} {
			if v, ok := field(obj, k); ok {
				res[k] = v
			}
		}
		results[i] = res
	}
	answer := map[string]any{}
	if validateOnly != true {
		g.jobs++
		answer["results"] = results
		answer["jobId"] = fmt.Sprint(g.jobs)
	}
	if len(errs) > 0 {
		answer["partialFailureError"] = g.partialFailure(version, "conversion_adjustments", errs)
	}
	for i, conv := range convs {
		switch accepted[i].Type {
		case "RETRACTION":
			conv.retracted = true
		case "RESTATEMENT":
			conv.restated = append(conv.restated, accepted[i].At)
		}
	}
	if len(accepted) > 0 {
		g.adjustments = append(g.adjustments, accepted...)
		g.Fake.mu.Lock()
		close(g.Fake.changed)
		g.Fake.changed = make(chan struct{})
		g.Fake.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, answer)
}

// judgeAdjustment applies the per-adjustment rules and returns the parsed
// adjustment, the conversion it adjusts and its key, or the first error's
// category, enum, message and field. The caller holds g.mu.
func (g *GoogleAds) judgeAdjustment(obj map[string]any, now time.Time) (adj Adjustment, conv *adsUploaded, key, category, enum, message, fieldName string) {
	str := func(o map[string]any, name string) string {
		v, _ := field(o, name)
		s, _ := v.(string)
		return s
	}
	adj = Adjustment{Type: str(obj, "adjustmentType"), OrderID: str(obj, "orderId"), ConversionAction: str(obj, "conversionAction"), Fields: obj}
	pairV, hasPair := field(obj, "gclidDateTimePair")
	pair, _ := pairV.(map[string]any)
	if hasPair && pair != nil {
		adj.Gclid, adj.ConversionDateTime = str(pair, "gclid"), str(pair, "conversionDateTime")
	}
	for _, id := range []string{adj.OrderID, adj.Gclid} {
		if f, ok := g.rowFaults[id]; ok && id != "" {
			return adj, nil, "", f.category, f.enum, f.message, ""
		}
	}
	switch adj.Type {
	case "RETRACTION", "RESTATEMENT":
	case "ENHANCEMENT":
		return adj, nil, "", "conversionAdjustmentUploadError", "CONVERSION_ACTION_NOT_ELIGIBLE_FOR_ENHANCEMENT", "Can't use enhanced conversions with the specified conversion action.", "adjustment_type"
	case "":
		return adj, nil, "", "fieldError", "REQUIRED", "The required field was not present.", "adjustment_type"
	default:
		return adj, nil, "", "fieldError", "INVALID_VALUE", "adjustment_type must be RETRACTION, RESTATEMENT or ENHANCEMENT.", "adjustment_type"
	}
	m := adsActionRE.FindStringSubmatch(adj.ConversionAction)
	switch {
	case adj.ConversionAction == "":
		return adj, nil, "", "fieldError", "REQUIRED", "The required field was not present.", "conversion_action"
	case m == nil:
		return adj, nil, "", "requestError", "RESOURCE_NAME_MALFORMED", "The resource name is malformed.", "conversion_action"
	case g.actions != nil && !g.actions[m[2]]:
		return adj, nil, "", "conversionAdjustmentUploadError", "NO_CONVERSION_ACTION_FOUND", "The conversion action specified in the adjustment request cannot be found. Make sure it's available in this account.", "conversion_action"
	}
	dt := str(obj, "adjustmentDateTime")
	at, err := time.Parse("2006-01-02 15:04:05-07:00", dt)
	if dt == "" {
		return adj, nil, "", "fieldError", "REQUIRED", "The required field was not present.", "adjustment_date_time"
	}
	if !adsDateTimeRE.MatchString(dt) || err != nil {
		return adj, nil, "", "dateError", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.", "adjustment_date_time"
	}
	adj.At = at
	rv, hasRV := field(obj, "restatementValue")
	if _, ok := field(obj, "userIdentifiers"); ok {
		return adj, nil, "", "conversionAdjustmentUploadError", "UNSUPPORTED_USER_IDENTIFIER", "ConversionAdjustmentUploadService only accepts user identifiers in enhancements.", "user_identifiers"
	}
	if _, ok := field(obj, "userAgent"); ok {
		return adj, nil, "", "fieldError", "VALUE_MUST_BE_UNSET", "User agent can only be specified in enhancements with user identifiers.", "user_agent"
	}
	switch adj.Type {
	case "RETRACTION":
		if hasRV {
			// The reference says only "An error will be returned if
			// provided for a retraction"; the enum is a guess.
			return adj, nil, "", "fieldError", "VALUE_MUST_BE_UNSET", "restatement_value should not be supplied for retractions.", "restatement_value"
		}
	case "RESTATEMENT":
		r, _ := rv.(map[string]any)
		v, ok := field(r, "adjustedValue")
		if !hasRV || r == nil || !ok {
			return adj, nil, "", "fieldError", "REQUIRED", "restatement_value.adjusted_value is required for restatements.", "restatement_value"
		}
		f, isNum := floatOf(v)
		if !isNum || f < 0 {
			return adj, nil, "", "fieldError", "INVALID_VALUE", "adjusted_value must be a non-negative number.", "restatement_value"
		}
		adj.Value = f
		if c, ok := field(r, "currencyCode"); ok {
			if s, _ := c.(string); !adsCurrencyRE.MatchString(s) {
				return adj, nil, "", "currencyCodeError", "UNSUPPORTED", "The currency code is not supported.", "restatement_value"
			}
			adj.Currency, _ = c.(string)
		}
	}
	var convAt time.Time
	switch {
	case adj.OrderID != "" && hasPair:
		return adj, nil, "", "conversionAdjustmentUploadError", "GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET", "Cannot set both gclid_date_time_pair and order_id. Use only 1 type and try again.", "order_id"
	case adj.OrderID != "":
		if strings.Contains(adj.OrderID, "@") {
			return adj, nil, "", "conversionAdjustmentUploadError", "ORDER_ID_CONTAINS_PII", "Can't use adjustment with Order IDs containing personally-identifiable information (PII).", "order_id"
		}
		key = adsAdjustKey(m[2], adj.OrderID, "", time.Time{})
	case hasPair:
		t, err := time.Parse("2006-01-02 15:04:05-07:00", adj.ConversionDateTime)
		switch {
		case adj.Gclid == "" || adj.ConversionDateTime == "":
			return adj, nil, "", "fieldError", "REQUIRED", "gclid_date_time_pair needs gclid and conversion_date_time.", "gclid_date_time_pair"
		case !adsDateTimeRE.MatchString(adj.ConversionDateTime) || err != nil:
			return adj, nil, "", "dateError", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.", "gclid_date_time_pair.conversion_date_time"
		}
		convAt = t
		key = adsAdjustKey(m[2], "", adj.Gclid, t)
	default:
		return adj, nil, "", "fieldError", "REQUIRED", "An order_id or a gclid_date_time_pair identifying the conversion is required.", "order_id"
	}
	conv = g.uploaded[key]
	if conv == nil {
		return adj, nil, "", "conversionAdjustmentUploadError", "CONVERSION_NOT_FOUND", "The conversion for this conversion action and conversion identifier can't be found. Make sure your conversion identifiers are associated with the correct conversion action and try again.", ""
	}
	if convAt.IsZero() {
		convAt = conv.at
	}
	switch {
	case conv.retracted:
		return adj, nil, "", "conversionAdjustmentUploadError", "CONVERSION_ALREADY_RETRACTED", "The conversion was already retracted. This adjustment was not processed.", ""
	case now.Sub(convAt) > adsConversionMaxAge:
		return adj, nil, "", "conversionAdjustmentUploadError", "CONVERSION_EXPIRED", "Adjustment can't be made to a conversion that occurred more than 54 days ago.", ""
	case g.adjustDelay > 0 && now.Sub(convAt) < g.adjustDelay:
		return adj, nil, "", "conversionAdjustmentUploadError", "TOO_RECENT_CONVERSION", "Adjustment can't be recorded because the conversion occurred too recently. Try adjusting a conversion that occurred at least 24 hours ago.", ""
	case !at.After(convAt):
		return adj, nil, "", "conversionAdjustmentUploadError", "ADJUSTMENT_PRECEDES_CONVERSION", "Adjustment has an `adjustment_date_time` that occurred before the associated conversion. Make sure your `adjustment_date_time` is correct and try again.", "adjustment_date_time"
	}
	if adj.Type == "RESTATEMENT" {
		for _, t := range conv.restated {
			if t.Equal(at) {
				return adj, nil, "", "conversionAdjustmentUploadError", "RESTATEMENT_ALREADY_EXISTS", "The conversion has prior a restatement with the same `adjustment_date_time`. Make sure your adjustment has the correct and unique `adjustment_date_time` and try again.", "adjustment_date_time"
			}
			if t.After(at) {
				return adj, nil, "", "conversionAdjustmentUploadError", "MORE_RECENT_RESTATEMENT_FOUND", "More recent adjustment `adjustment_date_time` has already been reported for the associated conversion. Make sure your adjustment `adjustment_date_time` is correct and try again.", "adjustment_date_time"
			}
		}
	}
	return adj, conv, key, "", "", "", ""
}

// floatOf returns a JSON number (or a numeric string, as proto3 JSON
// allows for doubles) as a float64.
func floatOf(v any) (float64, bool) {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = t.String()
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
