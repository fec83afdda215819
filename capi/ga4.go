package capi

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ga4MaxAge is how far back GA4 accepts timestamp_micros: 72 hours (§2.4).
// Older events are dropped silently by production, so capi refuses them.
const ga4MaxAge = 72 * time.Hour

// ga4MaxParamValue is the longest parameter value GA4 accepts (§2.4).
const ga4MaxParamValue = 100

// ga4ReservedEvents are event names GA4 rejects (the debug server's list, §2.4).
var ga4ReservedEvents = map[string]bool{
	"app_install": true, "user_engagement": true, "ad_query": true, "adunit_exposure": true,
	"app_clear_data": true, "app_update": true, "session_start": true, "ad_exposure": true,
	"os_update": true, "notification_receive": true, "ad_click": true,
	"notification_foreground": true, "notification_dismiss": true, "first_open": true,
	"app_remove": true, "first_visit": true, "ad_activeview": true, "error": true,
	"notification_open": true, "in_app_purchase": true,
}

// GA4 sends conversions through the GA4 Measurement Protocol:
// POST {base}/mp/collect?measurement_id=…&api_secret=…, and test events to
// /debug/mp/collect. It is safe for concurrent use.
//
// Production GA4 answers 2xx to nearly everything, valid or not (§2.1), so the
// rules GA4 would silently drop an event for are checked here before sending,
// and Test uses the validation server.
type GA4 struct {
	c client
}

// NewGA4 returns a GA4 client that sends to baseURL (DefaultGA4URL when empty;
// https://region1.google-analytics.com for EU collection) with hc.
func NewGA4(baseURL string, hc *http.Client, opts ...Option) *GA4 {
	return &GA4{c: newClient(PlatformGA4, baseURL, DefaultGA4URL, "", hc, opts)}
}

type ga4Body struct {
	ClientID string            `json:"client_id"`
	UserID   string            `json:"user_id,omitempty"`
	UserData *ga4UserData      `json:"user_data,omitempty"`
	Events   []json.RawMessage `json:"events"`
}

type ga4UserData struct {
	SHA256EmailAddress []string     `json:"sha256_email_address,omitempty"`
	SHA256PhoneNumber  []string     `json:"sha256_phone_number,omitempty"`
	Address            []ga4Address `json:"address,omitempty"`
}

type ga4Address struct {
	SHA256FirstName string `json:"sha256_first_name,omitempty"`
	SHA256LastName  string `json:"sha256_last_name,omitempty"`
	City            string `json:"city,omitempty"`
	Region          string `json:"region,omitempty"`
	PostalCode      string `json:"postal_code,omitempty"`
	Country         string `json:"country,omitempty"`
}

type ga4Event struct {
	Name            string    `json:"name"`
	TimestampMicros int64     `json:"timestamp_micros"`
	Params          ga4Params `json:"params"`
}

type ga4Params struct {
	EventID            string  `json:"event_id,omitempty"`
	TransactionID      string  `json:"transaction_id,omitempty"`
	Currency           string  `json:"currency,omitempty"`
	Value              *amount `json:"value,omitempty"`
	SessionID          string  `json:"session_id,omitempty"`
	EngagementTimeMsec int     `json:"engagement_time_msec,omitempty"`
}

// ga4Item is one built event and the request-level fields it must share a
// request with: GA4 takes one client_id, user_id and user_data per request.
type ga4Item struct {
	event json.RawMessage
	head  ga4Body
	key   string
}

// validGA4Name checks an event name against §2.4: at most 40 characters of
// [A-Za-z0-9_], starting with a letter, not reserved, no reserved prefix.
func validGA4Name(name string) error {
	if name == "" {
		return fmt.Errorf("the event has no name")
	}
	if len(name) > 40 {
		return fmt.Errorf("GA4 event names are at most 40 characters: %q", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if i == 0 && !letter {
			return fmt.Errorf("GA4 event names must start with a letter: %q", name)
		}
		if !letter && c != '_' && (c < '0' || c > '9') {
			return fmt.Errorf("GA4 event names may only hold letters, digits and underscores: %q", name)
		}
	}
	if ga4ReservedEvents[name] {
		return fmt.Errorf("GA4 reserves the event name %q", name)
	}
	for _, p := range []string{"firebase_", "ga_", "google_"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("GA4 reserves event names starting with %q", p)
		}
	}
	return nil
}

// gaClientID returns the GA4 client id from a _ga cookie value
// ("GA1.1.123.456" → "123.456") or an id. Without one it derives a stable id
// in gtag's "<random>.<seconds>" form from the event id, so GA4 still records
// the conversion (unattributed to a session) and a retry reuses the same id.
func gaClientID(ev *Event) string {
	s := strings.TrimSpace(ev.Click.GAClientID)
	if strings.HasPrefix(s, "GA1.") || strings.HasPrefix(s, "GA2.") {
		if parts := strings.Split(s, "."); len(parts) >= 4 {
			return parts[len(parts)-2] + "." + parts[len(parts)-1]
		}
	}
	if s != "" {
		return s
	}
	sum := sha256.Sum256([]byte(ev.EventID))
	return strconv.FormatUint(uint64(binary.BigEndian.Uint32(sum[:4])&0x7fffffff), 10) + "." + strconv.FormatInt(ev.Time.Unix(), 10)
}

