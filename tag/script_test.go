package tag

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// config extracts the JSON configuration from a rendered script.
func config(t *testing.T, script []byte) map[string]any {
	t.Helper()
	require.True(t, bytes.HasPrefix(script, []byte(scriptHead)))
	require.True(t, bytes.HasSuffix(script, []byte(scriptTail)))
	var c map[string]any
	require.NoError(t, json.Unmarshal(script[len(scriptHead):len(script)-len(scriptTail)], &c))
	return c
}

func TestScript(t *testing.T) {
	t.Parallel()

	t.Run("renders the configuration", func(t *testing.T) {
		t.Parallel()
		script, err := Script(Config{
			IngestURL:             "https://clickback.example/t/pk_1",
			AttributionWindowDays: 7,
			AutoTag: []AutoTagRule{
				{Domain: "Network.Example", Param: "sub1"},
				{Domain: "*.go.network.example", Param: "aff_sub"},
				{Domain: ".x.example.", Param: "s2"},
			},
		})
		require.NoError(t, err)
		require.Equal(t, map[string]any{
			"u": "https://clickback.example/t/pk_1",
			"w": float64(7),
			"r": []any{[]any{"go.network.example", "aff_sub"}, []any{"network.example", "sub1"}, []any{"x.example", "s2"}},
		}, config(t, script))
	})

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		script, err := Script(Config{IngestURL: "http://localhost:8080/t/k"})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"u": "http://localhost:8080/t/k", "w": float64(DefaultAttributionWindowDays), "r": []any{}}, config(t, script))
	})

	t.Run("configuration cannot break out of the script", func(t *testing.T) {
		t.Parallel()
		script, err := Script(Config{IngestURL: "https://a.example/t/k?x=</script><script>alert(1)</script>\u2028"})
		require.NoError(t, err)
		require.NotContains(t, string(script), "</script>")
		require.NotContains(t, string(script), "\u2028")
	})

	rules := func(n int) []AutoTagRule {
		r := make([]AutoTagRule, n)
		for i := range r {
			r[i] = AutoTagRule{Domain: fmt.Sprintf("n%d.example", i), Param: "s"}
		}
		return r
	}
	invalid := []struct {
		name string
		cfg  Config
		text string
	}{
		{"no ingest URL", Config{}, "ingest URL"},
		{"relative ingest URL", Config{IngestURL: "/t/k"}, "ingest URL"},
		{"ingest URL without host", Config{IngestURL: "https:///t/k"}, "ingest URL"},
		{"ingest URL scheme", Config{IngestURL: "javascript:alert(1)"}, "ingest URL"},
		{"negative window", Config{IngestURL: "https://a.example/t/k", AttributionWindowDays: -1}, "attribution window"},
		{"window too long", Config{IngestURL: "https://a.example/t/k", AttributionWindowDays: MaxAttributionWindowDays + 1}, "attribution window"},
		{"too many rules", Config{IngestURL: "https://a.example/t/k", AutoTag: rules(MaxAutoTagRules + 1)}, "AutoTag rules"},
		{"domain with path", Config{IngestURL: "https://a.example/t/k", AutoTag: []AutoTagRule{{Domain: "n.example/x", Param: "s"}}}, "not a host name"},
		{"domain with scheme", Config{IngestURL: "https://a.example/t/k", AutoTag: []AutoTagRule{{Domain: "https://n.example", Param: "s"}}}, "not a host name"},
		{"empty domain", Config{IngestURL: "https://a.example/t/k", AutoTag: []AutoTagRule{{Domain: "*.", Param: "s"}}}, "not a host name"},
		{"unicode domain", Config{IngestURL: "https://a.example/t/k", AutoTag: []AutoTagRule{{Domain: "bücher.example", Param: "s"}}}, "punycode"},
		{"empty param", Config{IngestURL: "https://a.example/t/k", AutoTag: []AutoTagRule{{Domain: "n.example"}}}, "parameter"},
		{"param with &", Config{IngestURL: "https://a.example/t/k", AutoTag: []AutoTagRule{{Domain: "n.example", Param: "a&b"}}}, "parameter"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			script, err := Script(tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.Contains(t, err.Error(), tt.text)
			require.Nil(t, script)
		})
	}

	t.Run("most rules", func(t *testing.T) {
		t.Parallel()
		_, err := Script(Config{IngestURL: "https://a.example/t/k", AutoTag: rules(MaxAutoTagRules)})
		require.NoError(t, err)
	})
}

// TestScriptSize keeps the served tag, with a realistic configuration, under 4 KB gzipped.
func TestScriptSize(t *testing.T) {
	t.Parallel()
	script, err := Script(Config{
		IngestURL: "https://clickback.example.com/t/pk_8f3a9c2e71b4",
		AutoTag: []AutoTagRule{
			{Domain: "network.example", Param: "sub1"}, {Domain: "track.affiliate.example", Param: "aff_sub"},
			{Domain: "go.partner.example", Param: "clickref"},
		},
	})
	require.NoError(t, err)
	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	require.NoError(t, err)
	_, err = w.Write(script)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	t.Logf("tag: %d bytes, %d gzipped", len(script), gz.Len())
	require.Less(t, gz.Len(), 4096)
}

func TestScriptSource(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, strings.Count(source, configToken), "the configuration token appears once")
	for _, part := range []string{scriptHead, scriptTail} {
		require.NotContains(t, part, "\n//", "comment lines are dropped")
		require.NotContains(t, part, "\n ", "indentation is dropped")
	}
	for _, banned := range []string{"?.", "??", "=>", "`", "console."} {
		require.NotContains(t, source, banned, "tag.js avoids %q, for older browsers and quiet consoles", banned)
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	require.Equal(t,
		"<script>window.clickback=window.clickback||function(){(clickback.q=clickback.q||[]).push(arguments)};</script>\n"+
			`<script async src="https://clickback.example/tag/pk_1.js"></script>`,
		Snippet("https://clickback.example/tag/pk_1.js"))
	require.Contains(t, Snippet(`https://a.example/tag/x.js?a=1&b="><script>`), `src="https://a.example/tag/x.js?a=1&amp;b=&#34;&gt;&lt;script&gt;"`)
}
