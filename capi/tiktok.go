package capi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// tiktokCurrencies are the currencies TikTok's Events API supports (§4.3).
// A value in another currency is sent without value and currency rather than
// relabelled as USD (PostHog's approach), which would misstate it.
var tiktokCurrencies = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP
		EUR GBP GTQ HKD HNL HUF IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR
		PEN PHP PKR PLN PYG QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR`) {
		tiktokCurrencies[c] = true
	}
}

// TikTok sends conversions to the TikTok Events API 2.0:
// POST {base}/open_api/v1.3/event/track/ with the Access-Token header. It is
// safe for concurrent use. TikTok answers HTTP 200 to errors too; the verdict
// is the body's code (§4.5).
type TikTok struct {
	c client
}

// NewTikTok returns a TikTok client that sends to baseURL (DefaultTikTokURL
// when empty) with hc.
func NewTikTok(baseURL string, hc *http.Client, opts ...Option) *TikTok {
	return &TikTok{c: newClient(PlatformTikTok, baseURL, DefaultTikTokURL, "", hc, opts)}
}

type tiktokEvent struct {
	Event      string            `json:"event"`
	EventTime  int64             `json:"event_time"`
	EventID    string            `json:"event_id,omitempty"`
	User       tiktokUser        `json:"user"`
	Properties *tiktokProperties `json:"properties,omitempty"`
	Page       *tiktokPage       `json:"page,omitempty"`
}

type tiktokUser struct {
	Ttclid     string `json:"ttclid,omitempty"`
	Ttp        string `json:"ttp,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	IP         string `json:"ip,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
}

type tiktokProperties struct {
	Value    *amount `json:"value,omitempty"`
	Currency string  `json:"currency,omitempty"`
	OrderID  string  `json:"order_id,omitempty"`
}

type tiktokPage struct {
	URL      string `json:"url,omitempty"`
	Referrer string `json:"referrer,omitempty"`
}

// buildTikTokEvent returns one event as JSON per §4.2-4.4: email trimmed,
// lowercased and hashed; phone in E.164 (without +86 for China) and hashed;
// external id hashed; ttclid, ttp, IP and user agent plain.
func buildTikTokEvent(ev *Event, now time.Time) ([]byte, *Error) {
	name := strings.TrimSpace(ev.EventName)
	if name == "" {
		return nil, invalid(PlatformTikTok, "the event has no name")
	}
	if ev.Time.IsZero() {
		return nil, invalid(PlatformTikTok, "the event has no time")
	}
	_, local := ev.countries()
	te := tiktokEvent{
		Event:     name,
		EventTime: sendTime(ev.Time, now).Unix(),
		EventID:   strings.TrimSpace(ev.EventID),
		User: tiktokUser{
			Ttclid:     plain(ev.Click.Ttclid),
			Ttp:        plain(ev.Click.TTP),
			Email:      hashWith(ev.User.Email, NormalizeEmail),
			Phone:      hashWith(ev.User.Phone, func(s string) string { return TikTokPhone(s, local) }),
			ExternalID: hashWith(ev.User.ExternalID, NormalizeExternalID),
			UserAgent:  plain(ev.UserAgent),
		},
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(ev.ClientIP)); err == nil {
		te.User.IP = ip.Unmap().String()
	}
	var p tiktokProperties
	if c := normalizeCurrency(ev.Currency); ev.Value != 0 && tiktokCurrencies[c] {
		v := amount(ev.Value)
		p.Value, p.Currency = &v, c
	}
	p.OrderID = strings.TrimSpace(ev.OrderID)
	if p != (tiktokProperties{}) {
		te.Properties = &p
	}
	if pg := (tiktokPage{URL: strings.TrimSpace(ev.SourceURL), Referrer: strings.TrimSpace(ev.Referrer)}); pg != (tiktokPage{}) {
		te.Page = &pg
	}
	b, err := json.Marshal(&te)
	if err != nil {
		return nil, invalid(PlatformTikTok, "cannot encode the event: %v", err)
	}
	return b, nil
}

// check validates credentials before anything is built.
func (t *TikTok) check(creds TikTokCredentials) *Error {
	switch {
	case strings.TrimSpace(creds.PixelCode) == "":
		return badCredentials(PlatformTikTok, "the TikTok destination has no pixel code")
	case strings.TrimSpace(creds.AccessToken) == "":
		return badCredentials(PlatformTikTok, "the TikTok destination has no access token")
	}
	return nil
}

