package capitest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Meta error subcodes the fake answers with. 2804003 is Meta's own (§1.8);
// Meta's subcodes for the other checks are unconfirmed (§1.10, §7), so these
// are synthetic, all under code 100 as the spec suggests.
const (
	MetaSubcodeTimestampTooOld = 2804003
	MetaSubcodeInvalidData     = 2804900 // data missing, not an array, empty or over 1000 events
	MetaSubcodeMissingField    = 2804901 // event_name, event_time, action_source or user_data wrong
	MetaSubcodeWebsiteFields   = 2804902 // website event without event_source_url or client_user_agent
	MetaSubcodeHashing         = 2804903 // a hashed key not hashed, or a plain key hashed
	MetaSubcodePurchase        = 2804904 // Purchase without numeric value and 3-letter currency
	MetaSubcodeWeakUserData    = 2804905 // the baseline combination rule
)

// metaHashedKeys must be SHA-256 hex (§1.4); metaPlainKeys must not be.
var (
	metaHashedKeys = []string{"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country"}
	metaPlainKeys  = []string{"client_ip_address", "client_user_agent", "fbc", "fbp"}
	metaUserKeys   = map[string]bool{
		"em": true, "ph": true, "fn": true, "ln": true, "ge": true, "db": true, "ct": true, "st": true,
		"zp": true, "country": true, "external_id": true, "client_ip_address": true,
		"client_user_agent": true, "fbc": true, "fbp": true, "subscription_id": true,
		"fb_login_id": true, "lead_id": true, "anon_id": true, "madid": true, "page_id": true,
		"page_scoped_user_id": true, "ctwa_clid": true, "ig_account_id": true, "ig_sid": true,
	}
	metaActionSources = map[string]bool{
		"email": true, "website": true, "app": true, "phone_call": true, "chat": true,
		"physical_store": true, "system_generated": true, "business_messaging": true, "other": true,
	}
	metaWeak = [][]string{
		{"ct", "country", "st", "zp", "ge", "client_user_agent"},
		{"db", "client_user_agent"},
		{"fn", "ge"},
		{"ln", "ge"},
	}
	metaVersionRE = regexp.MustCompile(`^v\d+\.\d+$`)
	currencyRE    = regexp.MustCompile(`^[A-Za-z]{3}$`)
)

// Meta is a fake Meta Conversions API: POST {URL}/{version}/{pixel_id}/events.
//
// It accepts what Meta accepts (§1.1): access_token in the query or the body,
// a JSON or form body, data as an array or a JSON string. It applies every
// check of §1.10 and rejects the whole request when one event fails, as Meta
// does, with Meta's error body. Events are recorded by event_id; like Meta it
// does not deduplicate server events, so CountByEventID shows retries.
type Meta struct {
	*Fake

	mu          sync.Mutex
	accessToken string
	pixels      map[string]bool
}

