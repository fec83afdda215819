package capitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func tiktokRequestBody(t *testing.T, change func(body, ev, user, props map[string]any)) string {
	t.Helper()
	user := map[string]any{"email": goodHash, "ttclid": "E.C.P.xxxx", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}
	props := map[string]any{"value": 12.5, "currency": "USD", "contents": []any{map[string]any{"content_id": "SKU_1"}}}
	ev := map[string]any{"event": "Purchase", "event_time": time.Now().Unix(), "event_id": "ev-1", "user": user, "properties": props,
		"page": map[string]any{"url": "https://shop.example/thanks"}}
	body := map[string]any{"event_source": "web", "event_source_id": "CPIXEL", "test_event_code": "TEST1", "data": []any{ev}}
	if change != nil {
		change(body, ev, user, props)
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return string(b)
}

const tiktokPath = "/open_api/v1.3/event/track/"

func TestTikTokFakeAccepts(t *testing.T) {
	t.Parallel()

	tk := NewTikTok(t)
	tk.SetAccessToken("tok")
	tk.SetPixels("CPIXEL")
	status, answer := post(t, tk.URL+tiktokPath, http.Header{"Access-Token": {"tok"}}, tiktokRequestBody(t, nil))
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 0, answer["code"])
	require.Equal(t, "OK", answer["message"])
	require.NotEmpty(t, answer["request_id"])
	events := tk.WaitForEvents(t, 1, time.Second)
	require.Equal(t, "ev-1", events[0].ID)
	require.Equal(t, "Purchase", events[0].Name)
	require.Equal(t, "TEST1", events[0].TestEventCode)
}

func TestTikTokFakeRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		token   string
		change  func(body, ev, user, props map[string]any)
		code    int
		message string
	}{
		{"no token", "", nil, 40001, "No permission: the Access-Token header is missing or invalid."},
		{"wrong token", "other", nil, 40001, "No permission: the Access-Token header is missing or invalid."},
		{"other pixel", "tok", func(b, _, _, _ map[string]any) { b["event_source_id"] = "COTHER" }, 40001,
			"No permission to operate pixel code: COTHER. You must be an admin or operator of this advertiser account."},
		{"bad event_source", "tok", func(b, _, _, _ map[string]any) { b["event_source"] = "website" }, 40002, "event_source: Must be one of: web, app, offline, crm."},
		{"no pixel", "tok", func(b, _, _, _ map[string]any) { delete(b, "event_source_id") }, 40002, "event_source_id: Missing data for required field."},
		{"no events", "tok", func(b, _, _, _ map[string]any) { b["data"] = []any{} }, 40002, "data: Length must be between 1 and 1000."},
		{"no event name", "tok", func(_, ev, _, _ map[string]any) { delete(ev, "event") }, 40002, "Batch.0.event: Missing data for required field."},
		{"event time in milliseconds", "tok", func(_, ev, _, _ map[string]any) { ev["event_time"] = time.Now().UnixMilli() }, 40002, "Batch.0.event_time: Not a valid Unix timestamp in seconds."},
		{"unhashed email", "tok", func(_, _, u, _ map[string]any) { u["email"] = "a@b.co" }, 40002, "Batch.0.user.email: Not a valid SHA-256 hash of a non-empty value."},
		{"empty-string hash", "tok", func(_, _, u, _ map[string]any) { u["phone"] = emptyHash }, 40002, "Batch.0.user.phone: Not a valid SHA-256 hash of a non-empty value."},
		{"unhashed external id", "tok", func(_, _, u, _ map[string]any) { u["external_id"] = []any{goodHash, "u-42"} }, 40002, "Batch.0.user.external_id: Not a valid SHA-256 hash of a non-empty value."},
		{"hashed ttclid", "tok", func(_, _, u, _ map[string]any) { u["ttclid"] = goodHash }, 40002, "Batch.0.user.ttclid: Must be a plain, non-empty string (not hashed)."},
		{"bad ip", "tok", func(_, _, u, _ map[string]any) { u["ip"] = "localhost" }, 40002, "Batch.0.user.ip: Not a valid IP address."},
		{"string value", "tok", func(_, _, _, p map[string]any) { p["value"] = "12.5" }, 40002, "Batch.0.properties.value: Not a valid number."},
		{"unsupported currency", "tok", func(_, _, _, p map[string]any) { p["currency"] = "XOF" }, 40002, "Batch.0.properties.currency: Not a supported currency."},
		{"numeric content id", "tok", func(_, _, _, p map[string]any) { p["contents"] = []any{map[string]any{"content_id": 1}} }, 40002,
			"Batch.0.properties.contents.0.content_id: Not a valid string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := NewTikTok(t)
			tk.SetAccessToken("tok")
			tk.SetPixels("CPIXEL")
			h := http.Header{}
			if tt.token != "" {
				h.Set("Access-Token", tt.token)
			}
			status, answer := post(t, tk.URL+tiktokPath, h, tiktokRequestBody(t, tt.change))
			require.Equal(t, http.StatusOK, status, "TikTok answers errors with HTTP 200")
			require.EqualValues(t, tt.code, answer["code"])
			require.Equal(t, tt.message, answer["message"])
			require.Empty(t, tk.Events())
		})
	}
}

// TestTikTokFakeWholeBatchFails checks that one bad event fails the batch.
func TestTikTokFakeWholeBatchFails(t *testing.T) {
	t.Parallel()

	tk := NewTikTok(t)
	body := tiktokRequestBody(t, func(b, ev, _, _ map[string]any) {
		bad := map[string]any{"event": "Lead", "event_time": time.Now().Unix(), "user": map[string]any{"email": "raw@example.com"}}
		b["data"] = []any{ev, bad}
	})
	_, answer := post(t, tk.URL+tiktokPath, http.Header{"Access-Token": {"tok"}}, body)
	require.EqualValues(t, 40002, answer["code"])
	require.True(t, strings.HasPrefix(answer["message"].(string), "Batch.1.user.email"))
	require.Empty(t, tk.Events())
	require.Len(t, tk.Rejections(), 1)
}
