package capi

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"
)

// AdjustmentType is what a conversion adjustment does to a conversion
// Google Ads already has (ConversionAdjustmentType).
type AdjustmentType string

// The adjustment types clickback sends. ENHANCEMENT (adding user data to a
// tag conversion) does not apply to uploaded conversions.
const (
	// Retraction negates the conversion: its count and value become zero.
	Retraction AdjustmentType = "RETRACTION"
	// Restatement changes the conversion's value.
	Restatement AdjustmentType = "RESTATEMENT"
)

// Waits Google asks for before an adjustment can succeed:
// TOO_RECENT_CONVERSION ("Try adjusting a conversion that occurred at least
// 24 hours ago") and CONVERSION_NOT_FOUND, which for a conversion clickback
// did upload means Google has not processed the upload yet.
const (
	googleAdsTooRecentConversionWait = 24 * time.Hour
	googleAdsNotFoundWait            = time.Hour
)

// Adjustment is one change to a conversion uploaded earlier.
type Adjustment struct {
	Type AdjustmentType
	// Event is the conversion as it was uploaded (the Event given to Send):
	// its order id (else event id) identifies the conversion, exactly as
	// the upload named it; without either, its gclid and time do.
	Event Event
	// At is when the adjustment occurred: when the network reported the
	// reversal. It must be the same on every attempt, so that Google takes
	// a repeat for what it is; it is moved to one second after the
	// conversion if it is not after it, and now when zero.
	At time.Time
	// Value is the restated value in micros, in Event.Currency
	// (Restatement only; it must be positive).
	Value int64
}

type adsAdjustment struct {
	AdjustmentType     string            `json:"adjustmentType"`
	ConversionAction   string            `json:"conversionAction"`
	AdjustmentDateTime string            `json:"adjustmentDateTime"`
	OrderID            string            `json:"orderId,omitempty"`
	GclidDateTimePair  *adsGclidDateTime `json:"gclidDateTimePair,omitempty"`
	RestatementValue   *adsRestatement   `json:"restatementValue,omitempty"`
}

type adsGclidDateTime struct {
	Gclid              string `json:"gclid"`
	ConversionDateTime string `json:"conversionDateTime"`
}

type adsRestatement struct {
	AdjustedValue amount `json:"adjustedValue"`
	CurrencyCode  string `json:"currencyCode,omitempty"`
}

// adsConversionTime is the conversion_date_time an upload of ev gave, per
// buildAdsConversion: the event's time (now if in the future), whole
// seconds, moved to one second after the click if not after it.
func adsConversionTime(ev *Event, now time.Time) time.Time {
	t := sendTime(ev.Time, now).Truncate(time.Second)
	if click := ev.Click.Time.Truncate(time.Second); !ev.Click.Time.IsZero() && !t.After(click) {
		t = click.Add(time.Second)
	}
	return t.UTC()
}

// GoogleAdsConversionTime is the conversion_date_time Send uploads ev with
// (in UTC, whole seconds): an adjustment's time must be after it.
func GoogleAdsConversionTime(ev Event) time.Time {
	return adsConversionTime(&ev, time.Now())
}

// buildAdsAdjustment returns one ConversionAdjustment as JSON, or why it
// cannot be sent. A RETRACTION carries no restatementValue (Google refuses
// one); a RESTATEMENT carries the new value and its currency.
func buildAdsAdjustment(a *Adjustment, action string, now time.Time) ([]byte, *Error) {
	ev := &a.Event
	if ev.Time.IsZero() {
		return nil, invalid(PlatformGoogleAds, "the conversion has no time")
	}
	c := adsAdjustment{AdjustmentType: string(a.Type), ConversionAction: action}
	switch a.Type {
	case Retraction:
	case Restatement:
		if a.Value <= 0 {
			return nil, invalid(PlatformGoogleAds, "a restatement needs a positive value; a conversion worth nothing is retracted")
		}
		c.RestatementValue = &adsRestatement{AdjustedValue: amount(a.Value), CurrencyCode: normalizeCurrency(ev.Currency)}
	default:
		return nil, invalid(PlatformGoogleAds, "unknown adjustment type %q", a.Type)
	}
	convAt := adsConversionTime(ev, now)
	c.OrderID = strings.TrimSpace(ev.OrderID)
	if c.OrderID == "" {
		c.OrderID = strings.TrimSpace(ev.EventID)
	}
	if c.OrderID == "" {
		gclid := strings.TrimSpace(ev.Click.Gclid)
		if gclid == "" {
			return nil, skipped(PlatformGoogleAds, "the conversion has neither an order id nor a gclid to identify it by (Google Ads cannot adjust conversions uploaded by gbraid or wbraid alone)")
		}
		c.GclidDateTimePair = &adsGclidDateTime{Gclid: gclid, ConversionDateTime: convAt.Format(googleAdsTime)}
	}
	at := a.At
	if at.IsZero() {
		at = now
	}
	at = at.Truncate(time.Second)
	if !at.After(convAt) {
		at = convAt.Add(time.Second)
	}
	c.AdjustmentDateTime = at.UTC().Format(googleAdsTime)
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, invalid(PlatformGoogleAds, "cannot encode the adjustment: %v", err)
	}
	return b, nil
}