// NewMeta starts a fake Meta. Any access token and any numeric pixel id are
// accepted until SetAccessToken or SetPixels narrows them.
func NewMeta(tb testing.TB) *Meta {
	m := &Meta{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/{pixel}/events", m.serveEvents)
	m.Fake = newFake(tb, mux)
	return m
}

// SetAccessToken makes token the only one accepted; others get code 190.
func (m *Meta) SetAccessToken(token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accessToken = token
}

// SetPixels makes ids the only pixels that exist; others get 100/33.
func (m *Meta) SetPixels(ids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pixels = map[string]bool{}
	for _, id := range ids {
		m.pixels[id] = true
	}
}

// metaErrorBody is Meta's Graph API error body.
func metaErrorBody(typ string, code, subcode int, message, title, userMsg string, transient bool) map[string]any {
	e := map[string]any{
		"message":      message,
		"type":         typ,
		"code":         code,
		"is_transient": transient,
		"fbtrace_id":   "AFakeTraceId" + fmt.Sprint(time.Now().UnixNano()%1e6),
	}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if title != "" {
		e["error_user_title"] = title
		e["error_user_msg"] = userMsg
	}
	return map[string]any{"error": e}
}

// MetaError is a Graph API error answer with the given HTTP status, code and
// subcode (0 for none).
func MetaError(status, code, subcode int, message string, transient bool) Fault {
	b, _ := json.Marshal(metaErrorBody("OAuthException", code, subcode, message, "", "", transient))
	return Fault{Status: status, Body: string(b)}
}

// MetaTokenInvalid is Meta's answer to a bad access token: code 190.
func MetaTokenInvalid() Fault {
	return MetaError(http.StatusBadRequest, 190, 0, "The access token could not be decrypted", false)
}

// MetaRateLimited is Meta's throttling answer: code 17.
func MetaRateLimited() Fault {
	return MetaError(http.StatusBadRequest, 17, 0, "User request limit reached", true)
}

// MetaTemporary is Meta's "service temporarily unavailable": code 2.
func MetaTemporary() Fault {
	return MetaError(http.StatusInternalServerError, 2, 0, "An unexpected error has occurred. Please retry your request later.", true)
}

// MetaTimestampTooOld is the spec's §1.8 body: 100/2804003.
func MetaTimestampTooOld() Fault {
	b, _ := json.Marshal(metaTimestampTooOld())
	return Fault{Status: http.StatusBadRequest, Body: string(b)}
}

func metaTimestampTooOld() map[string]any {
	return metaErrorBody("OAuthException", 100, MetaSubcodeTimestampTooOld, "Invalid parameter", "Event Timestamp Too Old",
		"The timestamp for this event is too far in the past. Events need to be sent from your server within 7 days of when they occurred. Enter a timestamp that has occurred within the last 7 days.", false)
}

// metaObjectMissing is 100/33, a pixel that does not exist or is not
// reachable with the token.
func metaObjectMissing(id string) map[string]any {
	return metaErrorBody("GraphMethodException", 100, 33, fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", id), "", "", false)
}

// metaInvalid is a code 100 answer with a (synthetic) subcode.
func metaInvalid(subcode int, title, format string, args ...any) map[string]any {
	return metaErrorBody("OAuthException", 100, subcode, "Invalid parameter", title, fmt.Sprintf(format, args...), false)
}

func (m *Meta) serveEvents(w http.ResponseWriter, r *http.Request) {
	version, pixel := r.PathValue("version"), r.PathValue("pixel")
	if !metaVersionRE.MatchString(version) {
		m.reject(w, http.StatusBadRequest, metaErrorBody("OAuthException", 2500, 0, "Unknown path components: /"+version, "", "", false), "bad API version")
		return
	}
	body, err := m.readBody(r)
	if err != nil {
		m.reject(w, http.StatusBadRequest, metaInvalid(MetaSubcodeInvalidData, "Invalid Body", "%v", err), err.Error())
		return
	}
	token := r.URL.Query().Get("access_token")
	if t, ok := body["access_token"].(string); ok && token == "" {
		token = t
	}
	m.mu.Lock()
	want, pixels := m.accessToken, m.pixels
	m.mu.Unlock()
	if token == "" || (want != "" && token != want) {
		m.reject(w, http.StatusBadRequest, metaErrorBody("OAuthException", 190, 0, "The access token could not be decrypted", "", "", false), "bad access token")
		return
	}
	if !allDigits(pixel) || (pixels != nil && !pixels[pixel]) {
		m.reject(w, http.StatusBadRequest, metaObjectMissing(pixel), "unknown pixel")
		return
	}
	data, err := metaData(body["data"])
	if err != nil {
		m.reject(w, http.StatusBadRequest, metaInvalid(MetaSubcodeInvalidData, "Invalid Data", "%v", err), err.Error())
		return
	}
	testCode, _ := body["test_event_code"].(string)
	now := m.clock()
	events := make([]Event, 0, len(data))
	for i, raw := range data {
		ev, errBody, reason := checkMetaEvent(i, raw, now)
		if errBody != nil {
			m.reject(w, http.StatusBadRequest, errBody, reason)
			return
		}
		ev.TestEventCode = testCode
		events = append(events, ev)
	}
	m.record(events...)
	writeJSON(w, http.StatusOK, map[string]any{"events_received": len(events), "messages": []string{}, "fbtrace_id": m.randomID("AFake")})
}

// readBody decodes a JSON body, or a form (urlencoded or multipart) into the
// same shape.
func (m *Meta) readBody(r *http.Request) (map[string]any, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
		if err := r.ParseMultipartForm(32 << 20); err != nil && err != http.ErrNotMultipart {
			return nil, fmt.Errorf("cannot read the form: %v", err)
		}
		out := map[string]any{}
		for k := range r.PostForm {
			out[k] = r.PostForm.Get(k)
		}
		return out, nil
	}
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	obj, err := decodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("the body is not a JSON object: %v", err)
	}
	return obj, nil
}

// metaData returns the data parameter as a list: an array, or a JSON string
// holding one (§1.1), of 1 to 1000 items.
func metaData(v any) ([]any, error) {
	if s, ok := v.(string); ok {
		obj, err := decodeObject([]byte(`{"d":` + s + `}`))
		if err != nil {
			return nil, fmt.Errorf("the parameter data must be a JSON array")
		}
		v = obj["d"]
	}
	list, ok := v.([]any)
	switch {
	case v == nil:
		return nil, fmt.Errorf("the parameter data is required")
	case !ok:
		return nil, fmt.Errorf("the parameter data must be an array")
	case len(list) == 0:
		return nil, fmt.Errorf("the parameter data must hold at least one event")
	case len(list) > 1000:
		return nil, fmt.Errorf("the parameter data holds %d events; at most 1000 are allowed", len(list))
	}
	return list, nil
}

