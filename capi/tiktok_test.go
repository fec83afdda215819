package capi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTikTokRequestSpecExample builds §4.2's request (without the contents
// list, which clickback does not know).
func TestTikTokRequestSpecExample(t *testing.T) {
	t.Parallel()

	ev := specEvent()
	ev.Referrer = "https://shop.example.com/cart"
	ev.SourceURL = "https://shop.example.com/thanks"
	ev.User.ExternalID = "u-42"
	ev.Click = Click{Ttclid: "E.C.P.xxxx", TTP: "2F7h37YkS1j57AYSKTI7IHhJPYH"}
	p, err := buildTikTokEvent(&ev, specTime.Add(time.Hour))
	require.Nil(t, err)
	body := tiktokRequest(TikTokCredentials{PixelCode: "CXXXXXXXXXXXXXXXXXXX", AccessToken: "abc123", TestEventCode: "TEST12345"}, [][]byte{p}, []int{0})
	require.JSONEq(t, `{
	  "event_source": "web",
	  "event_source_id": "CXXXXXXXXXXXXXXXXXXX",
	  "test_event_code": "TEST12345",
	  "data": [{
	    "event": "Purchase",
	    "event_time": 1762902353,
	    "event_id": "order-123",
	    "user": {
	      "ttclid": "E.C.P.xxxx",
	      "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
	      "email": "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
	      "phone": "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8",
	      "external_id": "`+Hash("u-42")+`",
	      "ip": "203.0.113.7",
	      "user_agent": "Mozilla/5.0 (...)"
	    },
	    "properties": {"currency": "USD", "value": 123.45, "order_id": "order-123"},
	    "page": {"url": "https://shop.example.com/thanks", "referrer": "https://shop.example.com/cart"}
	  }]
	}`, string(body))
}

func TestBuildTikTokEvent(t *testing.T) {
	t.Parallel()

	now := specTime.Add(time.Hour)
	tests := []struct {
		name    string
		modify  func(*Event)
		check   func(t *testing.T, ev map[string]any)
		wantErr string
	}{
		{
			name:   "chinese phone without +86",
			modify: func(e *Event) { e.User = UserData{Phone: "+86 138 0000 0000"} },
			check: func(t *testing.T, ev map[string]any) {
				require.Equal(t, Hash("13800000000"), ev["user"].(map[string]any)["phone"])
			},
		},
		{
			name:   "unsupported currency sends no value rather than a wrong one",
			modify: func(e *Event) { e.Currency = "XOF" },
			check: func(t *testing.T, ev map[string]any) {
				require.Equal(t, map[string]any{"order_id": "order-123"}, ev["properties"])
			},
		},
		{
			name:   "hashed ttclid is dropped, it must be plain",
			modify: func(e *Event) { e.Click = Click{Ttclid: Hash("x")} },
			check: func(t *testing.T, ev map[string]any) {
				require.NotContains(t, ev["user"], "ttclid")
			},
		},
		{
			name:   "future time is sent as now",
			modify: func(e *Event) { e.Time = now.Add(time.Minute) },
			check:  func(t *testing.T, ev map[string]any) { require.EqualValues(t, now.Unix(), ev["event_time"]) },
		},
		{name: "no name", modify: func(e *Event) { e.EventName = "" }, wantErr: "no name"},
		{name: "no time", modify: func(e *Event) { e.Time = time.Time{} }, wantErr: "no time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := specEvent()
			tt.modify(&ev)
			p, err := buildTikTokEvent(&ev, now)
			if tt.wantErr != "" {
				require.NotNil(t, err)
				require.ErrorIs(t, err, ErrInvalidEvent)
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
