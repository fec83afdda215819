package capitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ga4Body(t *testing.T, change func(body map[string]any, ev map[string]any, params map[string]any)) string {
	t.Helper()
	params := map[string]any{"event_id": "ev-1", "transaction_id": "order-1", "currency": "USD", "value": 12.5}
	ev := map[string]any{"name": "purchase", "timestamp_micros": time.Now().UnixMicro(), "params": params}
	body := map[string]any{"client_id": "123.456", "events": []any{ev}}
	if change != nil {
		change(body, ev, params)
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return string(b)
}

func TestGA4FakeDebugMessages(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(body, ev, params map[string]any)
		want   GA4ValidationMessage
	}{
		{"missing client_id", func(b, _, _ map[string]any) { delete(b, "client_id") },
			GA4ValidationMessage{FieldPath: "client_id", Description: "Measurement requires a client_id.", ValidationCode: "VALUE_REQUIRED"}},
		{"reserved event name", func(_, ev, p map[string]any) { ev["name"] = "first_open"; delete(p, "transaction_id") },
			GA4ValidationMessage{FieldPath: "events", Description: "Event at index: [0] has name [first_open] which is reserved.", ValidationCode: "NAME_RESERVED"}},
		{"name starting with underscore", func(_, ev, _ map[string]any) { ev["name"] = "_badEventName" },
			GA4ValidationMessage{FieldPath: "events", Description: "Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic character.", ValidationCode: "NAME_INVALID"}},
		{"name with @", func(_, ev, _ map[string]any) { ev["name"] = "campaign@details" },
			GA4ValidationMessage{FieldPath: "events", Description: "Event at index: [0] has invalid name [campaign@details]. Only alphanumeric characters and underscores are allowed.", ValidationCode: "NAME_INVALID"}},
		{"reserved prefix", func(_, ev, _ map[string]any) { ev["name"] = "firebase_thing" },
			GA4ValidationMessage{FieldPath: "events", Description: "Event at index: [0] has name [firebase_thing] which is reserved.", ValidationCode: "NAME_RESERVED"}},
		{"unknown event field", func(_, ev, _ map[string]any) { ev["names"] = "x" },
			GA4ValidationMessage{Description: "Unable to parse Measurement Protocol JSON payload. (events[0]) names: Cannot find field.", ValidationCode: "VALUE_INVALID"}},
		{"boolean param", func(_, _, p map[string]any) { p["is_new"] = true },
			GA4ValidationMessage{FieldPath: "events[0].params.is_new", Description: "Value is not a string or number.", ValidationCode: "VALUE_INVALID"}},
		{"param value over 100 characters", func(_, _, p map[string]any) { p["note"] = strings.Repeat("x", 101) },
			GA4ValidationMessage{FieldPath: "events[0].params.note", Description: "Value of param [note] is longer than 100 characters.", ValidationCode: "VALUE_OUT_OF_BOUNDS"}},
		{"value without currency", func(_, _, p map[string]any) { delete(p, "currency") },
			GA4ValidationMessage{FieldPath: "events[0].params.currency", Description: "Event at index: [0] has a value but no ISO 4217 currency.", ValidationCode: "VALUE_REQUIRED"}},
		{"purchase without transaction_id", func(_, _, p map[string]any) { delete(p, "transaction_id") },
			GA4ValidationMessage{FieldPath: "events[0].params.transaction_id", Description: "Event at index: [0] is a purchase without transaction_id.", ValidationCode: "VALUE_REQUIRED"}},
		{"older than 72 hours", func(_, ev, _ map[string]any) { ev["timestamp_micros"] = time.Now().Add(-73 * time.Hour).UnixMicro() },
			GA4ValidationMessage{FieldPath: "events[0].timestamp_micros", Description: "timestamp_micros is more than 72 hours in the past.", ValidationCode: "VALUE_OUT_OF_BOUNDS"}},
		{"over 25 events", func(b, ev, _ map[string]any) {
			list := make([]any, 26)
			for i := range list {
				list[i] = ev
			}
			b["events"] = list
		}, GA4ValidationMessage{FieldPath: "events", Description: "A request can hold at most 25 events; this one holds 26.", ValidationCode: "EXCEEDED_MAX_ENTITIES"}},
		{"unhashed email", func(b, _, _ map[string]any) { b["user_data"] = map[string]any{"sha256_email_address": []any{"a@b.co"}} },
			GA4ValidationMessage{FieldPath: "user_data.sha256_email_address", Description: "user_data.sha256_email_address must be a SHA-256 hex digest of a non-empty value.", ValidationCode: "VALUE_INVALID"}},
		{"empty-string hash", func(b, _, _ map[string]any) { b["user_data"] = map[string]any{"sha256_phone_number": emptyHash} },
			GA4ValidationMessage{FieldPath: "user_data.sha256_phone_number", Description: "user_data.sha256_phone_number must be a SHA-256 hex digest of a non-empty value.", ValidationCode: "VALUE_INVALID"}},
		{"hashed city", func(b, _, _ map[string]any) {
			b["user_data"] = map[string]any{"address": []any{map[string]any{"city": goodHash}}}
		},
			GA4ValidationMessage{FieldPath: "user_data.address[0].city", Description: "user_data.address[0].city must be a plain, non-empty string (it is not hashed).", ValidationCode: "VALUE_INVALID"}},
		{"client id format under ENFORCE_RECOMMENDATIONS", func(b, _, _ map[string]any) {
			b["client_id"] = "abc"
			b["validation_behavior"] = "ENFORCE_RECOMMENDATIONS"
		},
			GA4ValidationMessage{FieldPath: "client_id", Description: "client_id [3] has invalid format. It should be in <number>.<number> format.", ValidationCode: "VALUE_INVALID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := NewGA4(t)
			status, answer := post(t, g.URL+"/debug/mp/collect?measurement_id=G-1&api_secret=s", nil, ga4Body(t, tt.change))
			require.Equal(t, http.StatusOK, status)
			msgs := answer["validationMessages"].([]any)
			require.NotEmpty(t, msgs)
			first := msgs[0].(map[string]any)
			require.Equal(t, tt.want.Description, first["description"])
			require.Equal(t, tt.want.ValidationCode, first["validationCode"])
			if tt.want.FieldPath != "" {
				require.Equal(t, tt.want.FieldPath, first["fieldPath"])
			}
			require.Empty(t, g.Events(), "the debug endpoint records nothing")
		})
	}
}

