package capi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MetaAPIVersion is the Graph API version of Meta requests (specs/capi.md
// §1.1); WithAPIVersion overrides it.
const MetaAPIVersion = "v25.0"

// metaMaxAge is how old an event may be: "If any event_time in data is greater
// than 7 days in the past, we return an error for the entire request".
const metaMaxAge = 7 * 24 * time.Hour

// metaActionSources are the values action_source accepts (§1.3).
var metaActionSources = map[string]bool{
	"email": true, "website": true, "app": true, "phone_call": true, "chat": true,
	"physical_store": true, "system_generated": true, "business_messaging": true, "other": true,
}

// Meta sends conversions to the Meta Conversions API:
// POST {base}/{version}/{pixel_id}/events. It is safe for concurrent use.
type Meta struct {
	c client
}

// NewMeta returns a Meta client that sends to baseURL (DefaultMetaURL when
// empty) with hc (a client with a 30-second timeout when nil; Meta itself
// recommends 1.5 seconds, see §1.5).
func NewMeta(baseURL string, hc *http.Client, opts ...Option) *Meta {
	return &Meta{c: newClient(PlatformMeta, baseURL, DefaultMetaURL, MetaAPIVersion, hc, opts)}
}

type metaEvent struct {
	EventName      string          `json:"event_name"`
	EventTime      int64           `json:"event_time"`
	EventID        string          `json:"event_id,omitempty"`
	ActionSource   string          `json:"action_source"`
	EventSourceURL string          `json:"event_source_url,omitempty"`
	ReferrerURL    string          `json:"referrer_url,omitempty"`
	UserData       metaUserData    `json:"user_data"`
	CustomData     *metaCustomData `json:"custom_data,omitempty"`
}

type metaUserData struct {
	Em              []string `json:"em,omitempty"`
	Ph              []string `json:"ph,omitempty"`
	Fn              string   `json:"fn,omitempty"`
	Ln              string   `json:"ln,omitempty"`
	Ge              string   `json:"ge,omitempty"`
	Db              string   `json:"db,omitempty"`
	Ct              string   `json:"ct,omitempty"`
	St              string   `json:"st,omitempty"`
	Zp              string   `json:"zp,omitempty"`
	Country         string   `json:"country,omitempty"`
	ExternalID      string   `json:"external_id,omitempty"`
	ClientIPAddress string   `json:"client_ip_address,omitempty"`
	ClientUserAgent string   `json:"client_user_agent,omitempty"`
	Fbc             string   `json:"fbc,omitempty"`
	Fbp             string   `json:"fbp,omitempty"`
}

type metaCustomData struct {
	Value    *amount `json:"value,omitempty"`
	Currency string  `json:"currency,omitempty"`
	OrderID  string  `json:"order_id,omitempty"`
}

// Bits of the user_data keys, for the baseline rule.
const (
	metaEm = 1 << iota
	metaPh
	metaFn
	metaLn
	metaGe
	metaDb
	metaCt
	metaSt
	metaZp
	metaCountry
	metaExternalID
	metaIP
	metaUA
	metaFbc
	metaFbp
)

// keys returns the set user_data keys as a bit set.
func (u *metaUserData) keys() uint32 {
	var k uint32
	set := func(bit uint32, ok bool) {
		if ok {
			k |= bit
		}
	}
	set(metaEm, len(u.Em) > 0)
	set(metaPh, len(u.Ph) > 0)
	set(metaFn, u.Fn != "")
	set(metaLn, u.Ln != "")
	set(metaGe, u.Ge != "")
	set(metaDb, u.Db != "")
	set(metaCt, u.Ct != "")
	set(metaSt, u.St != "")
	set(metaZp, u.Zp != "")
	set(metaCountry, u.Country != "")
	set(metaExternalID, u.ExternalID != "")
	set(metaIP, u.ClientIPAddress != "")
	set(metaUA, u.ClientUserAgent != "")
	set(metaFbc, u.Fbc != "")
	set(metaFbp, u.Fbp != "")
	return k
}

// metaWeakCombinations are the customer-information sets Meta considers
// invalid on their own, "or a subset thereof" (§1.4, baseline rule).
var metaWeakCombinations = []uint32{
	metaCt | metaCountry | metaSt | metaZp | metaGe | metaUA,
	metaDb | metaUA,
	metaFn | metaGe,
	metaLn | metaGe,
}

// metaTooWeak reports whether keys are a subset of a weak combination
// (including the empty set: Meta requires at least one parameter).
func metaTooWeak(keys uint32) bool {
	for _, weak := range metaWeakCombinations {
		if keys&^weak == 0 {
			return true
		}
	}
	return false
}

// buildMetaUserData normalises and hashes the event's user data per §1.4.
func buildMetaUserData(ev *Event) metaUserData {
	_, local := ev.countries()
	u := metaUserData{
		Fn:         hashWith(ev.User.FirstName, NormalizeName),
		Ln:         hashWith(ev.User.LastName, NormalizeName),
		Ge:         hashWith(ev.User.Gender, NormalizeGender),
		Db:         hashWith(ev.User.DateOfBirth, NormalizeDateOfBirth),
		Ct:         hashWith(ev.User.City, NormalizeCity),
		St:         hashWith(ev.User.State, func(s string) string { return NormalizeState(s, local) }),
		Zp:         hashWith(ev.User.Zip, func(s string) string { return NormalizeZip(s, local) }),
		Country:    hashWith(ev.User.Country, NormalizeCountry),
		ExternalID: hashWith(ev.User.ExternalID, NormalizeExternalID),
		Fbp:        plain(ev.Click.FBP),
		Fbc:        metaFBC(ev),
	}
	if em := hashWith(ev.User.Email, NormalizeEmail); em != "" {
		u.Em = []string{em}
	}
	if ph := hashWith(ev.User.Phone, func(s string) string { return MetaPhone(s, local) }); ph != "" {
		u.Ph = []string{ph}
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(ev.ClientIP)); err == nil {
		u.ClientIPAddress = ip.Unmap().String()
	}
	u.ClientUserAgent = plain(ev.UserAgent)
	return u
}

// metaFBC returns the fbc cookie, or builds it from the fbclid as Meta
// documents for a server without the cookie: fb.1.{click time ms}.{fbclid},
// the fbclid kept case-sensitive.
func metaFBC(ev *Event) string {
	if fbc := plain(ev.Click.FBC); fbc != "" {
		return fbc
	}
	fbclid := plain(ev.Click.FBClid)
	if fbclid == "" {
		return ""
	}
	at := ev.Click.Time
	if at.IsZero() {
		at = ev.Time
	}
	return "fb.1." + strconv.FormatInt(at.UnixMilli(), 10) + "." + fbclid
}

// plain trims a value that must never be hashed, and drops it if it looks
// hashed anyway: Meta rejects a hashed IP, user agent, fbc or fbp.
func plain(s string) string {
	s = strings.TrimSpace(s)
	if IsHashed(strings.ToLower(s)) {
		return ""
	}
	return s
}

// buildMetaEvent returns one server event as JSON, or why Meta would reject
// it. Meta rejects a whole batch for one bad event, so these are caught here.
func buildMetaEvent(ev *Event, now time.Time) ([]byte, *Error) {
	name := strings.TrimSpace(ev.EventName)
	if name == "" {
		return nil, invalid(PlatformMeta, "the event has no name")
	}
	if ev.Time.IsZero() {
		return nil, invalid(PlatformMeta, "the event has no time")
	}
	t := sendTime(ev.Time, now)
	if age := now.Sub(t); age > metaMaxAge {
		return nil, invalid(PlatformMeta, "Meta accepts events up to 7 days old; this one is %s old", age.Round(time.Hour))
	}
	source := strings.TrimSpace(ev.ActionSource)
	if source == "" {
		source = "website"
	}
	if !metaActionSources[source] {
		return nil, invalid(PlatformMeta, "action source %q is not one Meta accepts", source)
	}
	me := metaEvent{
		EventName:      name,
		EventTime:      t.Unix(),
		EventID:        strings.TrimSpace(ev.EventID),
		ActionSource:   source,
		EventSourceURL: strings.TrimSpace(ev.SourceURL),
		ReferrerURL:    strings.TrimSpace(ev.Referrer),
		UserData:       buildMetaUserData(ev),
	}
	if source == "website" && (me.EventSourceURL == "" || me.UserData.ClientUserAgent == "") {
		return nil, invalid(PlatformMeta, "Meta requires the landing page URL and the visitor's user agent for website events")
	}
	if metaTooWeak(me.UserData.keys()) {
		return nil, invalid(PlatformMeta, "Meta rejects events whose only customer information is city/state/zip/country/gender/user agent, birth date and user agent, or a name and gender")
	}
	currency := normalizeCurrency(ev.Currency)
	var cd metaCustomData
	switch {
	case name == "Purchase" && currency == "":
		return nil, invalid(PlatformMeta, "Meta requires a currency for a Purchase")
	case name == "Purchase" || (ev.Value != 0 && currency != ""):
		v := amount(ev.Value)
		cd.Value, cd.Currency = &v, currency
	}
	cd.OrderID = strings.TrimSpace(ev.OrderID)
	if cd != (metaCustomData{}) {
		me.CustomData = &cd
	}
	b, err := json.Marshal(&me)
	if err != nil {
		return nil, invalid(PlatformMeta, "cannot encode the event: %v", err)
	}
	return b, nil
}

// check validates credentials before anything is built.
func (m *Meta) check(creds MetaCredentials) *Error {
	switch {
	case strings.TrimSpace(creds.PixelID) == "":
		return badCredentials(PlatformMeta, "the Meta destination has no pixel (dataset) id")
	case !allDigits(strings.TrimSpace(creds.PixelID)):
		return badCredentials(PlatformMeta, "the Meta pixel id must be a number")
	case strings.TrimSpace(creds.AccessToken) == "":
		return badCredentials(PlatformMeta, "the Meta destination has no access token")
	}
	return nil
}

// Send delivers events to Meta, in requests of at most MetaMaxBatch events.
// Events Meta would reject are failed before sending (ErrInvalidEvent); if
// Meta still rejects a batch as invalid, its events are resent one by one so
// only the culprit fails — safe because a rejected batch is processed not at
// all.
func (m *Meta) Send(ctx context.Context, creds MetaCredentials, events []Event) Result {
	res := newResult(events)
	if err := m.check(creds); err != nil {
		res.failAll(err)
		return res
	}
	now := m.c.now()
	payloads := make([][]byte, len(events))
	ready := make([]int, 0, len(events))
	for i := range events {
		p, err := buildMetaEvent(&events[i], now)
		if err != nil {
			res.setErr(i, err)
			continue
		}
		payloads[i] = p
		ready = append(ready, i)
	}
	m.sendBatches(ctx, creds, payloads, chunks(ready, MetaMaxBatch), res, true)
	return res
}

func (m *Meta) sendBatches(ctx context.Context, creds MetaCredentials, payloads [][]byte, batches [][]int, res Result, isolate bool) {
	parallel(len(batches), m.c.opts.concurrency, func(b int) {
		idx := batches[b]
		r, _, err := m.post(ctx, creds, payloads, idx)
		if err == nil {
			res.deliver(idx, r)
			return
		}
		if isolate && len(idx) > 1 && metaBatchInvalid(err) {
			singles := make([][]int, len(idx))
			for j, i := range idx {
				singles[j] = []int{i}
			}
			m.sendBatches(ctx, creds, payloads, singles, res, false)
			return
		}
		for _, i := range idx {
			res.setErr(i, err)
		}
	})
}

// metaBatchInvalid reports whether err is Meta rejecting the request's data
// (code 100), not its credentials or the pixel (100/33).
func metaBatchInvalid(err *Error) bool {
	return !err.Retryable && err.StatusCode == http.StatusBadRequest &&
		strings.HasPrefix(err.Code, "100") && err.Code != "100/33"
}

type metaSuccess struct {
	EventsReceived *int     `json:"events_received"`
	Messages       []string `json:"messages"`
	FBTraceID      string   `json:"fbtrace_id"`
}

// post sends the events payloads[idx] in one request. The access token goes
// in the JSON body, which Meta accepts (§1.1), so it never appears in a URL,
// a proxy log or an error message.
func (m *Meta) post(ctx context.Context, creds MetaCredentials, payloads [][]byte, idx []int) (*reply, *metaSuccess, *Error) {
	u := m.c.base + "/" + url.PathEscape(m.c.opts.version) + "/" + url.PathEscape(strings.TrimSpace(creds.PixelID)) + "/events"
	r, err := m.c.do(ctx, http.MethodPost, u, jsonHeader(), metaRequest(creds, payloads, idx))
	if err != nil {
		return nil, nil, err
	}
	if r.status/100 != 2 {
		return nil, nil, classifyMeta(&m.c, r)
	}
	var ok metaSuccess
	if json.Unmarshal(r.body, &ok) != nil || ok.EventsReceived == nil {
		e := m.c.statusError(r, "unexpected_response", "Meta answered without events_received")
		e.Retryable = true
		return nil, nil, e
	}
	return r, &ok, nil
}

// metaRequest assembles the request body around already-encoded events:
// {"data":[…],"access_token":…,"test_event_code":…}.
func metaRequest(creds MetaCredentials, payloads [][]byte, idx []int) []byte {
	var body bytes.Buffer
	body.Grow(listSize(payloads, idx) + len(creds.AccessToken) + len(creds.TestEventCode) + 64)
	body.WriteString(`{"data":`)
	writeList(&body, payloads, idx)
	body.WriteString(`,"access_token":`)
	writeJSONString(&body, strings.TrimSpace(creds.AccessToken))
	if code := strings.TrimSpace(creds.TestEventCode); code != "" {
		body.WriteString(`,"test_event_code":`)
		writeJSONString(&body, code)
	}
	body.WriteByte('}')
	return body.Bytes()
}

type graphError struct {
	Message        string `json:"message"`
	Type           string `json:"type"`
	Code           int    `json:"code"`
	ErrorSubcode   int    `json:"error_subcode"`
	IsTransient    bool   `json:"is_transient"`
	ErrorUserTitle string `json:"error_user_title"`
	ErrorUserMsg   string `json:"error_user_msg"`
	FBTraceID      string `json:"fbtrace_id"`
}

// metaRetryCodes are the Graph error codes that are temporary (§0.3, §1.8,
// §1.9): unknown/service errors, throttling, application limits, temporary
// blocks, "data set not ready".
var metaRetryCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 341: true, 368: true, 613: true, 5000: true, 21009: true, 80003: true}