// gaSessionID returns the session id from a _ga_<container> cookie value
// ("GS1.1.1699999999.3…" or "GS2.1.s1699999999$o3…") or an id; "" if none is
// recognisable.
func gaSessionID(raw string) string {
	s := strings.TrimSpace(raw)
	switch {
	case strings.HasPrefix(s, "GS1."):
		if parts := strings.Split(s, "."); len(parts) >= 3 {
			s = parts[2]
		}
	case strings.HasPrefix(s, "GS2."):
		if parts := strings.Split(s, "."); len(parts) >= 3 {
			s = strings.TrimPrefix(parts[2], "s")
			if i := strings.IndexByte(s, '$'); i >= 0 {
				s = s[:i]
			}
		}
	}
	if !allDigits(s) {
		return ""
	}
	return s
}

// buildGA4UserData normalises and hashes user-provided data per §2.7: Google
// email and E.164 phone rules, hashed names, plain address fields.
func buildGA4UserData(ev *Event) *ga4UserData {
	userCountry, local := ev.countries()
	var ud ga4UserData
	if em := hashWith(ev.User.Email, NormalizeGoogleEmail); em != "" {
		ud.SHA256EmailAddress = []string{em}
	}
	if ph := hashWith(ev.User.Phone, func(s string) string { return NormalizePhone(s, local) }); ph != "" {
		ud.SHA256PhoneNumber = []string{ph}
	}
	addr := ga4Address{
		SHA256FirstName: hashWith(ev.User.FirstName, NormalizeName),
		SHA256LastName:  hashWith(ev.User.LastName, NormalizeName),
		City:            plainAddress(NormalizeName(ev.User.City)),
		Region:          plainAddress(NormalizeState(ev.User.State, local)),
		PostalCode:      plainAddress(NormalizeZip(ev.User.Zip, local)),
		Country:         strings.ToUpper(userCountry),
	}
	if addr != (ga4Address{}) {
		ud.Address = []ga4Address{addr}
	}
	if ud.SHA256EmailAddress == nil && ud.SHA256PhoneNumber == nil && ud.Address == nil {
		return nil
	}
	return &ud
}

// plainAddress drops a value that must be sent unhashed but arrived hashed.
func plainAddress(s string) string {
	if IsHashed(s) {
		return ""
	}
	return s
}

// buildGA4Item returns one event and its request head, or why GA4 would drop
// or reject it.
func buildGA4Item(ev *Event, now time.Time) (ga4Item, *Error) {
	name := strings.TrimSpace(ev.EventName)
	if err := validGA4Name(name); err != nil {
		return ga4Item{}, invalid(PlatformGA4, "%s", err.Error())
	}
	if ev.Time.IsZero() {
		return ga4Item{}, invalid(PlatformGA4, "the event has no time")
	}
	t := sendTime(ev.Time, now)
	if age := now.Sub(t); age > ga4MaxAge {
		return ga4Item{}, invalid(PlatformGA4, "GA4 accepts events up to 72 hours old; this one is %s old", age.Round(time.Hour))
	}
	e := ga4Event{
		Name:            name,
		TimestampMicros: t.UnixMicro(),
		Params:          ga4Params{EventID: truncate(strings.TrimSpace(ev.EventID), ga4MaxParamValue)},
	}
	currency := normalizeCurrency(ev.Currency)
	if ev.Value != 0 {
		if currency == "" {
			return ga4Item{}, invalid(PlatformGA4, "GA4 requires a currency with a value")
		}
		v := amount(ev.Value)
		e.Params.Value, e.Params.Currency = &v, currency
	}
	if tx := strings.TrimSpace(ev.OrderID); tx != "" || name == "purchase" {
		if tx == "" {
			tx = strings.TrimSpace(ev.EventID)
		}
		e.Params.TransactionID = truncate(tx, ga4MaxParamValue)
	}
	if sid := gaSessionID(ev.Click.GASessionID); sid != "" {
		e.Params.SessionID, e.Params.EngagementTimeMsec = sid, 1
	}
	raw, err := json.Marshal(&e)
	if err != nil {
		return ga4Item{}, invalid(PlatformGA4, "cannot encode the event: %v", err)
	}
	head := ga4Body{ClientID: gaClientID(ev), UserData: buildGA4UserData(ev)}
	if uid := strings.TrimSpace(ev.User.ExternalID); uid != "" && len(uid) <= 256 && !IsHashed(uid) {
		head.UserID = uid
	}
	key, _ := json.Marshal(&head) // the head has no types that fail to marshal
	return ga4Item{event: raw, head: head, key: string(key)}, nil
}

