package capitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// tiktokCurrencies is TikTok's supported currency list (§4.3).
var tiktokCurrencies = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP
		EUR GBP GTQ HKD HNL HUF IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR
		PEN PHP PKR PLN PYG QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR`) {
		tiktokCurrencies[c] = true
	}
}

// TikTok is a fake TikTok Events API 2.0: POST {URL}/open_api/v1.3/event/track/
// with the Access-Token header.
//
// Like TikTok (§4.5) it answers HTTP 200 with a body code: 0 when accepted,
// 40001 for a wrong token or pixel, 40002 for invalid parameters, naming the
// first bad field the way TikTok does ("Batch.0.user.email: …"). One bad
// event fails the whole batch. It checks event_source, event_source_id, 1 to
// 1000 events with event and event_time in seconds, hashed email, phone and
// external_id (SHA-256 hex, never the hash of ""), plain ttclid, ttp, ip and
// user_agent, numeric value, a supported currency, and string content ids.
// Events are recorded by event_id.
type TikTok struct {
	*Fake

	mu          sync.Mutex
	accessToken string
	pixels      map[string]bool
}

// NewTikTok starts a fake TikTok accepting any access token and pixel code
// until SetAccessToken or SetPixels narrows them.
func NewTikTok(tb testing.TB) *TikTok {
	t := &TikTok{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /open_api/v1.3/event/track/", t.serveTrack)
	t.Fake = newFake(tb, mux)
	return t
}

// SetAccessToken makes token the only one accepted.
func (t *TikTok) SetAccessToken(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.accessToken = token
}

// SetPixels makes codes the only pixel codes the token may operate.
func (t *TikTok) SetPixels(codes ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pixels = map[string]bool{}
	for _, c := range codes {
		t.pixels[c] = true
	}
}

// TikTokError is TikTok's answer with body code code: HTTP 200, as TikTok
// sends its errors.
func TikTokError(code int, message string) Fault {
	b, _ := json.Marshal(tiktokBody(code, message))
	return Fault{Status: http.StatusOK, Body: string(b)}
}

// TikTokRateLimited is code 40100, TikTok's rate limit.
func TikTokRateLimited() Fault {
	return TikTokError(40100, "Too many requests. Please retry in some time.")
}

// TikTokNoPermission is code 40001 for pixel.
func TikTokNoPermission(pixel string) Fault {
	return TikTokError(40001, tiktokNoPermission(pixel))
}

func tiktokNoPermission(pixel string) string {
	return fmt.Sprintf("No permission to operate pixel code: %s. You must be an admin or operator of this advertiser account.", pixel)
}

func tiktokBody(code int, message string) map[string]any {
	return map[string]any{"code": code, "message": message, "request_id": fmt.Sprintf("fake%d", time.Now().UnixNano()%1e9), "data": map[string]any{}}
}

func (t *TikTok) serveTrack(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, reason string) {
		t.reject(w, http.StatusOK, tiktokBody(code, reason), reason)
	}
	t.mu.Lock()
	wantToken, pixels := t.accessToken, t.pixels
	t.mu.Unlock()
	token := r.Header.Get("Access-Token")
	if token == "" || (wantToken != "" && token != wantToken) {
		fail(40001, "No permission: the Access-Token header is missing or invalid.")
		return
	}
	b, err := readAll(r)
	var body map[string]any
	if err == nil {
		body, err = decodeObject(b)
	}
	if err != nil {
		fail(40002, "Invalid JSON body.")
		return
	}
	switch src, _ := body["event_source"].(string); src {
	case "web", "app", "offline", "crm":
	default:
		fail(40002, "event_source: Must be one of: web, app, offline, crm.")
		return
	}
	pixel, _ := body["event_source_id"].(string)
	if pixel == "" {
		fail(40002, "event_source_id: Missing data for required field.")
		return
	}
	if pixels != nil && !pixels[pixel] {
		fail(40001, tiktokNoPermission(pixel))
		return
	}
	testCode, hasCode := body["test_event_code"]
	if _, ok := testCode.(string); hasCode && !ok {
		fail(40002, "test_event_code: Not a valid string.")
		return
	}
	list, ok := body["data"].([]any)
	if !ok || len(list) == 0 || len(list) > 1000 {
		fail(40002, "data: Length must be between 1 and 1000.")
		return
	}
	events := make([]Event, 0, len(list))
	for i, raw := range list {
		ev, msg := checkTikTokEvent(i, raw)
		if msg != "" {
			fail(40002, msg)
			return
		}
		ev.TestEventCode, _ = testCode.(string)
		events = append(events, ev)
	}
	t.record(events...)
	writeJSON(w, http.StatusOK, tiktokBody(0, "OK"))
}

// checkTikTokEvent applies §4.3-4.4 to event i and returns the 40002 message
// of the first broken rule.
func checkTikTokEvent(i int, raw any) (Event, string) {
	p := fmt.Sprintf("Batch.%d.", i)
	ev, ok := raw.(map[string]any)
	if !ok {
		return Event{}, p[:len(p)-1] + ": Not a valid object."
	}
	name, _ := ev["event"].(string)
	if name == "" {
		return Event{}, p + "event: Missing data for required field."
	}
	ts, ok := integer(ev["event_time"])
	if !ok {
		return Event{}, p + "event_time: Missing data for required field."
	}
	if ts > 1e11 {
		return Event{}, p + "event_time: Not a valid Unix timestamp in seconds."
	}
	id, hasID := ev["event_id"]
	if _, isString := id.(string); hasID && !isString {
		return Event{}, p + "event_id: Not a valid string."
	}
	if u, present := ev["user"]; present {
		user, ok := u.(map[string]any)
		if !ok {
			return Event{}, p + "user: Not a valid object."
		}
		for _, k := range []string{"email", "phone", "external_id"} {
			v, present := user[k]
			if !present {
				continue
			}
			values, ok := stringsOf(v)
			if !ok || len(values) == 0 {
				return Event{}, p + "user." + k + ": Not a valid string."
			}
			for _, s := range values {
				if !validHash(s) {
					return Event{}, p + "user." + k + ": Not a valid SHA-256 hash of a non-empty value."
				}
			}
		}
		for _, k := range []string{"ttclid", "ttp", "ip", "user_agent"} {
			v, present := user[k]
			if !present {
				continue
			}
			s, ok := v.(string)
			if !ok || s == "" || looksHashed(s) {
				return Event{}, p + "user." + k + ": Must be a plain, non-empty string (not hashed)."
			}
			if k == "ip" {
				if _, err := netip.ParseAddr(s); err != nil {
					return Event{}, p + "user.ip: Not a valid IP address."
				}
			}
		}
	}
	if pr, present := ev["properties"]; present {
		props, ok := pr.(map[string]any)
		if !ok {
			return Event{}, p + "properties: Not a valid object."
		}
		if v, present := props["value"]; present && !number(v) {
			return Event{}, p + "properties.value: Not a valid number."
		}
		if c, present := props["currency"]; present {
			if s, _ := c.(string); !tiktokCurrencies[s] {
				return Event{}, p + "properties.currency: Not a supported currency."
			}
		}
		if cs, present := props["contents"]; present {
			list, ok := cs.([]any)
			if !ok {
				return Event{}, p + "properties.contents: Not a valid list."
			}
			for j, c := range list {
				content, _ := c.(map[string]any)
				if cid, present := content["content_id"]; present {
					if _, isString := cid.(string); !isString {
						return Event{}, fmt.Sprintf("%sproperties.contents.%d.content_id: Not a valid string", p, j)
					}
				}
			}
		}
	}
	if pg, present := ev["page"]; present {
		page, ok := pg.(map[string]any)
		if !ok {
			return Event{}, p + "page: Not a valid object."
		}
		if u, present := page["url"]; present {
			if _, isString := u.(string); !isString {
				return Event{}, p + "page.url: Not a valid string."
			}
		}
	}
	sid, _ := id.(string)
	return Event{ID: sid, Name: name, Time: time.Unix(ts, 0), Fields: ev}, ""
}
