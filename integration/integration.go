// Package integration manages integrations — the postback sources of an
// account — on top of ent: creating one from a catalog preset, its slug,
// its secret and the secret's rotation, its IP allowlist, and the postback
// URL a tenant pastes into the network.
//
// The functions take the ent client of the caller (a GraphQL mutation's
// transaction client), so tenancy is the ent privacy rules' business: they
// never filter by account themselves.
package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	entintegration "github.com/clickback/clickback/ent/integration"
	"github.com/clickback/clickback/postback"
)

// SecretGrace is how long the previous secret stays valid after a rotation:
// long enough for a tenant to update the URL in the network's dashboard
// (networks review postback changes by hand, sometimes for days).
const SecretGrace = 7 * 24 * time.Hour

// Limits on what an integration may hold.
const (
	// MaxAllowlist is the most IPs and CIDRs in an allowlist.
	MaxAllowlist = 100
	// MaxMacroLen is the longest macro or fixed value (the schema's limit).
	MaxMacroLen = 128
	// MaxNameLen is the longest integration name.
	MaxNameLen = 200
	// MaxSlugLen is the longest slug.
	MaxSlugLen = 64
)

// secretBytes is the secret's entropy: 192 bits, well past the 128 needed to
// make guessing hopeless even at millions of tries a second.
const secretBytes = 24

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Input is a create or an update of an integration. A nil field is "not
// given": a create uses the preset's value or the default, an update leaves
// the field as it is. An empty macro clears it; an empty (non-nil) map or
// list clears it.
type Input struct {
	Name     *string
	Network  *string
	Slug     *string
	LoginURL *string
	// Macros are the macros of the six main fields (click_id, amount,
	// transaction_id, currency, status, event).
	Macros map[postback.Field]*string
	// AttributeMacros are the macros of event attributes, by canonical
	// field name; nil when not given.
	AttributeMacros map[string]string
	// ParamMappings map the network's parameter names to canonical fields.
	ParamMappings map[string]string
	// StatusMappings map the network's status words to statuses.
	StatusMappings map[string]string
	// IPAllowlist holds IPs and CIDRs; nil when not given.
	IPAllowlist []string
	Enabled     *bool
}

// mainFields are the fields with a column of their own.
var mainFields = []postback.Field{
	postback.FieldClickID, postback.FieldAmount, postback.FieldTransactionID,
	postback.FieldCurrency, postback.FieldStatus, postback.FieldEvent,
}

func inputErr(format string, args ...any) error {
	return &auth.InputError{Msg: fmt.Sprintf(format, args...)}
}

// Create creates an integration in the viewer's account. A preset network
// fills every macro the input does not give; the slug is generated from the
// name (with a numeric suffix when it is taken) unless given, and a given
// slug that is taken is an input error.
func Create(ctx context.Context, client *ent.Client, in Input) (*ent.Integration, error) {
	if in.Name == nil {
		return nil, inputErr("name is required")
	}
	name, err := cleanName(*in.Name)
	if err != nil {
		return nil, err
	}
	network := postback.PresetCustom
	if in.Network != nil {
		network = *in.Network
	}
	preset, ok := postback.LookupPreset(network)
	if !ok {
		return nil, inputErr("network %q is not in the catalog", network)
	}
	fillFromPreset(&in, preset)
	if err := validate(in); err != nil {
		return nil, err
	}
	var slug string
	if in.Slug != nil && *in.Slug != "" {
		slug = strings.ToLower(strings.TrimSpace(*in.Slug))
		if err := checkSlug(ctx, client, slug, ""); err != nil {
			return nil, err
		}
	} else if slug, err = freeSlug(ctx, client, Slugify(name)); err != nil {
		return nil, err
	}
	c := client.Integration.Create().
		SetName(name).
		SetSlug(slug).
		SetNetwork(entintegration.Network(network)).
		SetSecret(NewSecret())
	if in.LoginURL != nil {
		c.SetLoginURL(strings.TrimSpace(*in.LoginURL))
	}
	for f, v := range in.Macros {
		if v != nil {
			setMacro(c.Mutation(), f, strings.TrimSpace(*v))
		}
	}
	if in.AttributeMacros != nil {
		c.SetAttributeMacros(in.AttributeMacros)
	}
	if in.ParamMappings != nil {
		c.SetParamMappings(in.ParamMappings)
	}
	if in.StatusMappings != nil {
		c.SetStatusMappings(in.StatusMappings)
	}
	if in.IPAllowlist != nil {
		c.SetIPAllowlist(in.IPAllowlist)
	}
	if in.Enabled != nil {
		c.SetEnabled(*in.Enabled)
	}
	return c.Save(ctx)
}

