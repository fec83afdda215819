package capi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// specTime is the event_time of the spec's examples (§1.2, §2.2, §4.2).
var specTime = time.Unix(1762902353, 0)

// specEvent is the conversion behind the spec's example requests.
func specEvent() Event {
	return Event{
		EventID:        "order-123",
		EventName:      "Purchase",
		Time:           specTime,
		Value:          123_450_000,
		Currency:       "USD",
		OrderID:        "order-123",
		SourceURL:      "https://shop.example.com/checkout/thanks",
		ClientIP:       "203.0.113.7",
		UserAgent:      "Mozilla/5.0 (...)",
		DefaultCountry: "US",
		User:           UserData{Email: "John_Smith@gmail.com", Phone: "(650)555-1212"},
		Click: Click{
			FBC: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
			FBP: "fb.1.1596403881668.1116446470",
		},
	}
}

// TestMetaRequestSpecExample builds §1.2's minimal valid example exactly.
func TestMetaRequestSpecExample(t *testing.T) {
	t.Parallel()

	ev := specEvent()
	p, err := buildMetaEvent(&ev, specTime.Add(time.Hour))
	require.Nil(t, err)
	body := metaRequest(MetaCredentials{PixelID: "1234567890", AccessToken: "EAAB", TestEventCode: "TEST12345"}, [][]byte{p}, []int{0})
	require.JSONEq(t, `{
	  "data": [{
	    "event_name": "Purchase",
	    "event_time": 1762902353,
	    "event_id": "order-123",
	    "action_source": "website",
	    "event_source_url": "https://shop.example.com/checkout/thanks",
	    "user_data": {
	      "em": ["62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"],
	      "ph": ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"],
	      "client_ip_address": "203.0.113.7",
	      "client_user_agent": "Mozilla/5.0 (...)",
	      "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
	      "fbp": "fb.1.1596403881668.1116446470"
	    },
	    "custom_data": { "value": 123.45, "currency": "USD", "order_id": "order-123" }
	  }],
	  "access_token": "EAAB",
	  "test_event_code": "TEST12345"
	}`, string(body))
}

