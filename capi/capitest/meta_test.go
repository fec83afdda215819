package capitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Digests used by the tests: sha256 of "a@b.co" and of "" (which is refused).
const (
	goodHash  = "80305c9bb1bb2480e03894350e0a8a366dcbdeb302e69e0817aa0743abd77054"
	emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// post sends body to u and returns the status and decoded answer.
func post(t *testing.T, u string, header http.Header, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	require.NoError(t, err)
	if header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		require.NoError(t, json.Unmarshal(b, &out), string(b))
	}
	return resp.StatusCode, out
}

// metaEventJSON returns a valid website Purchase as JSON, with changes
// applied to its decoded form.
func metaEventJSON(t *testing.T, at time.Time, change func(ev, user, custom map[string]any)) string {
	t.Helper()
	user := map[string]any{"em": []any{goodHash}, "client_user_agent": "Mozilla/5.0", "client_ip_address": "203.0.113.7"}
	custom := map[string]any{"value": 12.5, "currency": "USD"}
	ev := map[string]any{
		"event_name": "Purchase", "event_time": at.Unix(), "event_id": "ev-1", "action_source": "website",
		"event_source_url": "https://shop.example/thanks", "user_data": user, "custom_data": custom,
	}
	if change != nil {
		change(ev, user, custom)
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(b)
}

func TestMetaFakeAccepts(t *testing.T) {
	t.Parallel()

	now := time.Now()
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   func(ev string) string
	}{
		{"json with token in body", "/v25.0/123/events", nil, func(ev string) string {
			return `{"data":[` + ev + `],"access_token":"tok","test_event_code":"TEST1"}`
		}},
		{"json with token in query", "/v25.0/123/events?access_token=tok", nil, func(ev string) string {
			return `{"data":[` + ev + `],"test_event_code":"TEST1"}`
		}},
		{"data as a JSON string", "/v25.0/123/events", nil, func(ev string) string {
			s, _ := json.Marshal("[" + ev + "]")
			return `{"data":` + string(s) + `,"access_token":"tok","test_event_code":"TEST1"}`
		}},
		{"form body", "/v25.0/123/events", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, func(ev string) string {
			return url.Values{"data": {"[" + ev + "]"}, "access_token": {"tok"}, "test_event_code": {"TEST1"}}.Encode()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := NewMeta(t)
			m.SetAccessToken("tok")
			status, answer := post(t, m.URL+tt.path, tt.header, tt.body(metaEventJSON(t, now, nil)))
			require.Equal(t, http.StatusOK, status, answer)
			require.EqualValues(t, 1, answer["events_received"])
			require.Equal(t, []any{}, answer["messages"])
			require.NotEmpty(t, answer["fbtrace_id"])
			events := m.Events()
			require.Len(t, events, 1)
			require.Equal(t, "ev-1", events[0].ID)
			require.Equal(t, "Purchase", events[0].Name)
			require.Equal(t, "TEST1", events[0].TestEventCode)
			require.Equal(t, now.Unix(), events[0].Time.Unix())
			require.Equal(t, map[string]int{"ev-1": 1}, m.CountByEventID())
		})
	}
}

