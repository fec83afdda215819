package destination

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	entdest "github.com/clickback/clickback/ent/destination"
)

// GoogleAdsUpload is the platform event of a Google Ads mapping rule that
// uploads the conversion to the destination's own conversion action; a
// numeric platform event names another conversion action instead.
const GoogleAdsUpload = "UPLOAD"

// Rule maps one conversion event name onto the platform's event name. An
// empty PlatformEvent skips the event.
type Rule struct {
	Event         string
	PlatformEvent string
	// Default marks the built-in rules, which a destination's own rule for
	// the same event replaces.
	Default bool
}

// defaults are the built-in rules: the two event names every conversion
// has unless the network names another (PRODUCT.md: Lead, Purchase), sent
// as each platform's standard event. Google Ads has no event names: the
// conversion action decides, so both are uploaded.
var defaults = map[entdest.Kind]map[string]string{
	KindMeta:      {"Purchase": "Purchase", "Lead": "Lead"},
	KindGA4:       {"Purchase": "purchase", "Lead": "generate_lead"},
	KindGoogleAds: {"Purchase": GoogleAdsUpload, "Lead": GoogleAdsUpload},
	KindTikTok:    {"Purchase": "Purchase", "Lead": "Lead"},
}

// Limits of a destination's own rules.
const (
	maxRules         = 100
	maxEventNameLen  = 128
	maxPlatformEvent = 100
)

var (
	ga4EventRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)
	// ga4Reserved are event names and prefixes GA4 refuses (specs/capi.md
	// §2.4): its validation server flags them, production drops them.
	ga4Reserved = []string{"app_install", "user_engagement", "ad_query", "adunit_exposure",
		"app_clear_data", "app_update", "session_start", "ad_exposure", "os_update",
		"notification_receive", "ad_click", "notification_foreground", "notification_dismiss",
		"first_open", "app_remove", "first_visit", "ad_activeview", "error", "notification_open",
		"in_app_purchase"}
	ga4ReservedPrefixes = []string{"_", "firebase_", "ga_", "google_", "gtag."}
)

// normalizeRules checks a destination's own rules for kind k and returns
// them as the stored map. Event names are compared without regard to case,
// so two rules for "sale" and "Sale" are one too many.
func normalizeRules(k entdest.Kind, rules []Rule) (map[string]string, error) {
	if len(rules) > maxRules {
		return nil, inputErr("at most %d event mapping rules, got %d", maxRules, len(rules))
	}
	out := make(map[string]string, len(rules))
	seen := map[string]string{}
	var problems []string
	for _, r := range rules {
		ev := strings.TrimSpace(r.Event)
		pe := strings.TrimSpace(r.PlatformEvent)
		switch {
		case ev == "" || len(ev) > maxEventNameLen || strings.ContainsFunc(ev, unicode.IsControl):
			problems = append(problems, fmt.Sprintf("event %q: an event name has 1 to %d printable characters", short(ev), maxEventNameLen))
			continue
		case seen[strings.ToLower(ev)] != "":
			problems = append(problems, fmt.Sprintf("event %q is mapped twice (names are compared without case)", short(ev)))
			continue
		}
		seen[strings.ToLower(ev)] = ev
		if pe != "" {
			if err := checkPlatformEvent(k, pe); err != nil {
				problems = append(problems, fmt.Sprintf("event %q: %v", short(ev), err))
				continue
			}
		}
		out[ev] = pe
	}
	if len(problems) > 0 {
		return nil, inputErr("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// checkPlatformEvent applies each platform's rules for event names.
func checkPlatformEvent(k entdest.Kind, pe string) error {
	switch k {
	case KindGA4:
		if !ga4EventRE.MatchString(pe) {
			return fmt.Errorf("GA4 event names start with a letter and have at most 40 letters, digits and underscores, not %q", short(pe))
		}
		lower := strings.ToLower(pe)
		if slices.Contains(ga4Reserved, lower) || slices.ContainsFunc(ga4ReservedPrefixes, func(p string) bool { return strings.HasPrefix(lower, p) }) {
			return fmt.Errorf("%q is reserved by GA4", pe)
		}
	case KindGoogleAds:
		if !strings.EqualFold(pe, GoogleAdsUpload) && !digitsRE.MatchString(pe) {
			return fmt.Errorf("for Google Ads, map an event to %s (the destination's conversion action) or to the numeric id of another conversion action, not %q", GoogleAdsUpload, short(pe))
		}
	default:
		if len(pe) > maxPlatformEvent || strings.ContainsFunc(pe, unicode.IsControl) {
			return fmt.Errorf("a platform event name has at most %d printable characters", maxPlatformEvent)
		}
	}
	return nil
}

// Rules returns a destination's effective mapping: the defaults of its kind
// with its own rules over them, sorted by event name.
func Rules(k entdest.Kind, own map[string]string) []Rule {
	var out []Rule
	for ev, pe := range defaults[k] {
		if _, overridden := lookup(own, ev); !overridden {
			out = append(out, Rule{Event: ev, PlatformEvent: pe, Default: true})
		}
	}
	for ev, pe := range own {
		out = append(out, Rule{Event: ev, PlatformEvent: pe})
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(strings.ToLower(a.Event), strings.ToLower(b.Event)) })
	return out
}

// Map returns the platform event a conversion named eventName is sent as
// by a destination of kind k with its own rules; ok is false when the event
// is skipped, and why then says so in words a person can act on.
func Map(k entdest.Kind, own map[string]string, eventName string) (platformEvent string, ok bool, why string) {
	if pe, found := lookup(own, eventName); found {
		if pe == "" {
			return "", false, fmt.Sprintf("the destination's event mapping skips %q", short(eventName))
		}
		return pe, true, ""
	}
	if pe, found := lookup(defaults[k], eventName); found {
		return pe, true, ""
	}
	return "", false, fmt.Sprintf("no event mapping for %q: add one to the destination (e.g. %q → the platform's event) to forward it", short(eventName), short(eventName))
}

// lookup finds eventName in m without regard to case; an exact match wins.
func lookup(m map[string]string, eventName string) (string, bool) {
	if v, ok := m[eventName]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, eventName) {
			return v, true
		}
	}
	return "", false
}

func short(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
