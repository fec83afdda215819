package capitest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// GA4 limits and reserved names (specs/capi.md §2.3-2.6).
var (
	ga4ReservedEvents = map[string]bool{
		"app_install": true, "user_engagement": true, "ad_query": true, "adunit_exposure": true,
		"app_clear_data": true, "app_update": true, "session_start": true, "ad_exposure": true,
		"os_update": true, "notification_receive": true, "ad_click": true,
		"notification_foreground": true, "notification_dismiss": true, "first_open": true,
		"app_remove": true, "first_visit": true, "ad_activeview": true, "error": true,
		"notification_open": true, "in_app_purchase": true,
	}
	ga4ReservedEventPrefixes = []string{"_", "firebase_", "ga_", "google_", "gtag."}
	ga4ReservedParamPrefixes = []string{"google_", "ga_", "firebase_"}
	ga4ReservedUserProps     = map[string]bool{
		"first_open_time": true, "first_visit_time": true, "last_deep_link_referrer": true,
		"user_id": true, "first_open_after_install": true,
	}
	ga4TopFields = map[string]bool{
		"client_id": true, "app_instance_id": true, "user_id": true, "timestamp_micros": true,
		"user_properties": true, "user_data": true, "consent": true, "non_personalized_ads": true,
		"user_location": true, "ip_override": true, "device": true, "validation_behavior": true,
		"events": true,
	}
	ga4NameRE     = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	ga4ClientIDRE = regexp.MustCompile(`^\d+\.\d+$`)
)

// GA4ValidationMessage is one entry of the debug endpoint's answer.
type GA4ValidationMessage struct {
	FieldPath      string `json:"fieldPath,omitempty"`
	Description    string `json:"description"`
	ValidationCode string `json:"validationCode"`
}

// GA4 is a fake GA4 Measurement Protocol: POST {URL}/mp/collect and
// {URL}/debug/mp/collect, both with measurement_id and api_secret in the
// query.
//
// Like production GA4 (§2.1), /mp/collect answers 204 whatever it gets: a
// payload that breaks a rule, or a wrong API secret, is dropped silently and
// shows only in Rejections. /debug/mp/collect answers 200 with
// validationMessages and records nothing, and, like Google's validation
// server, does not check the API secret. Events are recorded with the
// event_id parameter (or transaction_id) as their id.
type GA4 struct {
	*Fake

	mu        sync.Mutex
	apiSecret string
}