func TestGA4FakeDebugValid(t *testing.T) {
	t.Parallel()

	g := NewGA4(t)
	g.SetAPISecret("right")
	status, answer := post(t, g.URL+"/debug/mp/collect?measurement_id=G-1&api_secret=wrong", nil, ga4Body(t, nil))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"validationMessages": []any{}}, answer, "the validation server does not check the API secret")
	require.Empty(t, g.Events())
}

func TestGA4FakeCollect(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		query    string
		change   func(body, ev, params map[string]any)
		recorded bool
		reason   string
	}{
		{"valid", "measurement_id=G-1&api_secret=right", nil, true, ""},
		{"wrong secret is dropped silently", "measurement_id=G-1&api_secret=wrong", nil, false, "api_secret is missing or wrong"},
		{"missing measurement id", "api_secret=right", nil, false, "measurement_id is missing"},
		{"invalid payload is dropped silently", "measurement_id=G-1&api_secret=right", func(b, _, _ map[string]any) { delete(b, "client_id") }, false, "Measurement requires a client_id."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := NewGA4(t)
			g.SetAPISecret("right")
			status, answer := post(t, g.URL+"/mp/collect?"+tt.query, nil, ga4Body(t, tt.change))
			require.Equal(t, http.StatusNoContent, status, "production GA4 answers 2xx to everything")
			require.Nil(t, answer)
			if tt.recorded {
				events := g.Events()
				require.Len(t, events, 1)
				require.Equal(t, "ev-1", events[0].ID)
				require.Equal(t, "purchase", events[0].Name)
				require.Empty(t, g.Rejections())
				return
			}
			require.Empty(t, g.Events())
			rej := g.Rejections()
			require.Len(t, rej, 1)
			require.Equal(t, tt.reason, rej[0].Reason)
		})
	}
}

func TestGA4FakeRecordsTransactionIDWithoutEventID(t *testing.T) {
	t.Parallel()

	g := NewGA4(t)
	body := ga4Body(t, func(_, _, p map[string]any) { delete(p, "event_id") })
	status, _ := post(t, g.URL+"/mp/collect?measurement_id=G-1&api_secret=s", nil, body)
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, map[string]int{"order-1": 1}, g.CountByEventID())
}

func TestGA4FakeBodyLimit(t *testing.T) {
	t.Parallel()

	g := NewGA4(t)
	body := ga4Body(t, func(b, _, _ map[string]any) { b["user_id"] = strings.Repeat("u", 130_000) })
	_, answer := post(t, g.URL+"/debug/mp/collect?measurement_id=G-1", nil, body)
	msgs := answer["validationMessages"].([]any)
	require.Len(t, msgs, 1)
	require.Equal(t, "VALUE_OUT_OF_BOUNDS", msgs[0].(map[string]any)["validationCode"])
	require.Contains(t, fmt.Sprint(msgs[0]), "130kB")
}