func TestBuildMetaEvent(t *testing.T) {
	t.Parallel()

	now := specTime.Add(time.Hour)
	tests := []struct {
		name   string
		modify func(*Event)
		// check inspects the built event; nil when wantErr is set.
		check   func(t *testing.T, ev map[string]any)
		wantErr string
	}{
		{
			name: "every user field normalised and hashed",
			modify: func(e *Event) {
				e.User = UserData{
					Email: " John_Smith@Gmail.com", Phone: "(650)555-1212", FirstName: "Mary", LastName: "Valéry",
					City: "New York", State: "California", Zip: "94035-1234", Country: "United States",
					ExternalID: "User-42", DateOfBirth: "2/16/1997", Gender: "Female",
				}
			},
			check: func(t *testing.T, ev map[string]any) {
				u := ev["user_data"].(map[string]any)
				require.Equal(t, []any{Hash("john_smith@gmail.com")}, u["em"])
				require.Equal(t, []any{Hash("16505551212")}, u["ph"])
				require.Equal(t, Hash("mary"), u["fn"])
				require.Equal(t, Hash("valéry"), u["ln"])
				require.Equal(t, Hash("newyork"), u["ct"])
				require.Equal(t, Hash("ca"), u["st"])
				require.Equal(t, Hash("94035"), u["zp"])
				require.Equal(t, Hash("us"), u["country"])
				require.Equal(t, Hash("user-42"), u["external_id"])
				require.Equal(t, Hash("19970216"), u["db"])
				require.Equal(t, Hash("f"), u["ge"])
			},
		},
		{
			name: "already hashed values pass through, empty ones are omitted",
			modify: func(e *Event) {
				e.User = UserData{Email: Hash("a@b.co"), Phone: "", FirstName: EmptyHash, City: "  "}
			},
			check: func(t *testing.T, ev map[string]any) {
				u := ev["user_data"].(map[string]any)
				require.Equal(t, []any{Hash("a@b.co")}, u["em"])
				for _, k := range []string{"ph", "fn", "ct"} {
					require.NotContains(t, u, k)
				}
			},
		},
		{
			name: "fbc built from fbclid and click time",
			modify: func(e *Event) {
				e.Click = Click{FBClid: "IwAR2xYz", Time: time.UnixMilli(1762900000123)}
			},
			check: func(t *testing.T, ev map[string]any) {
				require.Equal(t, "fb.1.1762900000123.IwAR2xYz", ev["user_data"].(map[string]any)["fbc"])
			},
		},
		{
			name:   "future time is sent as now",
			modify: func(e *Event) { e.Time = now.Add(time.Hour) },
			check: func(t *testing.T, ev map[string]any) {
				require.EqualValues(t, now.Unix(), ev["event_time"])
			},
		},
		{
			name:   "invalid IP is left out",
			modify: func(e *Event) { e.ClientIP = "not-an-ip" },
			check: func(t *testing.T, ev map[string]any) {
				require.NotContains(t, ev["user_data"], "client_ip_address")
			},
		},
		{
			name:   "IPv4-mapped IPv6 is unmapped",
			modify: func(e *Event) { e.ClientIP = "::ffff:203.0.113.7" },
			check: func(t *testing.T, ev map[string]any) {
				require.Equal(t, "203.0.113.7", ev["user_data"].(map[string]any)["client_ip_address"])
			},
		},
		{
			name:   "lead with value but no currency sends no value",
			modify: func(e *Event) { e.EventName, e.Currency, e.OrderID = "Lead", "", "" },
			check: func(t *testing.T, ev map[string]any) {
				require.NotContains(t, ev, "custom_data")
			},
		},
		{
			name:   "purchase of zero value still carries value and currency",
			modify: func(e *Event) { e.Value, e.Currency = 0, "eur" },
			check: func(t *testing.T, ev map[string]any) {
				require.Equal(t, map[string]any{"value": 0.0, "currency": "EUR", "order_id": "order-123"}, ev["custom_data"])
			},
		},
		{
			name:   "non-website event needs no URL or user agent",
			modify: func(e *Event) { e.ActionSource, e.SourceURL, e.UserAgent = "system_generated", "", "" },
			check: func(t *testing.T, ev map[string]any) {
				require.Equal(t, "system_generated", ev["action_source"])
			},
		},
		{name: "no name", modify: func(e *Event) { e.EventName = " " }, wantErr: "no name"},
		{name: "no time", modify: func(e *Event) { e.Time = time.Time{} }, wantErr: "no time"},
		{name: "older than 7 days", modify: func(e *Event) { e.Time = now.Add(-7*24*time.Hour - time.Second) }, wantErr: "up to 7 days old"},
		{name: "unknown action source", modify: func(e *Event) { e.ActionSource = "web" }, wantErr: "action source"},
		{name: "website without user agent", modify: func(e *Event) { e.UserAgent = "" }, wantErr: "user agent"},
		{name: "website without landing page", modify: func(e *Event) { e.SourceURL = "" }, wantErr: "landing page"},
		{name: "purchase without currency", modify: func(e *Event) { e.Currency = "$" }, wantErr: "currency"},
		{
			name: "only weak customer information",
			modify: func(e *Event) {
				e.ClientIP, e.Click = "", Click{}
				e.User = UserData{City: "Paris", Country: "FR", Gender: "f", State: "IDF", Zip: "75001"}
			},
			wantErr: "customer information",
		},
		{
			name: "name and gender alone are too weak",
			modify: func(e *Event) {
				e.ActionSource, e.ClientIP, e.UserAgent, e.Click = "other", "", "", Click{}
				e.User = UserData{FirstName: "Mary", Gender: "f"}
			},
			wantErr: "customer information",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := specEvent()
			tt.modify(&ev)
			p, err := buildMetaEvent(&ev, now)
			if tt.wantErr != "" {
				require.NotNil(t, err)
				require.ErrorIs(t, err, ErrInvalidEvent)
				require.False(t, err.Retryable)
				require.Contains(t, err.Message, tt.wantErr)
				return
			}
			require.Nil(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(p, &got))
			tt.check(t, got)
		})
	}
}