// metaPermanent reports whether a Graph error code needs a person: invalid
// parameters (100, all subcodes), token (102, 190), permissions (10,
// 200-299), and 3 (capability).
func metaPermanent(code int) bool {
	return code == 100 || code == 102 || code == 190 || code == 10 || code == 3 || (code >= 200 && code <= 299)
}

// classifyMeta sorts a non-2xx Meta answer per §1.8-1.9: is_transient and the
// retry codes are retryable, the permanent codes are not, unknown codes and
// non-JSON (HTML) bodies are retried, as rudder-transformer does.
func classifyMeta(c *client, r *reply) *Error {
	var wrapped struct {
		Error *graphError `json:"error"`
	}
	var ge *graphError
	if json.Unmarshal(r.body, &wrapped) == nil && wrapped.Error != nil {
		ge = wrapped.Error
	} else {
		var flat graphError
		if json.Unmarshal(r.body, &flat) == nil && flat.Code != 0 {
			ge = &flat
		}
	}
	if ge == nil || ge.Code == 0 {
		e := c.statusError(r, "", "")
		if looksHTML(r.body) {
			e.Retryable = true
		}
		return e
	}
	code := strconv.Itoa(ge.Code)
	if ge.ErrorSubcode != 0 {
		code += "/" + strconv.Itoa(ge.ErrorSubcode)
	}
	msg := ge.Message
	if ge.ErrorUserMsg != "" {
		msg = ge.ErrorUserMsg
		if ge.ErrorUserTitle != "" {
			msg = ge.ErrorUserTitle + ": " + msg
		}
	}
	e := c.statusError(r, code, msg)
	switch {
	case ge.IsTransient, metaRetryCodes[ge.Code]:
		e.Retryable = true
	case metaPermanent(ge.Code):
		e.Retryable = false
	default:
		e.Retryable = true
	}
	return e
}

