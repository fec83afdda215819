package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/tag"
)

func do(t *testing.T, method, url string, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// Ask for gzip explicitly, so that the transport does not decode it.
	if _, ok := header["Accept-Encoding"]; !ok {
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, raw
}

// TestTagScript: the tag of a property is served with its configuration,
// cacheable, gzipped on request; an unknown property gets a harmless script.
func TestTagScript(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "tagscript")
		_, key := createProperty(t, s, a.Token, "shop")

		resp, body := do(t, "GET", s.URL+"/tag/"+key+".js", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, "public, max-age=300", resp.Header.Get("Cache-Control"))
		require.Contains(t, string(body), `"u":"`+s.Config.PublicURL+`/t/`+key+`"`)
		require.Contains(t, string(body), `"w":30`, "the account's attribution window")
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)

		resp, gz := do(t, "GET", s.URL+"/tag/"+key+".js", "", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, body, plain)
		require.Less(t, len(gz), 4096, "the tag is under 4 KB gzipped")

		resp, body = do(t, "GET", s.URL+"/tag/"+key+".js", "", map[string]string{"If-None-Match": etag})
		require.Equal(t, http.StatusNotModified, resp.StatusCode)
		require.Empty(t, body)

		for _, path := range []string{"/tag/nope.js", "/tag/" + key, "/tag/" + strings.Repeat("k", 300) + ".js", "/tag/%00.js"} {
			resp, body = do(t, "GET", s.URL+path, "", nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"), path)
			require.True(t, strings.HasPrefix(string(body), "/* clickback: "), path)
		}
	})
}

// TestTagIngest: POST /t/{key} answers CORS for any origin, refuses bad input
// with a reason, and records what it accepts.
func TestTagIngest(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "ingest")
		_, key := createProperty(t, s, a.Token, "shop")
		url := s.URL + "/t/" + key
		origin := map[string]string{"Origin": "https://shop.example", "Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}

		resp, _ := do(t, "OPTIONS", url, "", map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")

		cases := []struct {
			name, url, body string
			status          int
			want            string
		}{
			{"malformed", url, `{"v":1,`, 400, "not a JSON object"},
			{"bad field", url, `{"v":1,"events":[{"t":"pv","c":"cb_x"}]}`, 400, "event 0"},
			{"unknown property", s.URL + "/t/nope", `{"v":1,"events":[{"t":"pv","c":"cb_x","u":"https://a.example/"}]}`, 404, "unknown property"},
			{"too large", url, `{"v":1,"events":[{"t":"pv","c":"cb_x","u":"https://a.example/","ti":"` + strings.Repeat("x", tag.MaxBodyBytes) + `"}]}`, 413, "larger than"},
		}
		for _, c := range cases {
			resp, body := do(t, "POST", c.url, c.body, origin)
			require.Equal(t, c.status, resp.StatusCode, c.name)
			require.Contains(t, string(body), c.want, c.name)
			require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"), c.name)
		}

		body := `{"v":1,"events":[{"t":"pv","c":"cb_ingest1","u":"https://shop.example/?utm_source=news","utm_source":"news","gclid":"G-1","fbc":"fb.1.5.F"},` +
			`{"t":"tr","c":"cb_ingest1","u":"https://shop.example/","n":"Signup","val":"9.99","cur":"EUR","p":{"plan":"pro"}},` +
			`{"t":"er","u":"https://shop.example/","m":"TypeError: x"}]}`
		resp, _ = do(t, "POST", url, body, origin)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Contains(t, s.LogText(), "tag reported an error")

		var out struct {
			Clicks struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ClickID, UtmSource, Gclid, Fbc, IP, UserAgent, LandingPage string
						Bot                                                        bool
					}
				}
			}
			TrackEvents struct {
				TotalCount int
				Edges      []struct {
					Node struct{ Name, Currency string }
				}
			}
		}
		s.GraphQL(t, a.Token, `{ clicks(where: {utmSource: "news", clickID: "cb_ingest1"}) { totalCount edges { node { clickID utmSource gclid fbc ip userAgent landingPage bot } } }
			trackEvents(where: {name: "Signup", clickID: "cb_ingest1"}) { totalCount edges { node { name currency } } } }`, nil).Decode(t, &out)
		require.Equal(t, 1, out.Clicks.TotalCount)
		c := out.Clicks.Edges[0].Node
		require.Equal(t, "G-1", c.Gclid)
		require.Equal(t, "fb.1.5.F", c.Fbc)
		require.Equal(t, "127.0.0.1", c.IP)
		require.Equal(t, origin["User-Agent"], c.UserAgent)
		require.False(t, c.Bot)
		require.Equal(t, 1, out.TrackEvents.TotalCount)
		require.Equal(t, "EUR", out.TrackEvents.Edges[0].Node.Currency)

		// Another tenant sees none of it.
		b := s.Signup(t, "other")
		s.GraphQL(t, b.Token, `{ clicks { totalCount edges { node { clickID utmSource gclid fbc ip userAgent landingPage bot } } } trackEvents { totalCount edges { node { name currency } } } }`, nil).Decode(t, &out)
		require.Zero(t, out.Clicks.TotalCount)
		require.Zero(t, out.TrackEvents.TotalCount)

		// Bots are marked, not dropped.
		resp, _ = do(t, "POST", url, `{"v":1,"events":[{"t":"pv","c":"cb_bot","u":"https://shop.example/"}]}`,
			map[string]string{"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		s.GraphQL(t, a.Token, `{ clicks(where: {clickID: "cb_bot"}) { totalCount edges { node { clickID utmSource gclid fbc ip userAgent landingPage bot } } } trackEvents { totalCount edges { node { name currency } } } }`, nil).Decode(t, &out)
		require.True(t, out.Clicks.Edges[0].Node.Bot)
	})
}