// Send delivers events to TikTok in requests of at most TikTokMaxBatch
// events. TikTok fails a whole batch for one bad row; if it does (40002), the
// batch's events are resent one by one so only the culprit fails.
func (t *TikTok) Send(ctx context.Context, creds TikTokCredentials, events []Event) Result {
	res := newResult(events)
	if err := t.check(creds); err != nil {
		res.failAll(err)
		return res
	}
	now := t.c.now()
	payloads := make([][]byte, len(events))
	ready := make([]int, 0, len(events))
	for i := range events {
		p, err := buildTikTokEvent(&events[i], now)
		if err != nil {
			res.setErr(i, err)
			continue
		}
		payloads[i] = p
		ready = append(ready, i)
	}
	t.sendBatches(ctx, creds, payloads, chunks(ready, TikTokMaxBatch), res, true)
	return res
}

func (t *TikTok) sendBatches(ctx context.Context, creds TikTokCredentials, payloads [][]byte, batches [][]int, res Result, isolate bool) {
	parallel(len(batches), t.c.opts.concurrency, func(b int) {
		idx := batches[b]
		r, _, err := t.post(ctx, creds, payloads, idx)
		if err == nil {
			res.deliver(idx, r)
			return
		}
		if isolate && len(idx) > 1 && err.Code == "40002" {
			singles := make([][]int, len(idx))
			for j, i := range idx {
				singles[j] = []int{i}
			}
			t.sendBatches(ctx, creds, payloads, singles, res, false)
			return
		}
		for _, i := range idx {
			res.setErr(i, err)
		}
	})
}

// tiktokRequest assembles the request body around already-encoded events.
func tiktokRequest(creds TikTokCredentials, payloads [][]byte, idx []int) []byte {
	var body bytes.Buffer
	body.Grow(listSize(payloads, idx) + len(creds.PixelCode) + len(creds.TestEventCode) + 80)
	body.WriteString(`{"event_source":"web","event_source_id":`)
	writeJSONString(&body, strings.TrimSpace(creds.PixelCode))
	if code := strings.TrimSpace(creds.TestEventCode); code != "" {
		body.WriteString(`,"test_event_code":`)
		writeJSONString(&body, code)
	}
	body.WriteString(`,"data":`)
	writeList(&body, payloads, idx)
	body.WriteByte('}')
	return body.Bytes()
}

type tiktokAnswer struct {
	Code      *int   `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// post sends payloads[idx] in one request and reads TikTok's verdict.
func (t *TikTok) post(ctx context.Context, creds TikTokCredentials, payloads [][]byte, idx []int) (*reply, *tiktokAnswer, *Error) {
	hdr := jsonHeader()
	hdr.Set("Access-Token", strings.TrimSpace(creds.AccessToken))
	r, err := t.c.do(ctx, http.MethodPost, t.c.base+"/open_api/v1.3/event/track/", hdr, tiktokRequest(creds, payloads, idx))
	if err != nil {
		return nil, nil, err
	}
	var a tiktokAnswer
	if r.status != http.StatusOK {
		_ = json.Unmarshal(r.body, &a) // a non-JSON error page is judged by its status
		return nil, nil, t.c.statusError(r, "", a.Message)
	}
	if json.Unmarshal(r.body, &a) != nil || a.Code == nil {
		e := t.c.statusError(r, "unexpected_response", "TikTok answered without a code")
		e.Retryable = true
		return nil, nil, e
	}
	if err := classifyTikTok(&t.c, r, &a); err != nil {
		return nil, nil, err
	}
	return r, &a, nil
}

// classifyTikTok sorts TikTok's body code per §4.5: 0 is success, and so is
// 20001 (rudder-transformer treats it as a partial success); 40100 is the
// rate limit and 5xxxx server errors, both retried; 40001 (permission), 40002
// (invalid parameters) and any other code are permanent.
func classifyTikTok(c *client, r *reply, a *tiktokAnswer) *Error {
	code := *a.Code
	if code == 0 || code == 20001 {
		return nil
	}
	e := c.statusError(r, strconv.Itoa(code), a.Message)
	e.Retryable = code == 40100 || (code >= 50000 && code < 60000)
	return e
}

// Test sends ev with the destination's test event code, so it shows in
// TikTok Events Manager's test events tool, and reports TikTok's answer.
func (t *TikTok) Test(ctx context.Context, creds TikTokCredentials, ev Event) TestReport {
	if err := t.check(creds); err != nil {
		return failedReport(err)
	}
	if strings.TrimSpace(creds.TestEventCode) == "" {
		return failedReport(badCredentials(PlatformTikTok, "set the test event code shown in TikTok Events Manager → Test events first"))
	}
	p, err := buildTikTokEvent(&ev, t.c.now())
	if err != nil {
		return failedReport(err)
	}
	r, a, err := t.post(ctx, creds, [][]byte{p}, []int{0})
	if err != nil {
		return failedReport(err)
	}
	return TestReport{
		OK:         true,
		Summary:    fmt.Sprintf("TikTok accepted the test event (code %d, %s); look for it in Events Manager → Test events under code %s.", *a.Code, a.Message, strings.TrimSpace(creds.TestEventCode)),
		StatusCode: r.status,
		Response:   r.excerpt(),
	}
}