// Adjust sends conversion adjustments to Google Ads with
// POST {base}/{version}/customers/{customer_id}:uploadConversionAdjustments,
// partialFailure true, at most GoogleAdsMaxBatch per request, with the same
// OAuth, developer token and login customer id handling as Send. Each
// adjustment goes to the conversion action of creds (the one its conversion
// was uploaded to), and gets one Outcome, in order, EventID its event's.
//
// Errors are sorted like the upload's: 429 and 5xx and internal or quota
// rows are retryable; TOO_RECENT_CONVERSION (24 h), TOO_RECENT_CONVERSION_ACTION
// (6 h) and CONVERSION_NOT_FOUND (the upload not processed yet: 1 h) are
// retryable after a wait; a conversion already retracted (for a
// retraction) or a restatement already recorded with the same time is
// done (Outcome.Duplicate), so a repeat never counts twice; the rest is
// permanent with Google's message.
func (g *GoogleAds) Adjust(ctx context.Context, creds GoogleAdsCredentials, adjs []Adjustment) Result {
	res := Result{Outcomes: make([]Outcome, len(adjs))}
	for i := range adjs {
		res.Outcomes[i].EventID = adjs[i].Event.EventID
	}
	acct, err := g.check(creds)
	if err != nil {
		res.failAll(err)
		return res
	}
	now := g.c.now()
	payloads := make([][]byte, len(adjs))
	ready := make([]int, 0, len(adjs))
	for i := range adjs {
		p, err := buildAdsAdjustment(&adjs[i], acct.conversionAction, now)
		if err != nil {
			res.setErr(i, err)
			continue
		}
		payloads[i] = p
		ready = append(ready, i)
	}
	batches := chunks(ready, GoogleAdsMaxBatch)
	parallel(len(batches), g.c.opts.concurrency, func(b int) {
		idx := batches[b]
		var body bytes.Buffer
		body.Grow(listSize(payloads, idx) + 64)
		body.WriteString(`{"conversionAdjustments":`)
		writeList(&body, payloads, idx)
		body.WriteString(`,"partialFailure":true}`)
		r, err := g.call(ctx, &acct, "uploadConversionAdjustments", body.Bytes())
		if err == nil {
			var a adsAnswer
			if jerr := json.Unmarshal(r.body, &a); jerr != nil {
				err = g.c.statusError(r, "unexpected_response", "Google Ads answered 200 with a body that is not an adjustment response")
				err.Retryable = true
			} else {
				res.deliver(idx, r)
				rows := g.rowsWith(r, &a, len(idx), classifyAdsAdjustment)
				for j, i := range idx {
					row := rows[j]
					if row.duplicate && row.code == "CONVERSION_ALREADY_RETRACTED" && adjs[i].Type != Retraction {
						row = adsRow{err: &Error{Platform: PlatformGoogleAds, StatusCode: r.status, Code: row.code,
							Message: "Google Ads has retracted this conversion already: its value cannot be restated", Response: r.excerpt(), Err: ErrPlatform}}
					}
					res.Outcomes[i].Err, res.Outcomes[i].Duplicate = row.err, row.duplicate
				}
				return
			}
		}
		for _, i := range idx {
			res.setErr(i, err)
		}
	})
	return res
}

// classifyAdsAdjustment sorts one adjustment's error
// (ConversionAdjustmentUploadError and the shared categories).
func classifyAdsAdjustment(d *adsErrorDetail, status int, excerpt string) adsRow {
	e, enum, category := newAdsRowError(d, status, excerpt)
	switch {
	case enum == "CONVERSION_ALREADY_RETRACTED", enum == "RESTATEMENT_ALREADY_EXISTS":
		return adsRow{duplicate: true, code: enum}
	case transientAdsError(enum, category):
		e.Retryable = true
	case enum == "TOO_RECENT_CONVERSION":
		e.Retryable, e.RetryAfter = true, googleAdsTooRecentConversionWait
	case enum == "TOO_RECENT_CONVERSION_ACTION":
		e.Retryable, e.RetryAfter = true, googleAdsTooRecentWait
	case enum == "CONVERSION_NOT_FOUND":
		e.Retryable, e.RetryAfter = true, googleAdsNotFoundWait
	}
	return adsRow{err: e}
}