// Test sends ev to Meta with the destination's test event code, so it shows
// in Events Manager → Test events, and reports Meta's answer. Meta processes
// test events like real ones; without a test event code nothing is sent.
func (m *Meta) Test(ctx context.Context, creds MetaCredentials, ev Event) TestReport {
	if err := m.check(creds); err != nil {
		return failedReport(err)
	}
	if strings.TrimSpace(creds.TestEventCode) == "" {
		return failedReport(badCredentials(PlatformMeta, "set the test event code shown in Meta Events Manager → Test events first"))
	}
	p, err := buildMetaEvent(&ev, m.c.now())
	if err != nil {
		return failedReport(err)
	}
	r, ok, err := m.post(ctx, creds, [][]byte{p}, []int{0})
	if err != nil {
		return failedReport(err)
	}
	return TestReport{
		OK:         true,
		Summary:    fmt.Sprintf("Meta received %d test event(s); look for them in Events Manager → Test events under code %s.", *ok.EventsReceived, strings.TrimSpace(creds.TestEventCode)),
		Messages:   ok.Messages,
		StatusCode: r.status,
		Response:   r.excerpt(),
	}
}

// countries returns the user's country code (sent to platforms) and the
// country national phone numbers, zips and states are read in (the user's,
// else the default).
func (ev *Event) countries() (user, local string) {
	user = NormalizeCountry(ev.User.Country)
	local = user
	if local == "" {
		local = NormalizeCountry(ev.DefaultCountry)
	}
	return user, local
}

// normalizeCurrency returns an ISO 4217 code in upper case, or "" if s is not
// three letters.
func normalizeCurrency(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 3 {
		return ""
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return ""
		}
	}
	return s
}

// looksHTML reports whether a body is an HTML page (a proxy's or a load
// balancer's error page) rather than the platform's JSON.
func looksHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}

// jsonHeader returns the headers of a JSON POST.
func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// listSize returns the length of payloads[idx] written as a JSON array.
func listSize(payloads [][]byte, idx []int) int {
	n := 2 + len(idx)
	for _, i := range idx {
		n += len(payloads[i])
	}
	return n
}

// writeList writes payloads[idx] as a JSON array.
func writeList(b *bytes.Buffer, payloads [][]byte, idx []int) {
	b.WriteByte('[')
	for j, i := range idx {
		if j > 0 {
			b.WriteByte(',')
		}
		b.Write(payloads[i])
	}
	b.WriteByte(']')
}

// writeJSONString writes s as a JSON string literal.
func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}