// Update changes the given fields of an integration. Changing the network
// to a preset fills the macros that are empty and not given.
func Update(ctx context.Context, client *ent.Client, id string, in Input) (*ent.Integration, error) {
	cur, err := client.Integration.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	u := client.Integration.UpdateOne(cur)
	if in.Name != nil {
		name, err := cleanName(*in.Name)
		if err != nil {
			return nil, err
		}
		u.SetName(name)
	}
	if in.Network != nil {
		preset, ok := postback.LookupPreset(*in.Network)
		if !ok {
			return nil, inputErr("network %q is not in the catalog", *in.Network)
		}
		u.SetNetwork(entintegration.Network(preset.ID))
		current := Macros(cur)
		for f, m := range preset.Macros {
			if current[f] != "" || !slices.Contains(mainFields, f) {
				continue
			}
			if in.Macros == nil {
				in.Macros = map[postback.Field]*string{}
			}
			if in.Macros[f] == nil {
				in.Macros[f] = &m
			}
		}
	}
	if err := validate(in); err != nil {
		return nil, err
	}
	if in.Slug != nil {
		slug := strings.ToLower(strings.TrimSpace(*in.Slug))
		if slug != cur.Slug {
			if err := checkSlug(ctx, client, slug, cur.ID); err != nil {
				return nil, err
			}
			u.SetSlug(slug)
		}
	}
	if in.LoginURL != nil {
		if v := strings.TrimSpace(*in.LoginURL); v == "" {
			u.ClearLoginURL()
		} else {
			u.SetLoginURL(v)
		}
	}
	for f, v := range in.Macros {
		if v == nil {
			continue
		}
		if m := strings.TrimSpace(*v); m == "" {
			clearMacro(u.Mutation(), f)
		} else {
			setMacro(u.Mutation(), f, m)
		}
	}
	if in.AttributeMacros != nil {
		u.SetAttributeMacros(in.AttributeMacros)
	}
	if in.ParamMappings != nil {
		u.SetParamMappings(in.ParamMappings)
	}
	if in.StatusMappings != nil {
		u.SetStatusMappings(in.StatusMappings)
	}
	if in.IPAllowlist != nil {
		u.SetIPAllowlist(in.IPAllowlist)
	}
	if in.Enabled != nil {
		u.SetEnabled(*in.Enabled)
	}
	return u.Save(ctx)
}

// Delete deletes an integration with its conversions and their deliveries:
// the Events Log entries of a deleted source have nothing left to point to.
// Match jobs still queued for them find nothing and end.
func Delete(ctx context.Context, client *ent.Client, id string) error {
	it, err := client.Integration.Get(ctx, id)
	if err != nil {
		return err
	}
	if _, err := client.Delivery.Delete().
		Where(delivery.HasConversionWith(conversion.IntegrationID(it.ID))).
		Exec(ctx); err != nil {
		return fmt.Errorf("delete deliveries: %w", err)
	}
	if _, err := client.Conversion.Delete().Where(conversion.IntegrationID(it.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("delete conversions: %w", err)
	}
	return client.Integration.DeleteOne(it).Exec(ctx)
}

// RotateSecret gives the integration a new secret and keeps the current
// one valid until now+SecretGrace. Rotating twice within the grace period
// invalidates the oldest secret at once: only the last two are ever valid.
func RotateSecret(ctx context.Context, client *ent.Client, id string, now time.Time) (*ent.Integration, error) {
	it, err := client.Integration.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return client.Integration.UpdateOne(it).
		SetSecret(NewSecret()).
		SetPreviousSecret(it.Secret).
		SetPreviousSecretExpiresAt(now.Add(SecretGrace)).
		Save(ctx)
}

// NewSecret returns a fresh secret: 192 random bits, URL-safe base64.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b)
}

// SecretOK reports whether given is the current secret, or the previous one
// before its expiry. Both comparisons always run, in constant time, so the
// answer's timing tells nothing about either secret.
func SecretOK(current, previous string, previousExpires *time.Time, given string, now time.Time) bool {
	okCurrent := secretEqual(current, given)
	okPrevious := secretEqual(previous, given)
	prevValid := previous != "" && previousExpires != nil && now.Before(*previousExpires)
	return given != "" && (okCurrent || okPrevious && prevValid)
}

// constantTimeCompare is subtle.ConstantTimeCompare; a variable so that a
// test can check what it is given.
var constantTimeCompare = subtle.ConstantTimeCompare

