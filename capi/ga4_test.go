package capi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGA4RequestSpecExample builds the purchase of §2.2. It differs from the
// spec's example where the spec says so: timestamp_micros is set per event
// only (§2.4 "Set it per event"), an event_id parameter carries the dedup key,
// engagement_time_msec is the minimal 1, and there are no items (clickback
// knows none).
func TestGA4RequestSpecExample(t *testing.T) {
	t.Parallel()

	ev := specEvent()
	ev.EventName = "purchase"
	ev.User = UserData{ExternalID: "u-42"}
	ev.Click = Click{GAClientID: "GA1.1.1234567890.1699999999", GASessionID: "GS1.1.1762900000.3.1.1762900100.0.0.0"}
	it, err := buildGA4Item(&ev, specTime.Add(time.Hour))
	require.Nil(t, err)
	body, jerr := ga4Request([]ga4Item{it}, []int{0})
	require.NoError(t, jerr)
	require.JSONEq(t, `{
	  "client_id": "1234567890.1699999999",
	  "user_id": "u-42",
	  "events": [{
	    "name": "purchase",
	    "timestamp_micros": 1762902353000000,
	    "params": {
	      "event_id": "order-123",
	      "transaction_id": "order-123", "currency": "USD", "value": 123.45,
	      "session_id": "1762900000", "engagement_time_msec": 1
	    }
	  }]
	}`, string(body))
}

func TestBuildGA4Item(t *testing.T) {
	t.Parallel()

	now := specTime.Add(time.Hour)
	tests := []struct {
		name    string
		modify  func(*Event)
		check   func(t *testing.T, head map[string]any, ev map[string]any)
		wantErr string
	}{
		{
			name: "lead with user data",
			modify: func(e *Event) {
				e.EventName, e.Value, e.OrderID = "generate_lead", 50_000_000, ""
				e.User = UserData{Email: "J.Smith@Gmail.com", Phone: "(650) 555-1212", FirstName: "Mary", LastName: "O'Brien",
					City: "New York", State: "New York", Zip: "10001-1234", Country: "usa"}
			},
			check: func(t *testing.T, head, ev map[string]any) {
				require.Equal(t, map[string]any{"currency": "USD", "value": 50.0, "event_id": "order-123"}, ev["params"])
				require.Equal(t, map[string]any{
					"sha256_email_address": []any{Hash("jsmith@gmail.com")},
					"sha256_phone_number":  []any{Hash("+16505551212")},
					"address": []any{map[string]any{
						"sha256_first_name": Hash("mary"), "sha256_last_name": Hash("obrien"),
						"city": "new york", "region": "ny", "postal_code": "10001", "country": "US",
					}},
				}, head["user_data"])
			},
		},
		{
			name:   "purchase without order id uses the event id as transaction id",
			modify: func(e *Event) { e.EventName, e.OrderID = "purchase", "" },
			check: func(t *testing.T, _, ev map[string]any) {
				require.Equal(t, "order-123", ev["params"].(map[string]any)["transaction_id"])
			},
		},
		{
			name: "client id from a bare id and GS2 session cookie",
			modify: func(e *Event) {
				e.Click = Click{GAClientID: "555.666", GASessionID: "GS2.1.s1762900000$o3$g1$t1762900100$j60$l0$h0"}
			},
			check: func(t *testing.T, head, ev map[string]any) {
				require.Equal(t, "555.666", head["client_id"])
				require.Equal(t, "1762900000", ev["params"].(map[string]any)["session_id"])
			},
		},
		{
			name:   "without a GA client id one is derived from the event id, stably",
			modify: func(e *Event) { e.Click = Click{} },
			check: func(t *testing.T, head, _ map[string]any) {
				id := head["client_id"].(string)
				require.Regexp(t, `^\d+\.1762902353$`, id)
				again := specEvent()
				again.Click = Click{}
				require.Equal(t, id, gaClientID(&again))
			},
		},
		{
			name:   "long ids are cut to GA4's 100 characters",
			modify: func(e *Event) { e.EventID, e.OrderID = strings.Repeat("e", 150), strings.Repeat("o", 150) },
			check: func(t *testing.T, _, ev map[string]any) {
				p := ev["params"].(map[string]any)
				require.Len(t, p["event_id"], 100)
				require.Len(t, p["transaction_id"], 100)
			},
		},
		{name: "reserved name", modify: func(e *Event) { e.EventName = "first_visit" }, wantErr: "reserves"},
		{name: "reserved prefix", modify: func(e *Event) { e.EventName = "google_purchase" }, wantErr: "reserves"},
		{name: "name starting with underscore", modify: func(e *Event) { e.EventName = "_purchase" }, wantErr: "start with a letter"},
		{name: "name with a space", modify: func(e *Event) { e.EventName = "big purchase" }, wantErr: "letters, digits and underscores"},
		{name: "name too long", modify: func(e *Event) { e.EventName = strings.Repeat("a", 41) }, wantErr: "40 characters"},
		{name: "older than 72 hours", modify: func(e *Event) { e.Time = now.Add(-73 * time.Hour) }, wantErr: "72 hours"},
		{name: "value without currency", modify: func(e *Event) { e.EventName, e.Currency = "purchase", "" }, wantErr: "currency"},
		{name: "no time", modify: func(e *Event) { e.EventName, e.Time = "purchase", time.Time{} }, wantErr: "no time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := specEvent()
			ev.EventName = "purchase"
			tt.modify(&ev)
			it, err := buildGA4Item(&ev, now)
			if tt.wantErr != "" {
				require.NotNil(t, err)
				require.ErrorIs(t, err, ErrInvalidEvent)
				require.Contains(t, err.Message, tt.wantErr)
				return
			}
			require.Nil(t, err)
			body, jerr := ga4Request([]ga4Item{it}, []int{0})
			require.NoError(t, jerr)
			var got map[string]any
			require.NoError(t, json.Unmarshal(body, &got))
			tt.check(t, got, got["events"].([]any)[0].(map[string]any))
		})
	}
}