// checkMetaEvent applies §1.10 checks 2-7 to event i.
func checkMetaEvent(i int, raw any, now time.Time) (Event, map[string]any, string) {
	fail := func(subcode int, title, format string, args ...any) (Event, map[string]any, string) {
		msg := fmt.Sprintf("data[%d]: ", i) + fmt.Sprintf(format, args...)
		return Event{}, metaInvalid(subcode, title, "%s", msg), msg
	}
	ev, ok := raw.(map[string]any)
	if !ok {
		return fail(MetaSubcodeMissingField, "Invalid Event", "each event must be an object")
	}
	name, _ := ev["event_name"].(string)
	if name == "" {
		return fail(MetaSubcodeMissingField, "Missing Event Name", "event_name is required")
	}
	ts, ok := integer(ev["event_time"])
	if !ok {
		return fail(MetaSubcodeMissingField, "Invalid Event Time", "event_time must be an integer Unix time in seconds")
	}
	source, _ := ev["action_source"].(string)
	if !metaActionSources[source] {
		return fail(MetaSubcodeMissingField, "Invalid Action Source", "action_source %q is not one of email, website, app, phone_call, chat, physical_store, system_generated, business_messaging, other", source)
	}
	user, ok := ev["user_data"].(map[string]any)
	if !ok {
		return fail(MetaSubcodeMissingField, "Missing User Data", "user_data must be an object")
	}
	keys := map[string]bool{}
	for k := range user {
		if metaUserKeys[k] {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		return fail(MetaSubcodeMissingField, "Missing User Data", "user_data must hold at least one customer information parameter")
	}
	at := time.Unix(ts, 0)
	if now.Sub(at) > 7*24*time.Hour {
		return Event{}, metaTimestampTooOld(), fmt.Sprintf("data[%d]: event_time is more than 7 days old", i)
	}
	if source == "website" {
		url, _ := ev["event_source_url"].(string)
		ua, _ := user["client_user_agent"].(string)
		if url == "" || ua == "" {
			return fail(MetaSubcodeWebsiteFields, "Missing Website Parameters", "website events require event_source_url and user_data.client_user_agent")
		}
	}
	for _, k := range metaHashedKeys {
		v, present := user[k]
		if !present {
			continue
		}
		values, ok := stringsOf(v)
		if !ok || len(values) == 0 {
			return fail(MetaSubcodeHashing, "Invalid Customer Information", "user_data.%s must be a string or a list of strings", k)
		}
		for _, s := range values {
			if !validHash(s) {
				return fail(MetaSubcodeHashing, "Unhashed Customer Information", "user_data.%s must be a SHA-256 hash (^[a-f0-9]{64}$, not the hash of an empty string), got %q", k, s)
			}
		}
	}
	for _, k := range metaPlainKeys {
		v, present := user[k]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok || s == "" || looksHashed(s) {
			return fail(MetaSubcodeHashing, "Hashed Parameter Not Allowed", "user_data.%s must be a plain, non-empty string and must not be hashed", k)
		}
		if k == "client_ip_address" {
			if _, err := netip.ParseAddr(s); err != nil {
				return fail(MetaSubcodeHashing, "Invalid IP Address", "user_data.client_ip_address %q is not an IPv4 or IPv6 address", s)
			}
		}
	}
	if name == "Purchase" {
		custom, _ := ev["custom_data"].(map[string]any)
		currency, _ := custom["currency"].(string)
		if custom == nil || !number(custom["value"]) || !currencyRE.MatchString(currency) {
			return fail(MetaSubcodePurchase, "Missing Purchase Value", "a Purchase requires a numeric custom_data.value and a 3-letter custom_data.currency")
		}
	}
	if weakMeta(keys) {
		return fail(MetaSubcodeWeakUserData, "Insufficient Customer Information", "the customer information parameters %v are not enough to match anyone", sortedKeys(keys))
	}
	id, _ := ev["event_id"].(string)
	return Event{ID: id, Name: name, Time: at, Fields: ev}, nil, ""
}

// weakMeta applies the baseline combination rule: keys that are a subset of
// one of the weak combinations are invalid.
func weakMeta(keys map[string]bool) bool {
	for _, weak := range metaWeak {
		set := map[string]bool{}
		for _, k := range weak {
			set[k] = true
		}
		subset := true
		for k := range keys {
			if !set[k] {
				subset = false
				break
			}
		}
		if subset {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, "+")
}