// secretEqual compares the SHA-256 digests of two secrets in constant time.
// ConstantTimeCompare returns at once on inputs of different lengths; the
// digests always have the same length, so neither the secret's content nor
// its length shows in the time a wrong guess takes.
func secretEqual(want, given string) bool {
	w := sha256.Sum256([]byte(want))
	g := sha256.Sum256([]byte(given))
	return constantTimeCompare(w[:], g[:]) == 1
}

// Macros returns every macro of the integration by canonical field, for
// BuildURL: the six main fields' columns and the attribute macros.
func Macros(it *ent.Integration) postback.Macros {
	m := postback.Macros{}
	for _, f := range mainFields {
		if v := macroOf(it, f); v != "" {
			m[f] = v
		}
	}
	for name, v := range it.AttributeMacros {
		if f, ok := postback.ParseField(name); ok && v != "" {
			m[f] = v
		}
	}
	return m
}

// PostbackURL is the URL to paste into the network (postback.BuildURL).
func PostbackURL(publicURL, accountKey string, it *ent.Integration) (string, error) {
	return postback.BuildURL(publicURL, accountKey, it.Slug, it.Secret, Macros(it))
}

// ParseConfig is the postback.Config of the integration, with the account's
// currency as the default.
func ParseConfig(it *ent.Integration, accountCurrency string) postback.Config {
	return postback.Config{
		Network:         string(it.Network),
		DefaultCurrency: accountCurrency,
		Mappings:        it.ParamMappings,
		StatusWords:     it.StatusMappings,
	}
}

// Slugify turns a name into a slug: lower case letters and digits, other
// runs of characters as one '-', at most 48 bytes (room for a suffix);
// "integration" when nothing is left. Letters outside ASCII are dropped,
// since a slug must be typed and pasted without surprises.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 48 {
		s = strings.TrimRight(s[:48], "-")
	}
	if s == "" {
		return "integration"
	}
	return s
}

// Allowlist is a parsed IP allowlist. The empty Allowlist allows every
// address.
type Allowlist []netip.Prefix

// ParseAllowlist parses IPs ("203.0.113.7", "2001:db8::1") and CIDRs
// ("203.0.113.0/24"). An IPv4-mapped IPv6 address is taken as its IPv4.
func ParseAllowlist(entries []string) (Allowlist, error) {
	if len(entries) > MaxAllowlist {
		return nil, inputErr("the IP allowlist has %d entries, the limit is %d", len(entries), MaxAllowlist)
	}
	var a Allowlist
	for _, e := range entries {
		e = strings.TrimSpace(e)
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
			p = p.Masked()
		} else {
			var addr netip.Addr
			addr, err = netip.ParseAddr(e)
			addr = addr.Unmap()
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		if err != nil || len(e) > 64 {
			return nil, inputErr("%q in the IP allowlist is not an IP address or CIDR", short(e))
		}
		a = append(a, p)
	}
	return a, nil
}

