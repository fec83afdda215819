package capi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GoogleAdsAPIVersion is the Google Ads API version of upload requests (the
// version of the spec's example, §3.2); WithAPIVersion overrides it.
const GoogleAdsAPIVersion = "v23"

// googleAdsTooRecentWait is how long Google asks to wait after TOO_RECENT_*:
// "Retry after 6 hours have passed."
const googleAdsTooRecentWait = 6 * time.Hour

// googleAdsTime is conversion_date_time's layout, yyyy-mm-dd hh:mm:ss+|-hh:mm;
// capi always writes UTC, so it ends in +00:00.
const googleAdsTime = "2006-01-02 15:04:05-07:00"

// GoogleAds uploads click conversions with
// POST {base}/{version}/customers/{customer_id}:uploadClickConversions,
// authenticated by an OAuth access token it obtains from the destination's
// refresh token and caches until it expires. It is safe for concurrent use,
// and a single GoogleAds should be shared so its token cache is.
type GoogleAds struct {
	c      client
	tokens *googleTokens
}

// NewGoogleAds returns a Google Ads client that uploads to baseURL
// (DefaultGoogleAdsURL when empty) and refreshes tokens at oauthURL
// (DefaultGoogleOAuthURL when empty; the token endpoint is {oauthURL}/token),
// both with hc.
func NewGoogleAds(baseURL, oauthURL string, hc *http.Client, opts ...Option) *GoogleAds {
	c := newClient(PlatformGoogleAds, baseURL, DefaultGoogleAdsURL, GoogleAdsAPIVersion, hc, opts)
	oc := newClient(PlatformGoogleAds, oauthURL, DefaultGoogleOAuthURL, "", hc, opts)
	return &GoogleAds{c: c, tokens: newGoogleTokens(oc)}
}

type adsConversion struct {
	Gclid              string              `json:"gclid,omitempty"`
	Gbraid             string              `json:"gbraid,omitempty"`
	Wbraid             string              `json:"wbraid,omitempty"`
	ConversionAction   string              `json:"conversionAction"`
	ConversionDateTime string              `json:"conversionDateTime"`
	ConversionValue    *amount             `json:"conversionValue,omitempty"`
	CurrencyCode       string              `json:"currencyCode,omitempty"`
	OrderID            string              `json:"orderId,omitempty"`
	UserIdentifiers    []adsUserIdentifier `json:"userIdentifiers,omitempty"`
}

// adsUserIdentifier is a oneof: exactly one of the hashed fields per object,
// a separate object for email and phone (§3.2).
type adsUserIdentifier struct {
	UserIdentifierSource string `json:"userIdentifierSource,omitempty"`
	HashedEmail          string `json:"hashedEmail,omitempty"`
	HashedPhoneNumber    string `json:"hashedPhoneNumber,omitempty"`
}

// adsAccount is the credentials, checked and put in the forms the API wants.
type adsAccount struct {
	creds            GoogleAdsCredentials
	customerID       string
	loginCustomerID  string
	conversionAction string
}

// check validates credentials and derives the customer id (hyphens removed)
// and the conversion action resource name.
func (g *GoogleAds) check(creds GoogleAdsCredentials) (adsAccount, *Error) {
	a := adsAccount{creds: creds}
	a.customerID = strings.ReplaceAll(strings.TrimSpace(creds.CustomerID), "-", "")
	a.loginCustomerID = strings.ReplaceAll(strings.TrimSpace(creds.LoginCustomerID), "-", "")
	action := strings.TrimSpace(creds.ConversionActionID)
	switch {
	case len(a.customerID) != 10 || !allDigits(a.customerID):
		return a, badCredentials(PlatformGoogleAds, "the Google Ads customer id must be 10 digits (123-456-7890)")
	case a.loginCustomerID != "" && (len(a.loginCustomerID) != 10 || !allDigits(a.loginCustomerID)):
		return a, badCredentials(PlatformGoogleAds, "the Google Ads login (manager) customer id must be 10 digits")
	case action == "":
		return a, badCredentials(PlatformGoogleAds, "the Google Ads destination has no conversion action")
	case strings.TrimSpace(creds.DeveloperToken) == "":
		return a, badCredentials(PlatformGoogleAds, "the Google Ads destination has no developer token")
	case strings.TrimSpace(creds.ClientID) == "" || strings.TrimSpace(creds.ClientSecret) == "" || strings.TrimSpace(creds.RefreshToken) == "":
		return a, badCredentials(PlatformGoogleAds, "the Google Ads destination needs an OAuth client id, client secret and refresh token")
	}
	if allDigits(action) {
		a.conversionAction = "customers/" + a.customerID + "/conversionActions/" + action
	} else if parts := strings.Split(action, "/"); len(parts) == 4 && parts[0] == "customers" && allDigits(parts[1]) &&
		parts[2] == "conversionActions" && allDigits(parts[3]) {
		a.conversionAction = action
	} else {
		return a, badCredentials(PlatformGoogleAds, "the Google Ads conversion action must be its numeric id or customers/{id}/conversionActions/{id}")
	}
	return a, nil
}

// buildAdsConversion returns one ClickConversion as JSON per §3.2-3.4, or why
// it cannot be uploaded. Exactly one click id is sent, preferring gclid, then
// gbraid, then wbraid; without any, the conversion goes as an enhanced
// conversion for leads if it has an email or phone, and is skipped otherwise.
// The time is written in UTC and moved to one second after the click if it is
// not after it, since Google refuses a conversion that precedes its click.
func buildAdsConversion(ev *Event, action string, now time.Time) ([]byte, *Error) {
	if ev.Time.IsZero() {
		return nil, invalid(PlatformGoogleAds, "the event has no time")
	}
	_, local := ev.countries()
	c := adsConversion{ConversionAction: action}
	switch {
	case strings.TrimSpace(ev.Click.Gclid) != "":
		c.Gclid = strings.TrimSpace(ev.Click.Gclid)
	case strings.TrimSpace(ev.Click.Gbraid) != "":
		c.Gbraid = strings.TrimSpace(ev.Click.Gbraid)
	case strings.TrimSpace(ev.Click.Wbraid) != "":
		c.Wbraid = strings.TrimSpace(ev.Click.Wbraid)
	}
	if em := hashWith(ev.User.Email, NormalizeGoogleEmail); em != "" {
		c.UserIdentifiers = append(c.UserIdentifiers, adsUserIdentifier{UserIdentifierSource: "FIRST_PARTY", HashedEmail: em})
	}
	if ph := hashWith(ev.User.Phone, func(s string) string { return NormalizePhone(s, local) }); ph != "" {
		c.UserIdentifiers = append(c.UserIdentifiers, adsUserIdentifier{UserIdentifierSource: "FIRST_PARTY", HashedPhoneNumber: ph})
	}
	if c.Gclid == "" && c.Gbraid == "" && c.Wbraid == "" && len(c.UserIdentifiers) == 0 {
		return nil, skipped(PlatformGoogleAds, "the conversion has no Google click id (gclid, gbraid, wbraid) and no email or phone to match it by")
	}
	c.ConversionDateTime = adsConversionTime(ev, now).Format(googleAdsTime)
	if ev.Value > 0 {
		v := amount(ev.Value)
		c.ConversionValue = &v
		c.CurrencyCode = normalizeCurrency(ev.Currency)
	}
	c.OrderID = strings.TrimSpace(ev.OrderID)
	if c.OrderID == "" {
		c.OrderID = strings.TrimSpace(ev.EventID)
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, invalid(PlatformGoogleAds, "cannot encode the conversion: %v", err)
	}
	return b, nil
}

// Send uploads events to Google Ads in requests of at most GoogleAdsMaxBatch
// conversions, with partialFailure, and reads each row's fate from the
// partial failure error (§3.6-3.7): duplicates of an earlier upload count as
// delivered (Outcome.Duplicate), INTERNAL_ERROR/TRANSIENT_ERROR rows are
// retryable, TOO_RECENT_* rows retryable after 6 hours, the rest permanent.
// A 401 refreshes the OAuth token and retries once.
func (g *GoogleAds) Send(ctx context.Context, creds GoogleAdsCredentials, events []Event) Result {
	res := newResult(events)
	acct, err := g.check(creds)
	if err != nil {
		res.failAll(err)
		return res
	}
	now := g.c.now()
	payloads := make([][]byte, len(events))
	ready := make([]int, 0, len(events))
	for i := range events {
		p, err := buildAdsConversion(&events[i], acct.conversionAction, now)
		if err != nil {
			res.setErr(i, err)
			continue
		}
		payloads[i] = p
		ready = append(ready, i)
	}
	g.sendBatches(ctx, &acct, payloads, chunks(ready, GoogleAdsMaxBatch), res, true)
	return res
}

func (g *GoogleAds) sendBatches(ctx context.Context, acct *adsAccount, payloads [][]byte, batches [][]int, res Result, isolate bool) {
	parallel(len(batches), g.c.opts.concurrency, func(b int) {
		idx := batches[b]
		rows, r, err := g.upload(ctx, acct, payloads, idx, false)
		if err != nil {
			if isolate && len(idx) > 1 && r != nil && r.status == http.StatusBadRequest && g.rowSpecific(r) {
				singles := make([][]int, len(idx))
				for j, i := range idx {
					singles[j] = []int{i}
				}
				g.sendBatches(ctx, acct, payloads, singles, res, false)
				return
			}
			for _, i := range idx {
				res.setErr(i, err)
			}
			return
		}
		res.deliver(idx, r)
		for j, i := range idx {
			res.Outcomes[i].Err, res.Outcomes[i].Duplicate = rows[j].err, rows[j].duplicate
		}
	})
}

// rowSpecific reports whether a 400 answer blames particular conversions.
func (g *GoogleAds) rowSpecific(r *reply) bool {
	_, rs := g.requestError(r)
	return rs
}

// adsRow is the fate of one conversion of an upload.
type adsRow struct {
	err       *Error
	duplicate bool
	// code is the platform's code of a duplicate.
	code string
}

type adsFailure struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Errors     []adsErrorDetail `json:"errors"`
		RetryDelay string           `json:"retryDelay"`
		RequestID  string           `json:"requestId"`
	} `json:"details"`
}

