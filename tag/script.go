package tag

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// DefaultAttributionWindowDays is the attribution window of a Config that sets none: how
// long the Click ID cookie lives after the ad click.
const DefaultAttributionWindowDays = 30

// MaxAttributionWindowDays is the longest attribution window: browsers cap cookie lifetimes
// at 400 days, so a longer window would silently be cut.
const MaxAttributionWindowDays = 400

// MaxAutoTagRules bounds the AutoTag rules of one property; each one is checked against
// every link of every page.
const MaxAutoTagRules = 100

// configToken is where tag.js takes its configuration.
const configToken = "__CLICKBACK_CONFIG__"

//go:embed tag.js
var source string

// scriptHead and scriptTail are the property-independent parts of every rendered script,
// around the configuration: tag.js without comment lines and indentation.
var scriptHead, scriptTail = split(source)

func split(src string) (head, tail string) {
	var b strings.Builder
	for line := range strings.Lines(src) {
		line = strings.TrimLeft(line, " ")
		if strings.HasPrefix(line, "//") {
			continue
		}
		b.WriteString(line)
	}
	head, tail, ok := strings.Cut(b.String(), configToken)
	if !ok {
		panic("tag.js has no " + configToken)
	}
	return head, tail
}

// Config is what the tag of one Property needs to know. Render it with Script.
type Config struct {
	// IngestURL is where the tag posts its events: the absolute http(s) URL of
	// POST /t/{propertyKey}. It must be absolute because the tag runs on the tenant's
	// domain, not on clickback's.
	IngestURL string

	// AttributionWindowDays is how long a Click ID lives after the ad click that started
	// it; 0 means DefaultAttributionWindowDays. Later pages of the visit reuse the Click
	// ID without extending it (where localStorage, which keeps the expiry, works).
	AttributionWindowDays int

	// AutoTag lists the domains whose links get the Click ID under a parameter, in
	// addition to the --CLICK-ID-- placeholder, which works without any rule.
	AutoTag []AutoTagRule
}

// AutoTagRule gives every link to Domain, or to one of its subdomains, the Click ID under
// the query parameter Param (the network's link parameter, e.g. "sub1" or "aff_sub"). Links
// the tenant already tagged are left as they are: a link holding the --CLICK-ID--
// placeholder anywhere, and a link whose Param already has a value.
type AutoTagRule struct {
	// Domain is a host name, matched case-insensitively. A leading "*." or "." is
	// dropped ("*.network.example" and "network.example" both match every subdomain).
	// Internationalised names must be given in their ASCII (punycode) form, the one
	// browsers show the tag.
	Domain string

	// Param is the query parameter name: 1 to 64 of A-Z a-z 0-9 . _ ~ -.
	Param string
}

// ErrInvalidConfig is wrapped by every error of Script: the Config (the Property's
// settings) cannot make a working tag.
var ErrInvalidConfig = errors.New("invalid tag configuration")

var (
	domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	paramRE  = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)
)

// Script renders the tag of one Property. Its bytes are the constant tag.js (comment lines
// and indentation dropped) around a small JSON configuration, so rendering is a cheap
// concatenation; the server may still cache the result per Property and revision.
//
// Rules are normalised (domains lower-cased, "*." dropped) and ordered longest domain
// first, so that a rule for a subdomain wins over one for its parent.
func Script(cfg Config) ([]byte, error) {
	u, err := url.Parse(cfg.IngestURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: ingest URL %q is not an absolute http(s) URL", ErrInvalidConfig, cfg.IngestURL)
	}
	days := cfg.AttributionWindowDays
	if days == 0 {
		days = DefaultAttributionWindowDays
	}
	if days < 1 || days > MaxAttributionWindowDays {
		return nil, fmt.Errorf("%w: attribution window of %d days is not between 1 and %d", ErrInvalidConfig, days, MaxAttributionWindowDays)
	}
	norm, err := NormalizeAutoTagRules(cfg.AutoTag)
	if err != nil {
		return nil, err
	}
	rules := make([][2]string, len(norm))
	for i, r := range norm {
		rules[i] = [2]string{r.Domain, r.Param}
	}

	// encoding/json escapes <, >, &, U+2028 and U+2029, so the configuration is safe
	// inside any script.
	conf, err := json.Marshal(struct {
		U string      `json:"u"`
		W int         `json:"w"`
		R [][2]string `json:"r"`
	}{cfg.IngestURL, days, rules})
	if err != nil {
		return nil, fmt.Errorf("error marshaling tag configuration: %w", err)
	}
	out := make([]byte, 0, len(scriptHead)+len(conf)+len(scriptTail))
	out = append(out, scriptHead...)
	out = append(out, conf...)
	return append(out, scriptTail...), nil
}

// NormalizeAutoTagRules checks AutoTag rules as a tenant gave them and returns them the
// way the tag uses them: domains trimmed, lower-cased, without a leading "*." or "." or a
// trailing dot, ordered longest domain first (so that a rule for a subdomain wins over
// one for its parent), with repeated domains dropped (the first rule given wins). The
// error wraps ErrInvalidConfig and names the bad rule in words a tenant can act on.
//
// Storing the normalised rules, rather than checking them only when the tag is rendered,
// keeps one bad rule from ever breaking a Property's tag.
func NormalizeAutoTagRules(in []AutoTagRule) ([]AutoTagRule, error) {
	if len(in) > MaxAutoTagRules {
		return nil, fmt.Errorf("%w: %d AutoTag rules, at most %d", ErrInvalidConfig, len(in), MaxAutoTagRules)
	}
	out := make([]AutoTagRule, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, r := range in {
		domain := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(r.Domain)), "*."), "."), ".")
		if len(domain) > 253 || !domainRE.MatchString(domain) {
			return nil, fmt.Errorf("%w: AutoTag domain %q is not a host name (use the punycode form of international names)", ErrInvalidConfig, r.Domain)
		}
		if !paramRE.MatchString(r.Param) {
			return nil, fmt.Errorf("%w: AutoTag parameter %q for %s: use 1 to 64 of A-Z a-z 0-9 . _ ~ -", ErrInvalidConfig, r.Param, domain)
		}
		if seen[domain] {
			continue
		}
		seen[domain] = true
		out = append(out, AutoTagRule{Domain: domain, Param: r.Param})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Domain) > len(out[j].Domain) })
	return out, nil
}

// queueStub defines window.clickback before the tag loads: calls are queued in
// clickback.q and replayed, in order, once it has.
const queueStub = `window.clickback=window.clickback||function(){(clickback.q=clickback.q||[]).push(arguments)};`

// Snippet is the HTML a tenant pastes into every page, ideally in <head>: the queue stub,
// so that clickback(...) calls work before the tag has loaded, and an async script element
// for scriptURL (the absolute URL of GET /tag/{propertyKey}.js), which never blocks
// rendering. scriptURL is HTML-escaped.
func Snippet(scriptURL string) string {
	return "<script>" + queueStub + "</script>\n<script async src=\"" + html.EscapeString(scriptURL) + "\"></script>"
}