// TestTagIngestRateLimit: one IP cannot flood the ingest; it is told to wait.
func TestTagIngestRateLimit(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, dbtest.Dialects[0])
	var last *http.Response
	for range 400 {
		last, _ = do(t, "POST", s.URL+"/t/nope", `{}`, nil)
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusNotFound, last.StatusCode)
	}
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode)
	require.NotEmpty(t, last.Header.Get("Retry-After"))
	require.Equal(t, "*", last.Header.Get("Access-Control-Allow-Origin"))
}

// TestAutoTagRulesAPI: AutoTag rules are validated, normalised, confined to
// the account and to ADMINs, and reach the property's tag.
func TestAutoTagRulesAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "rules")
		b := s.Signup(t, "intruder")
		id, key := createProperty(t, s, a.Token, "shop")
		set := `mutation($id: ID!, $rules: [AutoTagRuleInput!]!) { setAutoTagRules(propertyID: $id, rules: $rules) { autoTagRules { domain param } } }`
		rule := func(domain, param string) map[string]any { return map[string]any{"domain": domain, "param": param} }

		var empty struct {
			Node struct{ AutoTagRules []any }
		}
		s.GraphQL(t, a.Token, `query($id: ID!) { node(id: $id) { ... on Property { autoTagRules { domain } } } }`, map[string]any{"id": id}).Decode(t, &empty)
		require.NotNil(t, empty.Node.AutoTagRules)
		require.Empty(t, empty.Node.AutoTagRules)

		for _, bad := range []map[string]any{rule("https://n.example", "s"), rule("n.example", "a&b"), rule("", "s"), rule("bücher.example", "s")} {
			r := s.GraphQL(t, a.Token, set, map[string]any{"id": id, "rules": []any{bad}})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), "%v", bad)
			require.Contains(t, r.Errors[0].Message, "AutoTag")
		}
		many := make([]any, tag.MaxAutoTagRules+1)
		for i := range many {
			many[i] = rule("n"+strings.Repeat("x", i)+".example", "s")
		}
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Token, set, map[string]any{"id": id, "rules": many}).Code())

		var out struct {
			SetAutoTagRules struct {
				AutoTagRules []struct{ Domain, Param string }
			}
		}
		s.GraphQL(t, a.Token, set, map[string]any{"id": id, "rules": []any{rule("*.Network.Example", "sub1"), rule("deep.network.example", "aff_sub")}}).Decode(t, &out)
		require.Equal(t, []struct{ Domain, Param string }{{"deep.network.example", "aff_sub"}, {"network.example", "sub1"}}, out.SetAutoTagRules.AutoTagRules)

		require.Equal(t, "NOT_FOUND", s.GraphQL(t, b.Token, set, map[string]any{"id": id, "rules": []any{}}).Code(), "another account's property")
		var key2 struct {
			CreateAPIKey struct{ Key string }
		}
		s.GraphQL(t, a.Token, `mutation { createAPIKey(input: {name: "ro", role: VIEWER}) { key } }`, nil).Decode(t, &key2)
		require.Equal(t, "FORBIDDEN", s.GraphQL(t, key2.CreateAPIKey.Key, set, map[string]any{"id": id, "rules": []any{}}).Code())

		_, body := do(t, "GET", s.URL+"/tag/"+key+".js", "", nil)
		require.Contains(t, string(body), `"r":[["deep.network.example","aff_sub"],["network.example","sub1"]]`)
	})
}