type adsErrorDetail struct {
	ErrorCode map[string]any `json:"errorCode"`
	Message   string         `json:"message"`
	Location  struct {
		FieldPathElements []struct {
			FieldName string `json:"fieldName"`
			Index     *int   `json:"index"`
		} `json:"fieldPathElements"`
	} `json:"location"`
}

// code returns the error's enum name and category ("CLICK_NOT_FOUND",
// "conversionUploadError").
func (d *adsErrorDetail) code() (enum, category string) {
	for k, v := range d.ErrorCode {
		s, _ := v.(string)
		return s, k
	}
	return "", ""
}

// row returns the index of the conversion (or conversion adjustment) the
// error is about, or -1.
func (d *adsErrorDetail) row() int {
	if p := d.Location.FieldPathElements; len(p) > 0 && (p[0].FieldName == "conversions" || p[0].FieldName == "conversion_adjustments" || p[0].FieldName == "conversionAdjustments") && p[0].Index != nil {
		return *p[0].Index
	}
	return -1
}

type adsAnswer struct {
	Results             []json.RawMessage `json:"results"`
	PartialFailureError *adsFailure       `json:"partialFailureError"`
	JobID               string            `json:"jobId"`
}

// upload sends payloads[idx] once (twice after a 401) and returns the fate of
// each row, or the error that befell the whole request.
func (g *GoogleAds) upload(ctx context.Context, acct *adsAccount, payloads [][]byte, idx []int, validateOnly bool) ([]adsRow, *reply, *Error) {
	r, err := g.call(ctx, acct, "uploadClickConversions", adsRequest(payloads, idx, validateOnly))
	if err != nil {
		return nil, r, err
	}
	var a adsAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		e := g.c.statusError(r, "unexpected_response", "Google Ads answered 200 with a body that is not an upload response")
		e.Retryable = true
		return nil, r, e
	}
	return g.rows(r, &a, len(idx)), r, nil
}