// NewGA4 starts a fake GA4. Any non-empty API secret is accepted until
// SetAPISecret narrows it.
func NewGA4(tb testing.TB) *GA4 {
	g := &GA4{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mp/collect", g.serveCollect)
	mux.HandleFunc("POST /debug/mp/collect", g.serveDebug)
	g.Fake = newFake(tb, mux)
	return g
}

// SetAPISecret makes secret the only one production collection accepts.
func (g *GA4) SetAPISecret(secret string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apiSecret = secret
}

func (g *GA4) serveCollect(w http.ResponseWriter, r *http.Request) {
	defer w.WriteHeader(http.StatusNoContent)
	q := r.URL.Query()
	g.mu.Lock()
	want := g.apiSecret
	g.mu.Unlock()
	switch secret := q.Get("api_secret"); {
	case q.Get("measurement_id") == "":
		g.drop("measurement_id is missing")
		return
	case secret == "" || (want != "" && secret != want):
		g.drop("api_secret is missing or wrong")
		return
	}
	b, err := readAll(r)
	if err != nil {
		g.drop(err.Error())
		return
	}
	events, msgs := validateGA4(b, g.clock())
	if len(msgs) > 0 {
		g.drop(msgs[0].Description)
		return
	}
	g.record(events...)
}

func (g *GA4) serveDebug(w http.ResponseWriter, r *http.Request) {
	msgs := []GA4ValidationMessage{}
	if r.URL.Query().Get("measurement_id") == "" {
		msgs = append(msgs, GA4ValidationMessage{Description: "Unable to parse Measurement Protocol request: measurement_id is required.", ValidationCode: "VALUE_REQUIRED"})
	}
	b, err := readAll(r)
	if err == nil {
		_, more := validateGA4(b, g.clock())
		msgs = append(msgs, more...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"validationMessages": msgs})
}

// validateGA4 applies §2.3-2.7 to a request body and returns its events, or
// the validation messages of everything wrong with it.
func validateGA4(b []byte, now time.Time) ([]Event, []GA4ValidationMessage) {
	var msgs []GA4ValidationMessage
	add := func(path, code, format string, args ...any) {
		msgs = append(msgs, GA4ValidationMessage{FieldPath: path, Description: fmt.Sprintf(format, args...), ValidationCode: code})
	}
	if len(b) >= 130_000 {
		add("", "VALUE_OUT_OF_BOUNDS", "The request body of %d bytes exceeds the 130kB limit.", len(b))
		return nil, msgs
	}
	body, err := decodeObject(b)
	if err != nil {
		add("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload. %v", err)
		return nil, msgs
	}
	for _, k := range keysOf(body) {
		if !ga4TopFields[k] {
			add("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload. () %s: Cannot find field.", k)
		}
	}
	clientID, _ := body["client_id"].(string)
	if clientID == "" && body["app_instance_id"] == nil {
		add("client_id", "VALUE_REQUIRED", "Measurement requires a client_id.")
	}
	if body["validation_behavior"] == "ENFORCE_RECOMMENDATIONS" && clientID != "" && !ga4ClientIDRE.MatchString(clientID) {
		add("client_id", "VALUE_INVALID", "client_id [%d] has invalid format. It should be in <number>.<number> format.", len(clientID))
	}
	if uid, ok := body["user_id"]; ok {
		if s, isString := uid.(string); !isString || len(s) > 256 {
			add("user_id", "VALUE_OUT_OF_BOUNDS", "user_id must be a string of at most 256 characters.")
		}
	}
	var top time.Time
	if v, ok := body["timestamp_micros"]; ok {
		top = ga4Time(v, now, "timestamp_micros", add)
	}
	validateGA4UserProperties(body["user_properties"], add)
	validateGA4UserData(body["user_data"], add)

	list, _ := body["events"].([]any)
	switch {
	case len(list) == 0:
		add("events", "VALUE_REQUIRED", "Measurement requires at least one event.")
	case len(list) > 25:
		add("events", "EXCEEDED_MAX_ENTITIES", "A request can hold at most 25 events; this one holds %d.", len(list))
	}
	var events []Event
	for i, raw := range list {
		ev, ok := raw.(map[string]any)
		if !ok {
			add(fmt.Sprintf("events[%d]", i), "VALUE_INVALID", "Event at index: [%d] is not an object.", i)
			continue
		}
		for _, k := range keysOf(ev) {
			if k != "name" && k != "params" && k != "timestamp_micros" {
				add("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload. (events[%d]) %s: Cannot find field.", i, k)
			}
		}
		name, _ := ev["name"].(string)
		validateGA4EventName(i, name, add)
		at := top
		if v, ok := ev["timestamp_micros"]; ok {
			at = ga4Time(v, now, fmt.Sprintf("events[%d].timestamp_micros", i), add)
		}
		if at.IsZero() {
			at = now
		}
		params, _ := ev["params"].(map[string]any)
		if ev["params"] != nil && params == nil {
			add(fmt.Sprintf("events[%d].params", i), "VALUE_INVALID", "params must be an object.")
		}
		validateGA4Params(i, name, params, add)
		id, _ := params["event_id"].(string)
		if id == "" {
			id, _ = params["transaction_id"].(string)
		}
		events = append(events, Event{ID: id, Name: name, Time: at, Fields: ev})
	}
	return events, msgs
}

// ga4Time reads a timestamp_micros and checks the window: at most 72 hours
// back and 15 minutes ahead (§2.4).
func ga4Time(v any, now time.Time, path string, add func(path, code, format string, args ...any)) time.Time {
	us, ok := integer(v)
	if !ok {
		add(path, "VALUE_INVALID", "timestamp_micros must be an integer number of microseconds.")
		return time.Time{}
	}
	at := time.UnixMicro(us)
	switch {
	case now.Sub(at) > 72*time.Hour:
		add(path, "VALUE_OUT_OF_BOUNDS", "timestamp_micros is more than 72 hours in the past.")
	case at.Sub(now) > 15*time.Minute:
		add(path, "VALUE_OUT_OF_BOUNDS", "timestamp_micros is more than 15 minutes in the future.")
	}
	return at
}

func validateGA4EventName(i int, name string, add func(path, code, format string, args ...any)) {
	path := "events"
	switch {
	case name == "":
		add(fmt.Sprintf("events[%d].name", i), "VALUE_REQUIRED", "Event at index: [%d] has no name.", i)
		return
	case len(name) > 40:
		add(path, "NAME_INVALID", "Event at index: [%d] has invalid name [%s]. Names must be at most 40 characters.", i, name)
		return
	}
	for _, p := range ga4ReservedEventPrefixes {
		if strings.HasPrefix(name, p) {
			if p == "_" {
				add(path, "NAME_INVALID", "Event at index: [%d] has invalid name [%s]. Names must start with an alphabetic character.", i, name)
			} else {
				add(path, "NAME_RESERVED", "Event at index: [%d] has name [%s] which is reserved.", i, name)
			}
			return
		}
	}
	switch {
	case !ga4NameRE.MatchString(name):
		add(path, "NAME_INVALID", "Event at index: [%d] has invalid name [%s]. Only alphanumeric characters and underscores are allowed.", i, name)
	case !isLetter(name[0]):
		add(path, "NAME_INVALID", "Event at index: [%d] has invalid name [%s]. Names must start with an alphabetic character.", i, name)
	case ga4ReservedEvents[name]:
		add(path, "NAME_RESERVED", "Event at index: [%d] has name [%s] which is reserved.", i, name)
	}
}

func validateGA4Params(i int, event string, params map[string]any, add func(path, code, format string, args ...any)) {
	base := fmt.Sprintf("events[%d].params", i)
	if len(params) > 25 {
		add(base, "EXCEEDED_MAX_ENTITIES", "Event at index: [%d] has %d params; at most 25 are allowed.", i, len(params))
	}
	for _, k := range keysOf(params) {
		v, path := params[k], base+"."+k
		switch {
		case len(k) > 40 || !ga4NameRE.MatchString(k) || !isLetter(k[0]):
			add(path, "NAME_INVALID", "Param [%s] of event at index: [%d] has an invalid name.", k, i)
			continue
		case hasAnyPrefix(k, ga4ReservedParamPrefixes):
			add(path, "NAME_RESERVED", "Param [%s] of event at index: [%d] has a reserved name.", k, i)
			continue
		}
		if k == "items" {
			items, ok := v.([]any)
			if !ok {
				add(path, "VALUE_INVALID", "items must be an array.")
				continue
			}
			for j, it := range items {
				item, _ := it.(map[string]any)
				if item["item_id"] == nil && item["item_name"] == nil {
					add(fmt.Sprintf("%s[%d]", path, j), "VALUE_REQUIRED", "Item at index: [%d] requires item_id or item_name.", j)
				}
			}
			continue
		}
		switch t := v.(type) {
		case string:
			if len(t) > 100 {
				add(path, "VALUE_OUT_OF_BOUNDS", "Value of param [%s] is longer than 100 characters.", k)
			}
		default:
			if !number(v) {
				add(path, "VALUE_INVALID", "Value is not a string or number.")
			}
		}
	}
	if _, hasValue := params["value"]; hasValue {
		if c, _ := params["currency"].(string); !currencyRE.MatchString(c) {
			add(base+".currency", "VALUE_REQUIRED", "Event at index: [%d] has a value but no ISO 4217 currency.", i)
		}
	}
	if event == "purchase" {
		if tx, _ := params["transaction_id"].(string); tx == "" {
			add(base+".transaction_id", "VALUE_REQUIRED", "Event at index: [%d] is a purchase without transaction_id.", i)
		}
	}
}

func validateGA4UserProperties(v any, add func(path, code, format string, args ...any)) {
	if v == nil {
		return
	}
	props, ok := v.(map[string]any)
	if !ok {
		add("user_properties", "VALUE_INVALID", "user_properties must be an object.")
		return
	}
	if len(props) > 25 {
		add("user_properties", "EXCEEDED_MAX_ENTITIES", "At most 25 user properties are allowed.")
	}
	for _, k := range keysOf(props) {
		p, path := props[k], "user_properties."+k
		switch {
		case len(k) > 24 || !ga4NameRE.MatchString(k) || !isLetter(k[0]):
			add(path, "NAME_INVALID", "User property [%s] has an invalid name.", k)
		case ga4ReservedUserProps[k] || hasAnyPrefix(k, ga4ReservedParamPrefixes):
			add(path, "NAME_RESERVED", "User property [%s] has a reserved name.", k)
		}
		obj, _ := p.(map[string]any)
		if s, isString := obj["value"].(string); isString && len(s) > 36 {
			add(path, "VALUE_OUT_OF_BOUNDS", "Value of user property [%s] is longer than 36 characters.", k)
		}
	}
}

// validateGA4UserData checks user-provided data (§2.7): hashed fields are
// SHA-256 hex, address fields city/region/postal_code/country are plain.
func validateGA4UserData(v any, add func(path, code, format string, args ...any)) {
	if v == nil {
		return
	}
	ud, ok := v.(map[string]any)
	if !ok {
		add("user_data", "VALUE_INVALID", "user_data must be an object.")
		return
	}
	hashed := func(path string, v any) {
		values, ok := stringsOf(v)
		if !ok || len(values) == 0 {
			add(path, "VALUE_INVALID", "%s must be a string or a list of strings.", path)
			return
		}
		for _, s := range values {
			if !validHash(s) {
				add(path, "VALUE_INVALID", "%s must be a SHA-256 hex digest of a non-empty value.", path)
			}
		}
	}
	for _, k := range keysOf(ud) {
		val, path := ud[k], "user_data."+k
		switch k {
		case "sha256_email_address", "sha256_phone_number":
			hashed(path, val)
		case "address":
			list, isList := val.([]any)
			if !isList {
				list = []any{val}
			}
			for j, a := range list {
				addr, isObj := a.(map[string]any)
				if !isObj {
					add(path, "VALUE_INVALID", "address entries must be objects.")
					continue
				}
				for _, ak := range keysOf(addr) {
					av := addr[ak]
					apath := fmt.Sprintf("%s[%d].%s", path, j, ak)
					switch ak {
					case "sha256_first_name", "sha256_last_name", "sha256_street":
						hashed(apath, av)
					case "city", "region", "postal_code", "country":
						if s, _ := av.(string); s == "" || looksHashed(s) {
							add(apath, "VALUE_INVALID", "%s must be a plain, non-empty string (it is not hashed).", apath)
						}
					default:
						add("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload. (%s) %s: Cannot find field.", path, ak)
					}
				}
			}
		default:
			add("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload. (user_data) %s: Cannot find field.", k)
		}
	}
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