func TestMetaFakeRejects(t *testing.T) {
	t.Parallel()

	now := time.Now()
	body := func(events ...string) string {
		return `{"data":[` + strings.Join(events, ",") + `],"access_token":"tok"}`
	}
	valid := metaEventJSON(t, now, nil)
	tests := []struct {
		name    string
		path    string
		body    string
		code    int
		subcode int
	}{
		{"missing token", "/v25.0/123/events", `{"data":[` + valid + `]}`, 190, 0},
		{"wrong token", "/v25.0/123/events", `{"data":[` + valid + `],"access_token":"other"}`, 190, 0},
		{"unknown pixel", "/v25.0/999/events", body(valid), 100, 33},
		{"no data", "/v25.0/123/events", `{"access_token":"tok"}`, 100, MetaSubcodeInvalidData},
		{"empty data", "/v25.0/123/events", body(), 100, MetaSubcodeInvalidData},
		{"over 1000 events", "/v25.0/123/events", body(strings.Repeat(valid+",", 1000) + valid), 100, MetaSubcodeInvalidData},
		{"no event_name", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, _, _ map[string]any) { delete(ev, "event_name") })), 100, MetaSubcodeMissingField},
		{"event_time not an integer", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, _, _ map[string]any) { ev["event_time"] = "yesterday" })), 100, MetaSubcodeMissingField},
		{"event_time in milliseconds as a float", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, _, _ map[string]any) { ev["event_time"] = 1.5 })), 100, MetaSubcodeMissingField},
		{"bad action_source", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, _, _ map[string]any) { ev["action_source"] = "web" })), 100, MetaSubcodeMissingField},
		{"user_data without known keys", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, _, _ map[string]any) { ev["user_data"] = map[string]any{"email": "a@b.co"} })), 100, MetaSubcodeMissingField},
		{"one stale event fails the request", "/v25.0/123/events", body(valid, metaEventJSON(t, now.Add(-8*24*time.Hour), nil)), 100, MetaSubcodeTimestampTooOld},
		{"website without user agent", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { delete(u, "client_user_agent") })), 100, MetaSubcodeWebsiteFields},
		{"website without url", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, _, _ map[string]any) { delete(ev, "event_source_url") })), 100, MetaSubcodeWebsiteFields},
		{"unhashed email", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["em"] = "a@b.co" })), 100, MetaSubcodeHashing},
		{"uppercase hash", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["em"] = strings.ToUpper(goodHash) })), 100, MetaSubcodeHashing},
		{"empty-string hash", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["ph"] = []any{emptyHash} })), 100, MetaSubcodeHashing},
		{"empty string", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["fn"] = "" })), 100, MetaSubcodeHashing},
		{"hashed user agent", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["client_user_agent"] = goodHash })), 100, MetaSubcodeHashing},
		{"hashed fbc", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["fbc"] = goodHash })), 100, MetaSubcodeHashing},
		{"bad ip", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) { u["client_ip_address"] = "203.0.113.7 " })), 100, MetaSubcodeHashing},
		{"purchase without currency", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, _, c map[string]any) { delete(c, "currency") })), 100, MetaSubcodePurchase},
		{"purchase with a string value", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, _, c map[string]any) { c["value"] = "12.50" })), 100, MetaSubcodePurchase},
		{"baseline: geography, gender and user agent only", "/v25.0/123/events", body(metaEventJSON(t, now, func(_, u, _ map[string]any) {
			delete(u, "em")
			delete(u, "client_ip_address")
			u["ct"], u["st"], u["country"], u["ge"] = goodHash, goodHash, goodHash, goodHash
		})), 100, MetaSubcodeWeakUserData},
		{"baseline: name and gender", "/v25.0/123/events", body(metaEventJSON(t, now, func(ev, u, _ map[string]any) {
			ev["action_source"] = "other"
			ev["user_data"] = map[string]any{"fn": goodHash, "ge": goodHash}
		})), 100, MetaSubcodeWeakUserData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := NewMeta(t)
			m.SetAccessToken("tok")
			m.SetPixels("123")
			status, answer := post(t, m.URL+tt.path, nil, tt.body)
			require.Equal(t, http.StatusBadRequest, status)
			e := answer["error"].(map[string]any)
			require.EqualValues(t, tt.code, e["code"], e)
			if tt.subcode != 0 {
				require.EqualValues(t, tt.subcode, e["error_subcode"], e)
			}
			require.Equal(t, false, e["is_transient"])
			require.NotEmpty(t, e["message"])
			require.NotEmpty(t, e["fbtrace_id"])
			require.Empty(t, m.Events(), "a rejected request records nothing")
			require.Len(t, m.Rejections(), 1)
		})
	}
}

// TestMetaFakeTimestampBody checks the 7-day rejection is the spec's §1.8
// body.
func TestMetaFakeTimestampBody(t *testing.T) {
	t.Parallel()

	m := NewMeta(t)
	old := metaEventJSON(t, time.Now().Add(-7*24*time.Hour-time.Minute), nil)
	status, answer := post(t, m.URL+"/v25.0/123/events", nil, `{"data":[`+old+`],"access_token":"tok"}`)
	require.Equal(t, http.StatusBadRequest, status)
	e := answer["error"].(map[string]any)
	delete(e, "fbtrace_id")
	require.Equal(t, map[string]any{
		"message": "Invalid parameter", "type": "OAuthException", "code": 100.0, "error_subcode": 2804003.0,
		"is_transient": false, "error_user_title": "Event Timestamp Too Old",
		"error_user_msg": "The timestamp for this event is too far in the past. Events need to be sent from your server within 7 days of when they occurred. Enter a timestamp that has occurred within the last 7 days.",
	}, e)
}