// call POSTs body to the customer's method (uploadClickConversions,
// uploadConversionAdjustments) with the OAuth token, developer token and
// login customer id, refreshing the token and trying again once after a
// 401 that a new token may cure. A non-200 answer comes back as the
// request's error, with the reply.
func (g *GoogleAds) call(ctx context.Context, acct *adsAccount, method string, body []byte) (*reply, *Error) {
	u := g.c.base + "/" + url.PathEscape(g.c.opts.version) + "/customers/" + acct.customerID + ":" + method

	var r *reply
	stale := ""
	for attempt := 0; attempt < 2; attempt++ {
		tok, err := g.tokens.token(ctx, &acct.creds, stale)
		if err != nil {
			return nil, err
		}
		hdr := jsonHeader()
		hdr.Set("Authorization", "Bearer "+tok)
		hdr.Set("developer-token", strings.TrimSpace(acct.creds.DeveloperToken))
		if acct.loginCustomerID != "" {
			hdr.Set("login-customer-id", acct.loginCustomerID)
		}
		r, err = g.c.do(ctx, http.MethodPost, u, hdr, body)
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusUnauthorized || !adsRefreshable(r) {
			break
		}
		stale = tok
	}
	if r.status != http.StatusOK {
		err, _ := g.requestError(r)
		return r, err
	}
	return r, nil
}

