package postback_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

func TestBuildURL(t *testing.T) {
	t.Parallel()

	product := postback.Macros{
		postback.FieldClickID:       "{clickid}",
		postback.FieldAmount:        "{payout}",
		postback.FieldTransactionID: "{txid}",
	}
	tests := []struct {
		name      string
		publicURL string
		key, slug string
		secret    string
		macros    postback.Macros
		extra     []postback.QueryParam
		want      string
	}{
		{
			name:      "PRODUCT.md's example",
			publicURL: "http://localhost:8080",
			key:       "acc_1", slug: "network", secret: "c2VjcmV0LXZhbHVl",
			macros: product,
			want:   "http://localhost:8080/acc_1/collect/network?click_id={clickid}&amount={payout}&transaction_id={txid}&secret=c2VjcmV0LXZhbHVl",
		},
		{
			name:      "fields in canonical order whatever the map",
			publicURL: "https://t.example.com/",
			key:       "k", slug: "s", secret: "x",
			macros: postback.Macros{
				postback.FieldLastName: "[last]", postback.FieldStatus: "${st}", postback.FieldCurrency: "#cur#",
				postback.FieldClickID: "!!!clickRef!!!", postback.FieldEvent: "!!ev!!", postback.FieldEmail: "--EMAIL--",
				postback.FieldAmount: "{{payout}}", postback.FieldCountry: "",
			},
			want: "https://t.example.com/k/collect/s?click_id=!!!clickRef!!!&amount={{payout}}&currency=#cur#&event=!!ev!!&status=${st}&email=--EMAIL--&last_name=[last]&secret=x",
		},
		{
			name:      "path prefix, escaped path segments, secret and fixed values",
			publicURL: "https://t.example.com:8443/cb//",
			key:       "a/b c", slug: "my net", secret: "a+b/c=d&e",
			macros: postback.Macros{postback.FieldClickID: "{sub1}", postback.FieldCurrency: "USD", postback.FieldEvent: "Sale & Co"},
			extra: []postback.QueryParam{
				{Name: "sub2", Value: "{sub2}"},
				{Name: "note x", Value: "a=b"},
				{Name: "odd", Value: "<odd>"},
				{Name: "encoded", Value: "%7Bsub3%7D"},
			},
			want: "https://t.example.com:8443/cb/a%2Fb%20c/collect/my%20net?click_id={sub1}&currency=USD&event=Sale+%26+Co" +
				"&sub2={sub2}&note+x=a%3Db&odd=%3Codd%3E&encoded=%257Bsub3%257D&secret=a%2Bb%2Fc%3Dd%26e",
		},
		{
			name:      "no macros",
			publicURL: "http://h",
			key:       "k", slug: "s", secret: "x",
			want: "http://h/k/collect/s?secret=x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := postback.BuildURL(tt.publicURL, tt.key, tt.slug, tt.secret, tt.macros, tt.extra...)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestBuildURLErrors(t *testing.T) {
	t.Parallel()

	macros := postback.Macros{postback.FieldClickID: "{clickid}"}
	tests := []struct {
		name      string
		publicURL string
		key, slug string
		secret    string
		macros    postback.Macros
		extra     []postback.QueryParam
		err       string
	}{
		{name: "relative", publicURL: "/x", err: `public URL "/x" is not an http(s) URL without user, query or fragment`},
		{name: "scheme", publicURL: "ftp://h"},
		{name: "no host", publicURL: "http://"},
		{name: "query", publicURL: "http://h?a=1"},
		{name: "empty query", publicURL: "http://h?"},
		{name: "fragment", publicURL: "http://h#x"},
		{name: "user", publicURL: "http://u:p@h"},
		{name: "unparsable", publicURL: "http://h/%zz"},
		{name: "no key", publicURL: "http://h", slug: "s", secret: "x", err: "the account key is empty"},
		{name: "no slug", publicURL: "http://h", key: "k", secret: "x", err: "the integration slug is empty"},
		{name: "no secret", publicURL: "http://h", key: "k", slug: "s", err: "the secret is empty: a postback URL without one would accept anyone's postbacks"},
		{
			name: "unknown field", publicURL: "http://h", key: "k", slug: "s", secret: "x",
			macros: postback.Macros{"payout": "{payout}"}, err: `macro for "payout": not a canonical field`,
		},
		{
			name: "extra repeats a field", publicURL: "http://h", key: "k", slug: "s", secret: "x", macros: macros,
			extra: []postback.QueryParam{{Name: "Click-ID", Value: "1"}}, err: `extra parameter "Click-ID": the URL already has "click_id"`,
		},
		{
			name: "extra repeats an extra", publicURL: "http://h", key: "k", slug: "s", secret: "x",
			extra: []postback.QueryParam{{Name: "a", Value: "1"}, {Name: "A", Value: "2"}}, err: `extra parameter "A": the URL already has "a"`,
		},
		{
			name: "extra is the secret", publicURL: "http://h", key: "k", slug: "s", secret: "x",
			extra: []postback.QueryParam{{Name: "SECRET", Value: "1"}}, err: `extra parameter "SECRET": the secret is added by BuildURL`,
		},
		{
			name: "extra without name", publicURL: "http://h", key: "k", slug: "s", secret: "x",
			extra: []postback.QueryParam{{Value: "1"}}, err: `extra parameter "": not a parameter name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			key, slug, secret := tt.key, tt.slug, tt.secret
			if tt.err == "" { // a bad public URL, with everything else right
				key, slug, secret = "k", "s", "x"
			}
			got, err := postback.BuildURL(tt.publicURL, key, slug, secret, tt.macros, tt.extra...)
			require.Error(t, err)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
			}
			require.Empty(t, got)
		})
	}
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"click_id=a&amount=1", "click_id=a&amount=1"},
		{"click_id=a&secret=s3cret&amount=1", "click_id=a&secret=REDACTED&amount=1"},
		{"secret=s3cret", "secret=REDACTED"},
		{"secret=a&secret=b", "secret=REDACTED&secret=REDACTED"},
		{"SECRET=a&Se-cret=b&s%65cret=c", "SECRET=REDACTED&Se-cret=REDACTED&s%65cret=REDACTED"},
		{"secret=&secret&secret=REDACTED", "secret=&secret&secret=REDACTED"},
		{"secrets=a&my_secret=b", "secrets=a&my_secret=b"},
		{"a=%7Bx%7D&secret=x%2By&b={y}&&c", "a=%7Bx%7D&secret=REDACTED&b={y}&&c"},
		{"secret=a=b&c=d", "secret=REDACTED&c=d"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, postback.RedactQuery(tt.in))
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want string
	}{
		{"https://h/k/collect/s", "https://h/k/collect/s"},
		{"https://h/k/collect/s?click_id=a", "https://h/k/collect/s?click_id=a"},
		{"https://h/k/collect/s?click_id=#s2#&secret=abc", "https://h/k/collect/s?click_id=#s2#&secret=REDACTED"},
		{"/k/collect/s?secret=abc&amount=1", "/k/collect/s?secret=REDACTED&amount=1"},
		{"https://h/?secret=abc#frag", "https://h/?secret=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, postback.RedactURL(tt.in))
		})
	}
}

// TestBuildURLRedact checks that a built URL, redacted, shows no secret.
func TestBuildURLRedact(t *testing.T) {
	t.Parallel()

	u, err := postback.BuildURL("https://h", "k", "s", "top+secret/value", postback.Macros{postback.FieldClickID: "#s2#"})
	require.NoError(t, err)
	require.Equal(t, "https://h/k/collect/s?click_id=#s2#&secret=REDACTED", postback.RedactURL(u))
}

func TestQuerySecret(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"click_id=a", ""},
		{"click_id=a&secret=s3c%2Bret", "s3c+ret"},
		{"Secret=first&secret=second", "first"},
		{"secrets=a&secret", ""},
		{"%73ecret=x", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, postback.QuerySecret(tt.in))
		})
	}
}