// Allows reports whether ip (as in http.Request.RemoteAddr, without the
// port) may send postbacks. An empty list allows any; an unparsable ip is
// refused by a non-empty one.
func (a Allowlist) Allows(ip string) bool {
	if len(a) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range a {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func cleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", inputErr("name is required")
	case len(name) > MaxNameLen:
		return "", inputErr("name is longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(name):
		return "", inputErr("name is not valid UTF-8")
	}
	return name, nil
}

// fillFromPreset puts the preset's macros into the input where it gives none.
func fillFromPreset(in *Input, p postback.Preset) {
	for f, m := range p.Macros {
		if slices.Contains(mainFields, f) {
			if in.Macros == nil {
				in.Macros = map[postback.Field]*string{}
			}
			if in.Macros[f] == nil {
				in.Macros[f] = &m
			}
			continue
		}
		if in.AttributeMacros == nil {
			in.AttributeMacros = map[string]string{}
		}
		if _, ok := in.AttributeMacros[string(f)]; !ok {
			in.AttributeMacros[string(f)] = m
		}
	}
}

// validate checks everything an input gives that does not need the database.
func validate(in Input) error {
	var problems []string
	if in.LoginURL != nil && strings.TrimSpace(*in.LoginURL) != "" {
		u, err := url.Parse(strings.TrimSpace(*in.LoginURL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*in.LoginURL) > 2048 {
			problems = append(problems, "loginURL must be an http or https URL")
		}
	}
	for _, f := range mainFields {
		if v := in.Macros[f]; v != nil {
			if err := checkMacro(string(f), *v); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(in.AttributeMacros) > postback.MaxMappings {
		problems = append(problems, fmt.Sprintf("%d attribute macros, the limit is %d", len(in.AttributeMacros), postback.MaxMappings))
	}
	for _, name := range sortedKeys(in.AttributeMacros) {
		f, ok := postback.ParseField(name)
		if !ok || slices.Contains(mainFields, f) || string(f) != name {
			problems = append(problems, fmt.Sprintf("attribute macro %q: not an event attribute (country, email, first_name, …)", short(name)))
			continue
		}
		if err := checkMacro(name, in.AttributeMacros[name]); err != nil {
			problems = append(problems, err.Error())
		}
	}
	cfg := postback.Config{Mappings: in.ParamMappings, StatusWords: in.StatusMappings}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := ParseAllowlist(in.IPAllowlist); err != nil {
		problems = append(problems, err.Error())
	}
	if in.Slug != nil && *in.Slug != "" && !slugPattern.MatchString(strings.ToLower(strings.TrimSpace(*in.Slug))) {
		problems = append(problems, "slug may hold only lower-case letters, digits and '-', up to 64, starting with a letter or digit")
	}
	if len(problems) > 0 {
		return &auth.InputError{Msg: strings.Join(problems, "; ")}
	}
	return nil
}

func checkMacro(field, v string) error {
	v = strings.TrimSpace(v)
	switch {
	case len(v) > MaxMacroLen:
		return fmt.Errorf("the %s macro is longer than %d bytes", field, MaxMacroLen)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("the %s macro holds a control character or invalid UTF-8", field)
	}
	return nil
}

// checkSlug fails when slug is malformed or used by another integration of
// the account than self.
func checkSlug(ctx context.Context, client *ent.Client, slug, self string) error {
	if !slugPattern.MatchString(slug) {
		return inputErr("slug may hold only lower-case letters, digits and '-', up to 64, starting with a letter or digit")
	}
	q := client.Integration.Query().Where(entintegration.Slug(slug))
	if self != "" {
		q.Where(entintegration.IDNEQ(self))
	}
	taken, err := q.Exist(ctx)
	if err != nil {
		return fmt.Errorf("check slug: %w", err)
	}
	if taken {
		return inputErr("slug %q is already used by another integration", slug)
	}
	return nil
}

// freeSlug returns base, or base-2, base-3, … whichever is free first.
func freeSlug(ctx context.Context, client *ent.Client, base string) (string, error) {
	used, err := client.Integration.Query().
		Where(entintegration.SlugHasPrefix(base)).
		Select(entintegration.FieldSlug).
		Strings(ctx)
	if err != nil {
		return "", fmt.Errorf("find free slug: %w", err)
	}
	if !slices.Contains(used, base) {
		return base, nil
	}
	for n := 2; ; n++ {
		s := fmt.Sprintf("%s-%d", base, n)
		if !slices.Contains(used, s) {
			return s, nil
		}
	}
}

// macroSetter is what the create and update mutations share.
type macroSetter interface {
	SetClickIDMacro(string)
	SetPayoutMacro(string)
	SetTransactionIDMacro(string)
	SetCurrencyMacro(string)
	SetStatusMacro(string)
	SetEventMacro(string)
}

func setMacro(m macroSetter, f postback.Field, v string) {
	switch f {
	case postback.FieldClickID:
		m.SetClickIDMacro(v)
	case postback.FieldAmount:
		m.SetPayoutMacro(v)
	case postback.FieldTransactionID:
		m.SetTransactionIDMacro(v)
	case postback.FieldCurrency:
		m.SetCurrencyMacro(v)
	case postback.FieldStatus:
		m.SetStatusMacro(v)
	case postback.FieldEvent:
		m.SetEventMacro(v)
	}
}

func clearMacro(m *ent.IntegrationMutation, f postback.Field) {
	switch f {
	case postback.FieldClickID:
		m.ClearClickIDMacro()
	case postback.FieldAmount:
		m.ClearPayoutMacro()
	case postback.FieldTransactionID:
		m.ClearTransactionIDMacro()
	case postback.FieldCurrency:
		m.ClearCurrencyMacro()
	case postback.FieldStatus:
		m.ClearStatusMacro()
	case postback.FieldEvent:
		m.ClearEventMacro()
	}
}

func macroOf(it *ent.Integration, f postback.Field) string {
	switch f {
	case postback.FieldClickID:
		return it.ClickIDMacro
	case postback.FieldAmount:
		return it.PayoutMacro
	case postback.FieldTransactionID:
		return it.TransactionIDMacro
	case postback.FieldCurrency:
		return it.CurrencyMacro
	case postback.FieldStatus:
		return it.StatusMacro
	case postback.FieldEvent:
		return it.EventMacro
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func short(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