// adsRequest assembles the request body around already-encoded conversions,
// always with partialFailure: true (§3.2: "This should always be set to
// true").
func adsRequest(payloads [][]byte, idx []int, validateOnly bool) []byte {
	var body bytes.Buffer
	body.Grow(listSize(payloads, idx) + 64)
	body.WriteString(`{"conversions":`)
	writeList(&body, payloads, idx)
	body.WriteString(`,"partialFailure":true`)
	if validateOnly {
		body.WriteString(`,"validateOnly":true`)
	}
	body.WriteByte('}')
	return body.Bytes()
}

// adsRefreshable reports whether a 401 may be cured by a new access token:
// not when Google says the account itself cannot authenticate (§3.7).
func adsRefreshable(r *reply) bool {
	var w struct {
		Error adsFailure `json:"error"`
	}
	if json.Unmarshal(r.body, &w) != nil {
		return true
	}
	for _, d := range w.Error.Details {
		for _, e := range d.Errors {
			switch enum, _ := e.code(); enum {
			case "TWO_STEP_VERIFICATION_NOT_ENROLLED", "CUSTOMER_NOT_FOUND", "ADVANCED_PROTECTION_NOT_ENROLLED", "NOT_ADS_USER", "GOOGLE_ACCOUNT_DELETED", "DEVELOPER_TOKEN_INVALID":
				return false
			}
		}
	}
	return true
}

// requestError classifies a non-200 answer by its HTTP status (§3.7): 429 and
// 5xx retry, everything else — 400, 403, 404, and a 401 that survived a fresh
// token — is permanent. The first error's enum and message are kept. rowSpecific
// reports whether the errors point at particular conversions, so that the
// others can be sent again without them.
func (g *GoogleAds) requestError(r *reply) (err *Error, rowSpecific bool) {
	var w struct {
		Error adsFailure `json:"error"`
	}
	_ = json.Unmarshal(r.body, &w) // an unreadable body is judged by its status
	code, msg := w.Error.Status, w.Error.Message
	var retryDelay time.Duration
	first := true
	for _, d := range w.Error.Details {
		if d.RetryDelay != "" {
			retryDelay, _ = time.ParseDuration(d.RetryDelay)
		}
		for k := range d.Errors {
			e := &d.Errors[k]
			rowSpecific = rowSpecific || e.row() >= 0
			if !first {
				continue
			}
			first = false
			if enum, _ := e.code(); enum != "" {
				code = enum
			}
			if e.Message != "" {
				msg = e.Message
			}
		}
	}
	if r.status == http.StatusUnauthorized {
		msg = "Google Ads refused the OAuth credentials: " + msg
	}
	err = g.c.statusError(r, code, msg)
	err.Retryable = r.status == http.StatusTooManyRequests || r.status >= 500
	if err.RetryAfter == 0 {
		err.RetryAfter = retryDelay
	}
	return err, rowSpecific && r.status == http.StatusBadRequest
}

// rows maps a 200 answer back to its n conversions. A row with an error in
// partialFailureError is classified by its code; a row left as {} in results
// without a matching error fails with the top-level message; any other row
// was accepted. With validateOnly, results may be missing altogether: rows
// without an error passed.
func (g *GoogleAds) rows(r *reply, a *adsAnswer, n int) []adsRow {
	return g.rowsWith(r, a, n, classifyAdsRow)
}