// check validates credentials before anything is built.
func (g *GA4) check(creds GA4Credentials) *Error {
	switch {
	case strings.TrimSpace(creds.MeasurementID) == "":
		return badCredentials(PlatformGA4, "the GA4 destination has no measurement id")
	case strings.TrimSpace(creds.APISecret) == "":
		return badCredentials(PlatformGA4, "the GA4 destination has no Measurement Protocol API secret")
	}
	return nil
}

// Send delivers events to GA4. Events of the same visitor (client id, user id
// and user data) share requests of at most GA4MaxBatch events; others go in
// separate requests, since those fields are per request. Any 2xx is success,
// because that is all production GA4 ever says (§2.1).
func (g *GA4) Send(ctx context.Context, creds GA4Credentials, events []Event) Result {
	res := newResult(events)
	if err := g.check(creds); err != nil {
		res.failAll(err)
		return res
	}
	now := g.c.now()
	items := make([]ga4Item, len(events))
	groups := map[string][]int{}
	var order []string
	for i := range events {
		it, err := buildGA4Item(&events[i], now)
		if err != nil {
			res.setErr(i, err)
			continue
		}
		items[i] = it
		if _, ok := groups[it.key]; !ok {
			order = append(order, it.key)
		}
		groups[it.key] = append(groups[it.key], i)
	}
	var batches [][]int
	for _, k := range order {
		batches = append(batches, chunks(groups[k], GA4MaxBatch)...)
	}
	parallel(len(batches), g.c.opts.concurrency, func(b int) {
		idx := batches[b]
		r, err := g.post(ctx, creds, "/mp/collect", items, idx)
		if err == nil && r.status/100 != 2 {
			err = g.c.statusError(r, "", "")
		}
		if err == nil {
			res.deliver(idx, r)
			return
		}
		for _, i := range idx {
			res.setErr(i, err)
		}
	})
	return res
}

// post sends items[idx] (which share a head) to path.
func (g *GA4) post(ctx context.Context, creds GA4Credentials, path string, items []ga4Item, idx []int) (*reply, *Error) {
	b, err := ga4Request(items, idx)
	if err != nil {
		return nil, invalid(PlatformGA4, "cannot encode the request: %v", err)
	}
	q := url.Values{"measurement_id": {strings.TrimSpace(creds.MeasurementID)}, "api_secret": {strings.TrimSpace(creds.APISecret)}}
	return g.c.do(ctx, http.MethodPost, g.c.base+path+"?"+q.Encode(), jsonHeader(), b)
}

// ga4Request assembles the body of items[idx], which share a head.
func ga4Request(items []ga4Item, idx []int) ([]byte, error) {
	body := items[idx[0]].head
	body.Events = make([]json.RawMessage, len(idx))
	for j, i := range idx {
		body.Events[j] = items[i].event
	}
	return json.Marshal(&body)
}

type ga4ValidationMessage struct {
	FieldPath      string `json:"fieldPath"`
	Description    string `json:"description"`
	ValidationCode string `json:"validationCode"`
}

// Test sends ev to GA4's validation server (/debug/mp/collect), which records
// nothing, and reports its validationMessages. The validation server does not
// check the API secret (§2.1), so a passing test does not prove the secret
// right.
func (g *GA4) Test(ctx context.Context, creds GA4Credentials, ev Event) TestReport {
	if err := g.check(creds); err != nil {
		return failedReport(err)
	}
	it, err := buildGA4Item(&ev, g.c.now())
	if err != nil {
		return failedReport(err)
	}
	r, err := g.post(ctx, creds, "/debug/mp/collect", []ga4Item{it}, []int{0})
	if err != nil {
		return failedReport(err)
	}
	if r.status/100 != 2 {
		return failedReport(g.c.statusError(r, "", ""))
	}
	var answer struct {
		ValidationMessages []ga4ValidationMessage `json:"validationMessages"`
	}
	if err := json.Unmarshal(r.body, &answer); err != nil {
		e := g.c.statusError(r, "unexpected_response", "GA4's validation server did not answer with validationMessages")
		return failedReport(e)
	}
	rep := TestReport{StatusCode: r.status, Response: r.excerpt()}
	for _, m := range answer.ValidationMessages {
		line := m.Description
		if m.ValidationCode != "" {
			line += " (" + m.ValidationCode
			if m.FieldPath != "" {
				line += " at " + m.FieldPath
			}
			line += ")"
		}
		rep.Messages = append(rep.Messages, line)
	}
	if len(rep.Messages) == 0 {
		rep.OK = true
		rep.Summary = "GA4's validation server found nothing wrong with the event (it does not check the API secret, and records nothing)."
		return rep
	}
	rep.Summary = fmt.Sprintf("GA4's validation server reported %d problem(s); production GA4 would drop this event silently.", len(rep.Messages))
	rep.Err = &Error{Platform: PlatformGA4, StatusCode: r.status, Code: answer.ValidationMessages[0].ValidationCode,
		Message: shortMessage(answer.ValidationMessages[0].Description), Response: rep.Response, Err: ErrPlatform}
	return rep
}