func TestClassifyMeta(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		status    int
		body      string
		retryable bool
		code      string
		message   string
	}{
		{"timestamp too old", 400, `{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804003,"is_transient":false,"error_user_title":"Event Timestamp Too Old","error_user_msg":"The timestamp for this event is too far in the past.","fbtrace_id":"A6Uy"}}`, false, "100/2804003", "Event Timestamp Too Old: The timestamp for this event is too far in the past."},
		{"token", 400, `{"error":{"code":190,"type":"OAuthException","message":"The access token could not be decrypted"}}`, false, "190", "The access token could not be decrypted"},
		{"token expired 102", 401, `{"error":{"code":102,"message":"Session key invalid"}}`, false, "102", "Session key invalid"},
		{"permission 10", 403, `{"error":{"code":10,"message":"Permission denied"}}`, false, "10", ""},
		{"permission 200-299", 403, `{"error":{"code":294,"message":"Managing advertisements requires ads_management"}}`, false, "294", ""},
		{"object missing", 400, `{"error":{"code":100,"error_subcode":33,"type":"GraphMethodException","message":"Unsupported post request."}}`, false, "100/33", ""},
		{"flat body as in rudder fixtures", 400, `{"code":17,"message":"User request limit reached"}`, true, "17", "User request limit reached"},
		{"throttle 4", 400, `{"error":{"code":4,"message":"Application request limit reached"}}`, true, "4", ""},
		{"throttle 32", 400, `{"error":{"code":32,"message":"Page request limit reached"}}`, true, "32", ""},
		{"throttle 613", 400, `{"error":{"code":613,"message":"Calls to this api have exceeded the rate limit."}}`, true, "613", ""},
		{"throttle 80003", 400, `{"error":{"code":80003,"message":"There have been too many calls"}}`, true, "80003", ""},
		{"unknown 1", 500, `{"error":{"code":1,"message":"An unknown error occurred"}}`, true, "1", ""},
		{"service 2", 503, `{"error":{"code":2,"message":"Service temporarily unavailable"}}`, true, "2", ""},
		{"app limit 341", 400, `{"error":{"code":341,"message":"Application limit reached"}}`, true, "341", ""},
		{"blocked 368", 400, `{"error":{"code":368,"message":"Temporarily blocked"}}`, true, "368", ""},
		{"not ready 21009", 400, `{"code":21009,"message":"(#21009) The data set upload is temporarily not ready."}`, true, "21009", ""},
		{"is_transient wins", 400, `{"error":{"code":100,"is_transient":true,"message":"Try again"}}`, true, "100", ""},
		{"unknown code retried", 400, `{"error":{"code":12345,"message":"New error"}}`, true, "12345", ""},
		{"html retried", 404, `<html><body>Not Found</body></html>`, true, "", ""},
		{"bare 502", 502, ``, true, "", "Bad Gateway"},
		{"bare 429", 429, `too many`, true, "", "Too Many Requests"},
		{"bare 400", 400, `nope`, false, "", "Bad Request"},
	}
	c := newClient(PlatformMeta, "", DefaultMetaURL, "", nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := classifyMeta(&c, &reply{status: tt.status, header: map[string][]string{}, body: []byte(tt.body)})
			require.Equal(t, tt.retryable, e.Retryable)
			require.Equal(t, tt.code, e.Code)
			require.Equal(t, tt.status, e.StatusCode)
			require.ErrorIs(t, e, ErrPlatform)
			if tt.message != "" {
				require.Equal(t, tt.message, e.Message)
			}
			require.Equal(t, strings.TrimSpace(tt.body), e.Response)
		})
	}
}