// rowsWith is rows with the row classifier of the method called.
func (g *GoogleAds) rowsWith(r *reply, a *adsAnswer, n int, classify func(*adsErrorDetail, int, string) adsRow) []adsRow {
	out := make([]adsRow, n)
	pf := a.PartialFailureError
	if pf == nil || (pf.Code == 0 && len(pf.Details) == 0) {
		return out
	}
	excerpt := r.excerpt()
	seen := make([]bool, n)
	for _, d := range pf.Details {
		for k := range d.Errors {
			e := &d.Errors[k]
			i := e.row()
			if i < 0 || i >= n || seen[i] {
				continue
			}
			seen[i] = true
			out[i] = classify(e, r.status, excerpt)
		}
	}
	for i := range out {
		if seen[i] || i >= len(a.Results) || !emptyJSONObject(a.Results[i]) {
			continue
		}
		out[i].err = &Error{Platform: PlatformGoogleAds, StatusCode: r.status, Code: "PARTIAL_FAILURE",
			Message: shortMessage(pf.Message), Response: excerpt, Err: ErrPlatform}
	}
	return out
}

// newAdsRowError is the Error of one row of a partial failure (an upload's
// or an adjustment's), not yet sorted, with the row's error enum and
// category.
func newAdsRowError(d *adsErrorDetail, status int, excerpt string) (e *Error, enum, category string) {
	enum, category = d.code()
	e = &Error{Platform: PlatformGoogleAds, StatusCode: status, Code: enum, Message: shortMessage(d.Message),
		Response: excerpt, Err: ErrPlatform}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%s %s", category, enum)
	}
	return e, enum, category
}

// transientAdsError reports whether a row error of any Google Ads upload
// may pass: internal and quota errors.
func transientAdsError(enum, category string) bool {
	return category == "internalError" || category == "quotaError" || enum == "INTERNAL_ERROR" || enum == "TRANSIENT_ERROR"
}

// classifyAdsRow sorts one conversion's error per the §3.7 row table.
func classifyAdsRow(d *adsErrorDetail, status int, excerpt string) adsRow {
	e, enum, category := newAdsRowError(d, status, excerpt)
	switch {
	case enum == "CLICK_CONVERSION_ALREADY_EXISTS", enum == "ORDER_ID_ALREADY_IN_USE":
		return adsRow{duplicate: true, code: enum}
	case transientAdsError(enum, category):
		e.Retryable = true
	case enum == "TOO_RECENT_EVENT", enum == "TOO_RECENT_CONVERSION_ACTION", enum == "TOO_RECENT_CALL":
		e.Retryable, e.RetryAfter = true, googleAdsTooRecentWait
	}
	return adsRow{err: e}
}

// emptyJSONObject reports whether raw is {} (a failed row in results).
func emptyJSONObject(raw json.RawMessage) bool {
	return string(bytes.Join(bytes.Fields(raw), nil)) == "{}"
}

// Test uploads ev with validateOnly, so Google checks it without recording
// it, and reports the errors Google found.
func (g *GoogleAds) Test(ctx context.Context, creds GoogleAdsCredentials, ev Event) TestReport {
	acct, err := g.check(creds)
	if err != nil {
		return failedReport(err)
	}
	p, err := buildAdsConversion(&ev, acct.conversionAction, g.c.now())
	if err != nil {
		return failedReport(err)
	}
	rows, r, err := g.upload(ctx, &acct, [][]byte{p}, []int{0}, true)
	if err != nil {
		return failedReport(err)
	}
	rep := TestReport{StatusCode: r.status, Response: r.excerpt()}
	row := rows[0]
	if row.err != nil {
		rep.Err = row.err
		rep.Messages = []string{row.err.Code + ": " + row.err.Message}
		rep.Summary = "Google Ads would reject this conversion."
		return rep
	}
	if row.duplicate {
		rep.Messages = []string{"Google Ads already has a conversion with this order id or click and time."}
	}
	rep.OK = true
	rep.Summary = "Google Ads validated the conversion (validateOnly: nothing was recorded). Credentials, customer " +
		acct.customerID + " and conversion action " + acct.conversionAction + " work."
	return rep
}
