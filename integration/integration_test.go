package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/postback"
)

func TestSlugify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"My Network!", "my-network"},
		{"  TUNE / HasOffers ", "tune-hasoffers"},
		{"Café Ünïcode", "caf-n-code"},
		{"---", "integration"},
		{"", "integration"},
		{"日本", "integration"},
		{strings.Repeat("ab-", 40), strings.TrimRight(strings.Repeat("ab-", 16), "-")},
	} {
		got := Slugify(tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Regexp(t, slugPattern, got)
		require.LessOrEqual(t, len(got), 48)
	}
}

func TestSecretOK(t *testing.T) {
	t.Parallel()
	now := time.Now()
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	for _, tc := range []struct {
		name, current, previous string
		expires                 *time.Time
		given                   string
		want                    bool
	}{
		{"current", "cur", "", nil, "cur", true},
		{"wrong", "cur", "", nil, "cux", false},
		{"empty given", "cur", "", nil, "", false},
		{"empty everything", "", "", nil, "", false},
		{"previous in grace", "cur", "old", &later, "old", true},
		{"previous expired", "cur", "old", &earlier, "old", false},
		{"previous without expiry", "cur", "old", nil, "old", false},
		{"prefix", "cur", "", nil, "cu", false},
	} {
		require.Equal(t, tc.want, SecretOK(tc.current, tc.previous, tc.expires, tc.given, now), tc.name)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	require.NotEqual(t, a, b)
	require.Len(t, a, 32) // 24 bytes, base64url
	require.NotContains(t, a, "=")
}

func TestAllowlist(t *testing.T) {
	t.Parallel()
	a, err := ParseAllowlist([]string{"203.0.113.0/24", " 198.51.100.7 ", "2001:db8::/32", "::ffff:192.0.2.1"})
	require.NoError(t, err)
	for ip, want := range map[string]bool{
		"203.0.113.9": true, "203.0.114.1": false, "198.51.100.7": true, "198.51.100.8": false,
		"2001:db8::5": true, "2001:db9::5": false, "::ffff:203.0.113.1": true, "192.0.2.1": true,
		"fe80::1%eth0": false, "not-an-ip": false, "": false,
	} {
		require.Equal(t, want, a.Allows(ip), ip)
	}
	require.True(t, Allowlist(nil).Allows("anything"))
	for _, bad := range []string{"1.2.3", "10.0.0.0/33", "example.com", ""} {
		_, err := ParseAllowlist([]string{bad})
		require.Error(t, err, bad)
	}
	_, err = ParseAllowlist(make([]string, MaxAllowlist+1))
	require.Error(t, err)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		in   Input
		err  string
	}{
		{"fine", Input{Macros: map[postback.Field]*string{postback.FieldClickID: s("{sub1}")}, LoginURL: s("https://net.example/login")}, ""},
		{"login url", Input{LoginURL: s("javascript:alert(1)")}, "loginURL"},
		{"long macro", Input{Macros: map[postback.Field]*string{postback.FieldAmount: s(strings.Repeat("x", 200))}}, "longer"},
		{"control char", Input{Macros: map[postback.Field]*string{postback.FieldAmount: s("{a}\x01b")}}, "control"},
		{"attribute is main field", Input{AttributeMacros: map[string]string{"click_id": "{x}"}}, "not an event attribute"},
		{"attribute ok", Input{AttributeMacros: map[string]string{"email": "{email}"}}, ""},
		{"mapping target", Input{ParamMappings: map[string]string{"sub1": "nope"}}, "not a field"},
		{"status word", Input{StatusMappings: map[string]string{"ok": "FINE"}}, "ok"},
		{"allowlist", Input{IPAllowlist: []string{"x"}}, "allowlist"},
		{"slug", Input{Slug: s("Bad Slug")}, "slug"},
	} {
		err := validate(tc.in)
		if tc.err == "" {
			require.NoError(t, err, tc.name)
		} else {
			require.ErrorContains(t, err, tc.err, tc.name)
		}
	}
}

func TestMacrosAndURL(t *testing.T) {
	t.Parallel()
	it := &ent.Integration{
		Slug: "net", Secret: "sec", ClickIDMacro: "{sub1}", PayoutMacro: "{sum}",
		AttributeMacros: map[string]string{"email": "{email}", "bogus": "{x}"},
	}
	require.Equal(t, postback.Macros{postback.FieldClickID: "{sub1}", postback.FieldAmount: "{sum}", postback.FieldEmail: "{email}"}, Macros(it))
	u, err := PostbackURL("https://cb.example/", "acc", it)
	require.NoError(t, err)
	require.Equal(t, "https://cb.example/acc/collect/net?click_id={sub1}&amount={sum}&email={email}&secret=sec", u)
}

func TestFillFromPreset(t *testing.T) {
	t.Parallel()
	for _, p := range postback.Catalog() {
		own := "{mine}"
		in := Input{Macros: map[postback.Field]*string{postback.FieldClickID: &own}}
		fillFromPreset(&in, p)
		require.Equal(t, "{mine}", *in.Macros[postback.FieldClickID], p.ID)
		for f, m := range p.Macros {
			if f == postback.FieldClickID {
				continue
			}
			if v := in.Macros[f]; v != nil {
				require.Equal(t, m, *v, p.ID)
			} else {
				require.Equal(t, m, in.AttributeMacros[string(f)], p.ID)
			}
		}
		require.NoError(t, validate(in), p.ID)
	}
}
