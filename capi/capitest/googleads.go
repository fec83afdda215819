package capitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	adsVersionRE  = regexp.MustCompile(`^v\d+$`)
	adsActionRE   = regexp.MustCompile(`^customers/(\d+)/conversionActions/(\d+)$`)
	adsDateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$`)
	adsClickIDRE  = regexp.MustCompile(`^[A-Za-z0-9_\-]+$`)
	adsCurrencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

	// adsConversionFields are ClickConversion's fields (§3.2), in the
	// proto3 JSON names; snake_case spellings are accepted too.
	adsConversionFields = []string{
		"gclid", "gbraid", "wbraid", "conversionAction", "conversionDateTime", "conversionValue",
		"currencyCode", "orderId", "externalAttributionData", "customVariables", "cartData",
		"userIdentifiers", "conversionEnvironment", "consent", "customerType", "userIpAddress",
		"sessionAttributesEncoded", "sessionAttributesKeyValuePairs",
	}
	adsRequestFields = []string{"conversions", "partialFailure", "validateOnly", "jobId", "debugEnabled"}
)

// snake turns a lowerCamelCase name into snake_case.
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// field returns obj's value for a proto field under either JSON spelling.
func field(obj map[string]any, camel string) (any, bool) {
	if v, ok := obj[camel]; ok {
		return v, true
	}
	v, ok := obj[snake(camel)]
	return v, ok
}

// unknownField returns the first key of obj that is not one of names (in
// either spelling), in sorted order.
func unknownField(obj map[string]any, names []string) string {
	known := map[string]bool{}
	for _, n := range names {
		known[n], known[snake(n)] = true, true
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			return k
		}
	}
	return ""
}

// adsRowFault is an error injected for one click id or order id.
type adsRowFault struct{ category, enum, message string }

// GoogleAds is a fake Google Ads API for
// POST {URL}/{version}/customers/{customer_id}:uploadClickConversions and
// :uploadConversionAdjustments (see serveAdjustments for the latter).
//
// It checks the OAuth bearer token against a GoogleOAuth fake, the
// developer-token and login-customer-id headers, and the request per §3.1-3.4:
// customer id of 10 digits, partialFailure true, 1 to 2000 conversions, and
// per conversion the resource name, the date-time format with its offset,
// exactly one of gclid/gbraid/wbraid (none only with user identifiers), at
// most 5 user identifiers each holding exactly one SHA-256 email or phone, a
// 3-letter currency, and the duplicate rules. Row errors come back the way
// Google sends them (§3.6): HTTP 200 with partialFailureError and {} rows.
// Accepted conversions are recorded by order id (or click id and time); a
// re-upload is refused as ORDER_ID_ALREADY_IN_USE or
// CLICK_CONVERSION_ALREADY_EXISTS, so CountByEventID never exceeds 1 here.
type GoogleAds struct {
	*Fake
	oauth *GoogleOAuth

	mu             sync.Mutex
	uploaded       map[string]*adsUploaded
	adjustments    []Adjustment
	adjustDelay    time.Duration
	devToken       string
	requireToken   bool
	actions        map[string]bool
	clicks         map[string]time.Time
	rowFaults      map[string]adsRowFault
	orders         map[string]bool
	clickConverted map[string]bool
	jobs           int64
}

// NewGoogleAds starts a fake Google Ads API that accepts the access tokens
// oauth issued (any non-empty bearer token when oauth is nil), any developer
// token, and any conversion action, until told otherwise.
func NewGoogleAds(tb testing.TB, oauth *GoogleOAuth) *GoogleAds {
	g := &GoogleAds{
		oauth:          oauth,
		requireToken:   true,
		clicks:         map[string]time.Time{},
		rowFaults:      map[string]adsRowFault{},
		orders:         map[string]bool{},
		clickConverted: map[string]bool{},
		uploaded:       map[string]*adsUploaded{},
		jobs:           5353383680802491057,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/customers/{target}", g.serveUpload)
	g.Fake = newFake(tb, mux)
	return g
}

// SetDeveloperToken makes token the only developer token accepted.
func (g *GoogleAds) SetDeveloperToken(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.devToken = token
}

// RequireDeveloperToken sets whether the developer-token header is required
// (the default); some 2026 docs omit it (§3.1, §7).
func (g *GoogleAds) RequireDeveloperToken(required bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requireToken = required
}

// SetConversionActions makes ids (numeric) the only conversion actions that
// exist; others get NO_CONVERSION_ACTION_FOUND.
func (g *GoogleAds) SetConversionActions(ids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.actions = map[string]bool{}
	for _, id := range ids {
		g.actions[id] = true
	}
}

// RegisterClick tells the fake when a click happened, enabling the time
// rules for conversions of that click id: CONVERSION_PRECEDES_EVENT,
// EXPIRED_EVENT (older than 90 days) and TOO_RECENT_EVENT (under 6 hours).
func (g *GoogleAds) RegisterClick(clickID string, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clicks[clickID] = at
}

// FailRow makes every conversion whose click id or order id is id fail with
// the given error (category "conversionUploadError", enum
// "CLICK_NOT_FOUND", say), until ClearRowFaults.
func (g *GoogleAds) FailRow(id, category, enum, message string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rowFaults[id] = adsRowFault{category, enum, message}
}

// ClearRowFaults removes the errors FailRow injected.
func (g *GoogleAds) ClearRowFaults() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rowFaults = map[string]adsRowFault{}
}

// GoogleAdsError is a request-level Google Ads error answer (§3.6):
// status like "INVALID_ARGUMENT", one error with errorCode {category: enum}.
func GoogleAdsError(httpStatus int, status, category, enum, message string) Fault {
	b, _ := json.Marshal(adsErrorBody("v23", httpStatus, status, message, []map[string]any{adsErrorDetail(category, enum, message, nil)}))
	return Fault{Status: httpStatus, Body: string(b)}
}

// GoogleAdsQuotaExhausted is a 429 RESOURCE_EXHAUSTED with a retryDelay.
func GoogleAdsQuotaExhausted(retryDelay time.Duration) Fault {
	body := adsErrorBody("v23", http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
		[]map[string]any{adsErrorDetail("quotaError", "RESOURCE_EXHAUSTED", "Too many requests. Retry in "+retryDelay.String()+".", nil)})
	details := body["error"].(map[string]any)["details"].([]any)
	body["error"].(map[string]any)["details"] = append(details, map[string]any{
		"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": fmt.Sprintf("%ds", int(retryDelay.Seconds())),
	})
	b, _ := json.Marshal(body)
	return Fault{Status: http.StatusTooManyRequests, Body: string(b)}
}

// GoogleAdsTwoStepNotEnrolled is the 401 that a new token does not cure.
func GoogleAdsTwoStepNotEnrolled() Fault {
	return GoogleAdsError(http.StatusUnauthorized, "UNAUTHENTICATED", "authenticationError", "TWO_STEP_VERIFICATION_NOT_ENROLLED",
		"An account administrator changed this account's authentication settings. To access this Google Ads account, enable 2-Step Verification in your Google account at https://www.google.com/landing/2step.")
}

// adsErrorDetail is one GoogleAdsError entry.
func adsErrorDetail(category, enum, message string, location []map[string]any) map[string]any {
	d := map[string]any{"errorCode": map[string]any{category: enum}, "message": message}
	if location != nil {
		d["location"] = map[string]any{"fieldPathElements": location}
	}
	return d
}

// adsErrorBody is a request-level error: {"error":{code,message,status,details}}.
func adsErrorBody(version string, httpStatus int, status, message string, errs []map[string]any) map[string]any {
	e := map[string]any{"code": httpStatus, "message": message, "status": status}
	if len(errs) > 0 {
		e["details"] = []any{map[string]any{
			"@type":     "type.googleapis.com/google.ads.googleads." + version + ".errors.GoogleAdsFailure",
			"errors":    errs,
			"requestId": fmt.Sprintf("fake%d", time.Now().UnixNano()%1e9),
		}}
	}
	return map[string]any{"error": e}
}

func (g *GoogleAds) serveUpload(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	customer, method, _ := strings.Cut(r.PathValue("target"), ":")
	if !adsVersionRE.MatchString(version) || (method != "uploadClickConversions" && method != "uploadConversionAdjustments") {
		g.reject(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "Method not found.", "status": "NOT_FOUND"}}, "unknown path")
		return
	}
	fail := func(httpStatus int, status, category, enum, message, reason string) {
		g.reject(w, httpStatus, adsErrorBody(version, httpStatus, status, message, []map[string]any{adsErrorDetail(category, enum, message, nil)}), reason)
	}
	if ok, enum := g.authorized(r.Header.Get("Authorization")); !ok {
		fail(http.StatusUnauthorized, "UNAUTHENTICATED", "authenticationError", enum,
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "bad bearer token: "+enum)
		return
	}
	g.mu.Lock()
	wantDev, requireDev := g.devToken, g.requireToken
	g.mu.Unlock()
	switch dev := r.Header.Get("developer-token"); {
	case dev == "" && requireDev:
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING", "The developer-token parameter is required for all requests.", "developer-token missing")
		return
	case dev != "" && wantDev != "" && dev != wantDev:
		fail(http.StatusUnauthorized, "UNAUTHENTICATED", "authenticationError", "DEVELOPER_TOKEN_INVALID", "The developer token is not valid.", "developer-token wrong")
		return
	}
	if login := r.Header.Get("login-customer-id"); login != "" && (len(login) != 10 || !allDigits(login)) {
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "requestError", "INVALID_CUSTOMER_ID", "Invalid login-customer-id header: it must be 10 digits without hyphens.", "bad login-customer-id")
		return
	}
	if len(customer) != 10 || !allDigits(customer) {
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "requestError", "INVALID_CUSTOMER_ID", "Invalid customer ID '"+customer+"'.", "bad customer id")
		return
	}
	b, err := readAll(r)
	var body map[string]any
	if err == nil {
		body, err = decodeObject(b)
	}
	if err != nil {
		g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), nil), "bad JSON")
		return
	}
	if method == "uploadConversionAdjustments" {
		g.serveAdjustments(w, version, body)
		return
	}
	if k := unknownField(body, adsRequestFields); k != "" {
		g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k), nil), "unknown field "+k)
		return
	}
	convs, _ := body["conversions"].([]any)
	pf, _ := field(body, "partialFailure")
	validateOnly, _ := field(body, "validateOnly")
	switch {
	case len(convs) == 0:
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "fieldError", "REQUIRED", "The required field was not present.", "no conversions")
		return
	case len(convs) > 2000:
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "conversionUploadError", "TOO_MANY_CONVERSIONS_IN_REQUEST", "Upload fewer than 2001 events in a single request.", "over 2000 conversions")
		return
	case pf != true:
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "fieldError", "REQUIRED", "partial_failure is required and should always be set to true.", "partialFailure not true")
		return
	}
	if j, ok := field(body, "jobId"); ok {
		if n, isInt := integer(j); !isInt || n < 0 || n >= 1<<31 {
			fail(http.StatusBadRequest, "INVALID_ARGUMENT", "conversionUploadError", "INVALID_JOB_ID", "The provided job id in the request is not within the allowed range. A job ID must be a positive integer in the range [1, 2^31).", "bad job id")
			return
		}
	}
	for i, c := range convs {
		obj, ok := c.(map[string]any)
		if !ok {
			g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. conversions[%d] is not an object.", i), nil), "conversion not an object")
			return
		}
		if k := unknownField(obj, adsConversionFields); k != "" {
			g.reject(w, http.StatusBadRequest, adsErrorBody(version, 400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'conversions[%d]': Cannot find field.", k, i), nil), "unknown field "+k)
			return
		}
	}
	g.upload(w, version, convs, validateOnly == true)
}

// authorized checks the bearer token, returning the authenticationError enum
// when it is refused.
func (g *GoogleAds) authorized(header string) (bool, string) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return false, "OAUTH_TOKEN_HEADER_INVALID"
	}
	if g.oauth == nil {
		return true, ""
	}
	valid, known := g.oauth.Check(token)
	switch {
	case valid:
		return true, ""
	case known:
		return false, "OAUTH_TOKEN_EXPIRED"
	}
	return false, "OAUTH_TOKEN_INVALID"
}

// adsRow is one conversion being judged.
type adsRow struct {
	obj    map[string]any
	click  string
	at     time.Time
	order  string
	action string
}

// upload judges each conversion, records the good ones (unless validateOnly)
// and answers with results and partialFailureError.
func (g *GoogleAds) upload(w http.ResponseWriter, version string, convs []any, validateOnly bool) {
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []map[string]any
	results := make([]any, len(convs))
	var accepted []Event
	seenOrders, seenClicks := map[string]bool{}, map[string]bool{}
	for i, c := range convs {
		row := adsRow{obj: c.(map[string]any)}
		category, enum, message, fieldName := g.judge(&row, now)
		if enum == "" {
			orderKey, clickKey := row.action+"|"+row.order, row.action+"|"+row.click+"|"+row.at.UTC().Format(time.RFC3339)
			switch {
			case row.order != "" && seenOrders[orderKey]:
				category, enum, message, fieldName = "conversionUploadError", "DUPLICATE_ORDER_ID", "Imported events include multiple conversions with the same order ID and were not processed.  Make sure order IDs are unique and try again.", "order_id"
			case row.order != "" && g.orders[orderKey]:
				category, enum, message, fieldName = "conversionUploadError", "ORDER_ID_ALREADY_IN_USE", "The imported event includes an order ID that was previously recorded, so the event was not processed.", "order_id"
			case row.click != "" && seenClicks[clickKey]:
				category, enum, message, fieldName = "conversionUploadError", "DUPLICATE_CLICK_CONVERSION_IN_REQUEST", "Multiple events have the same click and `conversion_date_time`. Make sure your `conversion_date_time` is correctly configured and try again.", "conversion_date_time"
			case row.click != "" && g.clickConverted[clickKey]:
				category, enum, message, fieldName = "conversionUploadError", "CLICK_CONVERSION_ALREADY_EXISTS", "The imported event has the same click and `conversion_date_time` as an existing conversion. Use a unique `conversion_date_time` or order ID for each unique event and try again.", "conversion_date_time"
			}
			if enum == "" {
				seenOrders[orderKey], seenClicks[clickKey] = row.order != "", row.click != ""
				if !validateOnly {
					g.orders[orderKey], g.clickConverted[clickKey] = row.order != "", row.click != ""
					g.remember(&row)
				}
			}
		}
		if enum != "" {
			loc := []map[string]any{{"fieldName": "conversions", "index": i}}
			if fieldName != "" {
				loc = append(loc, map[string]any{"fieldName": fieldName})
			}
			errs = append(errs, adsErrorDetail(category, enum, message, loc))
			results[i] = map[string]any{}
			continue
		}
		res := map[string]any{"conversionAction": row.action}
		dt, _ := field(row.obj, "conversionDateTime")
		res["conversionDateTime"] = dt
		for _, k := range []string{"gclid", "gbraid", "wbraid", "orderId", "userIdentifiers"} {
			if v, ok := field(row.obj, k); ok {
				res[k] = v
			}
		}
		results[i] = res
		id := row.order
		if id == "" {
			id = row.click + "|" + fmt.Sprint(dt)
		}
		accepted = append(accepted, Event{ID: id, Name: row.action, Time: row.at, Fields: row.obj})
	}
	answer := map[string]any{}
	if !validateOnly {
		g.jobs++
		answer["results"] = results
		answer["jobId"] = fmt.Sprint(g.jobs)
	}
	if len(errs) > 0 {
		answer["partialFailureError"] = g.partialFailure(version, "conversions", errs)
	}
	if !validateOnly && len(accepted) > 0 {
		g.record(accepted...)
	}
	writeJSON(w, http.StatusOK, answer)
}

// judge applies the per-conversion rules of §3.2-3.3 and returns the first
// error's category, enum, message and field ("" enum when the row is fine).
// It fills row with the parsed values. The caller holds g.mu.
func (g *GoogleAds) judge(row *adsRow, now time.Time) (category, enum, message, fieldName string) {
	obj := row.obj
	str := func(name string) string {
		v, _ := field(obj, name)
		s, _ := v.(string)
		return s
	}
	row.action = str("conversionAction")
	gclid, gbraid, wbraid := str("gclid"), str("gbraid"), str("wbraid")
	row.click = gclid + gbraid + wbraid
	row.order = str("orderId")
	for _, id := range []string{gclid, gbraid, wbraid, row.order} {
		if f, ok := g.rowFaults[id]; ok && id != "" {
			return f.category, f.enum, f.message, ""
		}
	}
	m := adsActionRE.FindStringSubmatch(row.action)
	switch {
	case row.action == "":
		return "fieldError", "REQUIRED", "The required field was not present.", "conversion_action"
	case m == nil:
		return "requestError", "RESOURCE_NAME_MALFORMED", "The resource name is malformed.", "conversion_action"
	case g.actions != nil && !g.actions[m[2]]:
		return "conversionUploadError", "NO_CONVERSION_ACTION_FOUND", "The conversion action specified in the upload request cannot be found. Make sure it's available in this account.", "conversion_action"
	}
	dt := str("conversionDateTime")
	at, err := time.Parse("2006-01-02 15:04:05-07:00", dt)
	if !adsDateTimeRE.MatchString(dt) || err != nil {
		return "dateError", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET", "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.", "conversion_date_time"
	}
	row.at = at
	ids, hasIDs := field(obj, "userIdentifiers")
	idList, _ := ids.([]any)
	switch {
	case gbraid != "" && wbraid != "":
		return "conversionUploadError", "GBRAID_WBRAID_BOTH_SET", "Can't use both gbraid and wbraid parameters. Use only 1 and try again.", "wbraid"
	case gclid != "" && (gbraid != "" || wbraid != ""):
		return "fieldError", "VALUE_MUST_BE_UNSET", "Set exactly one of gclid, gbraid and wbraid.", "gbraid"
	case gclid == "" && gbraid == "" && wbraid == "" && len(idList) == 0:
		return "fieldError", "REQUIRED", "A click id (gclid, gbraid or wbraid) or a user identifier is required.", "gclid"
	case gclid != "" && !adsClickIDRE.MatchString(gclid):
		return "conversionUploadError", "UNPARSEABLE_GCLID", "The imported gclid could not be decoded.", "gclid"
	case gbraid != "" && !adsClickIDRE.MatchString(gbraid):
		return "conversionUploadError", "UNPARSEABLE_GBRAID", "Can't parse event import data. Check if your gbraid parameter was not modified and try again.", "gbraid"
	case wbraid != "" && !adsClickIDRE.MatchString(wbraid):
		return "conversionUploadError", "UNPARSEABLE_WBRAID", "Can't parse event import data. Check if your wbraid parameter was not modified and try again.", "wbraid"
	}
	if hasIDs {
		if category, enum, message := judgeUserIdentifiers(ids); enum != "" {
			return category, enum, message, "user_identifiers"
		}
	}
	if v, ok := field(obj, "conversionValue"); ok && !number(v) {
		if s, isString := v.(string); !isString || !isNumeric(s) {
			return "fieldError", "INVALID_VALUE", "conversion_value must be a number.", "conversion_value"
		}
	}
	if c, ok := field(obj, "currencyCode"); ok {
		if s, _ := c.(string); !adsCurrencyRE.MatchString(s) {
			return "currencyCodeError", "UNSUPPORTED", "The currency code is not supported.", "currency_code"
		}
	}
	if strings.Contains(row.order, "@") {
		return "conversionUploadError", "ORDER_ID_CONTAINS_PII", "Can't import events with order IDs containing personally-identifiable information (PII).", "order_id"
	}
	if click, ok := g.clicks[row.click]; ok && row.click != "" {
		switch {
		case at.Before(click):
			return "conversionUploadError", "CONVERSION_PRECEDES_EVENT", "The imported event has a `conversion_date_time` that precedes the click. Make sure your `conversion_date_time` is correct and try again.", "conversion_date_time"
		case at.Sub(click) > 90*24*time.Hour:
			return "conversionUploadError", "EXPIRED_EVENT", "The imported event can't be recorded because its click occurred before this conversion's click-through window. Make sure you import the most recent data.", ""
		case now.Sub(click) < 6*time.Hour:
			return "conversionUploadError", "TOO_RECENT_EVENT", "The click associated with the given identifier or iOS URL parameter occurred less than 6 hours ago. Retry after 6 hours have passed.", ""
		}
	}
	return "", "", "", ""
}

// judgeUserIdentifiers applies the UserIdentifier rules: at most 5, each a
// oneof holding exactly one of hashedEmail/hashedPhoneNumber as SHA-256 hex.
func judgeUserIdentifiers(v any) (category, enum, message string) {
	list, ok := v.([]any)
	if !ok {
		return "fieldError", "INVALID_VALUE", "user_identifiers must be a list."
	}
	if len(list) > 5 {
		return "collectionSizeError", "TOO_MANY", "Too many user identifiers: at most 5 are allowed."
	}
	for _, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return "fieldError", "INVALID_VALUE", "Each user identifier must be an object."
		}
		var kinds []string
		for _, k := range []string{"hashedEmail", "hashedPhoneNumber", "mobileId", "thirdPartyUserId", "addressInfo"} {
			if _, ok := field(obj, k); ok {
				kinds = append(kinds, k)
			}
		}
		if src, ok := field(obj, "userIdentifierSource"); ok {
			switch src {
			case "FIRST_PARTY", "THIRD_PARTY", "UNSPECIFIED", "UNKNOWN":
			default:
				return "fieldError", "INVALID_VALUE", "user_identifier_source must be FIRST_PARTY or THIRD_PARTY."
			}
		}
		switch {
		case len(kinds) != 1:
			return "conversionUploadError", "INVALID_USER_IDENTIFIER", "Make sure you hash user provided data using SHA-256 and ensure you are normalizing according to the guidelines."
		case kinds[0] != "hashedEmail" && kinds[0] != "hashedPhoneNumber":
			return "conversionUploadError", "UNSUPPORTED_USER_IDENTIFIER", "The provided user identifiers are not supported. Use only hashed email or phone number and try again."
		}
		h, _ := field(obj, kinds[0])
		if s, _ := h.(string); !validHash(s) {
			return "conversionUploadError", "INVALID_USER_IDENTIFIER", "Make sure you hash user provided data using SHA-256 and ensure you are normalizing according to the guidelines."
		}
	}
	return "", "", ""
}

// isNumeric reports whether s is a decimal number (proto3 JSON accepts
// numbers as strings for double fields).
func isNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// partialFailure is the partialFailureError of an answer whose rows errs
// failed, as Google words it: the first error's message at its field path
// (list is the request's field of rows; version the API version of the
// path), and every error in a GoogleAdsFailure.
func (g *GoogleAds) partialFailure(version, list string, errs []map[string]any) map[string]any {
	first := errs[0]
	loc := first["location"].(map[string]any)["fieldPathElements"].([]map[string]any)
	path := fmt.Sprintf("%s[%d]", list, loc[0]["index"])
	if len(loc) > 1 {
		path += "." + loc[1]["fieldName"].(string)
	}
	msg := fmt.Sprintf("%s, at %s", first["message"], path)
	if len(errs) > 1 {
		msg = "Multiple errors in 'details'. First error: " + msg
	}
	return map[string]any{
		"code":    3,
		"message": msg,
		"details": []any{map[string]any{
			"@type":     "type.googleapis.com/google.ads.googleads." + version + ".errors.GoogleAdsFailure",
			"errors":    errs,
			"requestId": fmt.Sprintf("fake%d", g.jobs),
		}},
	}
}
