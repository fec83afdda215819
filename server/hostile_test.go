package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/eventlog"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// The hostile-input sweep: every route of PRODUCT.md's contract gets
// oversized bodies, huge headers, 1 MB query strings, 10,000 parameters,
// binary garbage, invalid UTF-8, wrong content types; GraphQL also deep
// queries, 10,000-alias batches, huge and deeply nested variables; the
// websocket malformed frames. Each answer is a clear 4xx (or, for a route
// the input does not concern, its ordinary answer), never a 5xx, never a
// crash, and the heap stays bounded across the sweep.

// hostileCase is one request of the sweep.
type hostileCase struct {
	name   string
	method string
	// target is the path and query; a function so that a 1 MB URL is built
	// only when it is sent.
	target func() string
	header map[string]string
	// body streams the body, of size bytes (-1: chunked, no length).
	body func() io.Reader
	size int64
	// ok accepts the status; nil means a 4xx.
	ok func(code int) bool
	// gql accepts a GraphQL refusal (gqlRefused) instead.
	gql bool
}

// repeatReader streams n bytes of pattern without holding them.
func repeatReader(pattern string, n int64) io.Reader {
	return io.LimitReader(&cycle{p: []byte(pattern)}, n)
}

type cycle struct {
	p []byte
	i int
}

func (c *cycle) Read(b []byte) (int, error) {
	for k := range b {
		b[k] = c.p[c.i]
		c.i = (c.i + 1) % len(c.p)
	}
	return len(b), nil
}

// headerSafe drops the control bytes a client refuses to send in a header;
// invalid UTF-8 stays.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func is4xx(code int) bool { return code >= 400 && code < 500 }

// gqlRefused accepts what GraphQL answers to an operation refused at
// execution: 4xx, or 200 with errors, each with a code a client can act on
// (never an internal error).
func gqlRefused(code int, body string) bool {
	if is4xx(code) {
		return true
	}
	var r struct {
		Errors []struct{ Extensions struct{ Code string } }
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || len(r.Errors) == 0 {
		return false
	}
	for _, e := range r.Errors {
		if e.Extensions.Code == "" || e.Extensions.Code == "INTERNAL_SERVER_ERROR" {
			return false
		}
	}
	return true
}

// below500 accepts any answer that is not a server error: for inputs that
// are harmless to the route (a long query string on /healthz).
func below500(code int) bool { return code > 0 && code < 500 }

const (
	mb        = 1 << 20
	tenK      = 10_000
	bigHeader = 2 * mb // past net/http's default 1 MB (main.go allows 64 KB)
)

func manyParams(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "%s%d=%d", prefix, i, i)
	}
	return b.String()
}

func gqlBody(query string, vars map[string]any) func() io.Reader {
	return func() io.Reader {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return bytes.NewReader(b)
	}
}

func sizeOf(f func() io.Reader) int64 {
	n, _ := io.Copy(io.Discard, f())
	return n
}

// hostileCases builds the sweep against a running server whose account
// has the property key prop and the postback path collectPath (query
// string included, secret last).
func hostileCases(token, prop, collectPath string) []hostileCase {
	garbage := "\x00\xff\xfe\x80\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc{\"[<"
	invalidUTF8 := "\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc\xff"
	auth := map[string]string{"Authorization": "Bearer " + token}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	fixed := func(s string) func() string { return func() string { return s } }
	body := func(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }

	// Routes and what an ordinary request of each looks like.
	type route struct {
		name, method, path string
		header             map[string]string
		// harmless: a long query string or many headers are not this
		// route's input, so its ordinary answer is fine.
		harmless bool
	}
	routes := []route{
		{"healthz", "GET", "/healthz", nil, true},
		{"readyz", "GET", "/readyz", nil, true},
		{"metrics", "GET", "/metrics", nil, true},
		{"graphiql", "GET", "/", nil, true},
		{"riverui", "GET", "/riverui/", nil, true},
		{"tag script", "GET", "/tag/" + prop + ".js", nil, true},
		{"tag ingest", "POST", "/t/" + prop, map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example"}, false},
		{"collect GET", "GET", collectPath, nil, false},
		{"collect POST", "POST", collectPath, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, false},
		{"graphql POST", "POST", "/graphql", merge(jsonCT, auth), false},
		{"graphql GET", "GET", "/graphql", auth, false},
	}

	var cases []hostileCase
	for _, r := range routes {
		r := r
		withQuery := func(q string) string {
			if strings.Contains(r.path, "?") {
				// The collect path: hostile parameters before the secret.
				p, rest, _ := strings.Cut(r.path, "?")
				return p + "?" + q + "&" + rest
			}
			return r.path + "?" + q
		}
		ok := (func(int) bool)(nil)
		if r.harmless {
			ok = below500
		}
		cases = append(cases,
			hostileCase{name: r.name + ": 2 MB header", method: r.method, target: fixed(r.path),
				header: merge(r.header, map[string]string{"X-Huge": strings.Repeat("h", bigHeader)})},
			hostileCase{name: r.name + ": 1 MB query string", method: r.method,
				target: func() string { return withQuery("q=" + strings.Repeat("a", mb)) }, header: r.header, ok: ok},
			hostileCase{name: r.name + ": 10,000 parameters", method: r.method,
				target: func() string { return withQuery(manyParams(tenK, "p")) }, header: r.header, ok: ok},
			hostileCase{name: r.name + ": invalid UTF-8 and escapes in the query", method: r.method,
				target: func() string { return withQuery("q=" + url.QueryEscape(invalidUTF8) + "&%zz=%&x=%ff%fe") }, header: r.header, ok: ok},
		)
		if r.method == "POST" {
			cases = append(cases,
				hostileCase{name: r.name + ": 10 MB body", method: r.method, target: fixed(r.path), header: r.header,
					body: func() io.Reader { return repeatReader("a=b&", 10*mb) }, size: 10 * mb},
				hostileCase{name: r.name + ": 10 MB chunked body", method: r.method, target: fixed(r.path), header: r.header,
					body: func() io.Reader { return repeatReader(`{"a":"b"}`, 10*mb) }, size: -1},
				hostileCase{name: r.name + ": binary garbage", method: r.method, target: fixed(r.path), header: r.header,
					body: body(strings.Repeat(garbage, 512)), size: int64(len(garbage) * 512)},
				hostileCase{name: r.name + ": invalid UTF-8 JSON", method: r.method, target: fixed(r.path),
					header: merge(r.header, jsonCT), body: body(`{"query":"` + invalidUTF8 + `","v":1,"events":[{"t":"` + invalidUTF8 + `"}]}`), size: -1},
				hostileCase{name: r.name + ": wrong content type", method: r.method, target: fixed(r.path),
					header: merge(r.header, map[string]string{"Content-Type": "application/xml"}), body: body(`<?xml version="1.0"?><a>` + garbage + `</a>`), size: -1},
				hostileCase{name: r.name + ": multipart without a boundary", method: r.method, target: fixed(r.path),
					header: merge(r.header, map[string]string{"Content-Type": "multipart/form-data"}), body: body("--x\r\n\r\n" + garbage), size: -1},
				hostileCase{name: r.name + ": 10,000 form fields", method: r.method, target: fixed(r.path),
					header: merge(r.header, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}),
					body:   body(manyParams(tenK, "f")), size: -1},
				hostileCase{name: r.name + ": JSON nested 100,000 deep", method: r.method, target: fixed(r.path),
					header: merge(r.header, jsonCT), body: body(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)), size: -1},
			)
		}
	}
	for _, r := range []string{"/healthz", "/graphql", "/t/" + prop, "/tag/x.js"} {
		cases = append(cases, hostileCase{name: r + ": 10,000 headers", method: "GET", target: fixed(r),
			header: func() map[string]string {
				h := map[string]string{}
				for i := range tenK {
					h[fmt.Sprintf("X-H%d", i)] = strings.Repeat("v", 100)
				}
				return h
			}(), ok: below500})
	}

	// GraphQL documents.
	deepSelection := "query { node(id: \"x\") " + strings.Repeat("{ ... on Property { clicks { edges { node { property ", 200) + "{ id }" + strings.Repeat(" } } } } }", 200) + " }"
	var aliases strings.Builder
	aliases.WriteString("query {")
	for i := range tenK {
		fmt.Fprintf(&aliases, " a%d: __typename", i)
	}
	aliases.WriteString(" }")
	var viewerAliases strings.Builder
	viewerAliases.WriteString("query {")
	for i := range 3000 {
		fmt.Fprintf(&viewerAliases, " a%d: viewer { role }", i)
	}
	viewerAliases.WriteString(" }")
	fragBomb := "query { ...F0 }\n"
	for i := range 30 {
		fragBomb += fmt.Sprintf("fragment F%d on Query { viewer { role } ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fragBomb += "fragment F30 on Query { viewer { role } }\n"
	cycleFrag := "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
	nestedValue := "query { node(id: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + ") { id } }"
	manyDirectives := "query { viewer " + strings.Repeat("@include(if: true) ", tenK) + "{ role } }"
	bigVar := strings.Repeat("x", 900_000)
	manyVars := map[string]any{}
	for i := range 50_000 {
		manyVars[fmt.Sprintf("v%d", i)] = i
	}
	deepVar := any("x")
	for range 5000 {
		deepVar = []any{deepVar}
	}
	gql := []struct {
		name  string
		query string
		vars  map[string]any
		// harmless: within the body limit and ignored (undeclared
		// variables), so the ordinary answer is fine.
		harmless bool
	}{
		{"deep selection (800 levels)", deepSelection, nil, false},
		{"10,000 aliases of __typename", aliases.String(), nil, false},
		{"3,000 aliases of viewer", viewerAliases.String(), nil, false},
		{"fragment bomb (2^30 spreads)", fragBomb, nil, false},
		{"fragment cycle", cycleFrag, nil, false},
		{"list value nested 100,000 deep", nestedValue, nil, false},
		{"10,000 directives", manyDirectives, nil, false},
		{"900 KB variable", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": bigVar}, false},
		{"50,000 undeclared variables", `query { viewer { role } }`, manyVars, true},
		{"variable nested 5,000 deep", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": deepVar}, false},
		{"login with a 900 KB password", `mutation($in: LoginInput!) { login(input: $in) { token } }`,
			map[string]any{"in": map[string]any{"email": "x@example.com", "password": bigVar}}, false},
		{"signup with a 900 KB email", `mutation($in: SignupInput!) { signup(input: $in) { token } }`,
			map[string]any{"in": map[string]any{"email": bigVar + "@example.com", "password": "correct horse battery", "accountName": "x"}}, false},
		{"unknown operation name", `query A { viewer { role } } query B { viewer { role } }`, nil, false},
		{"invalid UTF-8 in the document", "query { viewer { role " + invalidUTF8 + " } }", nil, false},
	}
	for _, g := range gql {
		cases = append(cases, hostileCase{name: "graphql POST: " + g.name, method: "POST", target: fixed("/graphql"),
			header: merge(jsonCT, auth), body: gqlBody(g.query, g.vars), size: sizeOf(gqlBody(g.query, g.vars)), gql: !g.harmless,
			ok: map[bool]func(int) bool{true: below500}[g.harmless]})
	}
	cases = append(cases,
		hostileCase{name: "graphql POST: a batch of 10,000 operations", method: "POST", target: fixed("/graphql"), header: merge(jsonCT, auth),
			body: func() io.Reader {
				return strings.NewReader("[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ viewer { role } }"},`, tenK), ",") + "]")
			}, size: -1},
		hostileCase{name: "graphql POST: not JSON", method: "POST", target: fixed("/graphql"), header: merge(jsonCT, auth), body: body("query { viewer { role } }"), size: -1},
		hostileCase{name: "graphql POST: text/plain", method: "POST", target: fixed("/graphql"),
			header: merge(auth, map[string]string{"Content-Type": "text/plain"}), body: gqlBody("{ viewer { role } }", nil), size: -1},
		hostileCase{name: "graphql POST: no content type", method: "POST", target: fixed("/graphql"), header: auth, body: gqlBody("{ viewer { role } }", nil), size: -1},
		hostileCase{name: "graphql POST: query not a string", method: "POST", target: fixed("/graphql"), header: merge(jsonCT, auth), body: body(`{"query":{"a":1},"variables":"x"}`), size: -1},
		hostileCase{name: "graphql GET: 10,000 aliases", method: "GET", target: func() string { return "/graphql?query=" + url.QueryEscape(aliases.String()) }, header: auth},
		hostileCase{name: "graphql GET: a mutation", method: "GET", target: fixed("/graphql?query=" + url.QueryEscape(`mutation { createProperty(input: {name: "x"}) { id } }`)), header: auth},
		hostileCase{name: "graphql GET: variables not JSON", method: "GET", target: fixed("/graphql?query=" + url.QueryEscape(`query($id: ID!) { node(id: $id) { id } }`) + "&variables=%7B%7B%7B"), header: auth},
		hostileCase{name: "graphql: garbage bearer token", method: "POST", target: fixed("/graphql"),
			header: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + strings.Repeat(headerSafe(garbage), 1000)}, body: gqlBody("{ viewer { role } }", nil), size: -1, gql: true},
		hostileCase{name: "graphql: PUT", method: "PUT", target: fixed("/graphql"), header: merge(jsonCT, auth), body: gqlBody("{ viewer { role } }", nil), size: -1},
		hostileCase{name: "tag script: 10,000-character name", method: "GET", target: fixed("/tag/" + strings.Repeat("k", tenK) + ".js")},
		hostileCase{name: "tag script: invalid UTF-8 name", method: "GET", target: fixed("/tag/%c3%28%ff.js")},
		hostileCase{name: "tag ingest: 10,000 events", method: "POST", target: fixed("/t/" + prop),
			header: map[string]string{"Content-Type": "text/plain", "Origin": "https://shop.example"},
			body: func() io.Reader {
				return strings.NewReader(`{"v":1,"events":[` + strings.TrimSuffix(strings.Repeat(`{"t":"pv","c":"c","u":"https://shop.example/"},`, tenK), ",") + `]}`)
			}, size: -1},
		hostileCase{name: "collect: unknown account, 10,000-character key", method: "GET", target: fixed("/" + strings.Repeat("k", tenK) + "/collect/x?secret=y")},
		hostileCase{name: "collect: invalid UTF-8 path", method: "GET", target: fixed("/%ff%fe/collect/%c3%28?secret=%ff")},
		hostileCase{name: "collect: 10,000 secret parameters", method: "GET", target: fixed("/x/collect/y?" + manyParams(tenK, "secret"))},
		hostileCase{name: "unknown route with garbage", method: "GET", target: fixed("/%00%ff/../../etc/passwd")},
	)
	return cases
}

// sendHostile sends one case and returns the status (0 when the server
// closed the connection without answering, which net/http does for some
// malformed requests).
func sendHostile(t *testing.T, client *http.Client, base string, c hostileCase) (int, string) {
	t.Helper()
	var body io.Reader
	if c.body != nil {
		body = c.body()
	}
	req, err := http.NewRequest(c.method, base+c.target(), body)
	require.NoError(t, err, c.name)
	if c.body != nil {
		req.ContentLength = c.size
		if c.size < 0 {
			req.ContentLength = -1 // chunked
		}
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The server may answer and close before the client has sent a
		// large body; the answer is then lost to the client. Retry with a
		// fresh connection once, then report.
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4*mb))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*mb))
	return resp.StatusCode, string(b)
}

// heapSampler records the largest live heap while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > h.peak.Load() {
				h.peak.Store(m.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak.Load()
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// Bounds of the sweep's heap, in this process (server and client): the
// largest live heap above the start, and what is left after a GC.
const (
	maxHeapPeakGrowth     = 192 * mb
	maxHeapRetainedGrowth = 24 * mb
)

// TestHostileInput runs the sweep. It is not parallel: the heap it
// measures is the process's, and other tests would move it.
func TestHostileInput(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(dbtest.Name(d), func(t *testing.T) {
			s := testserver.Start(t, d)
			a := s.Signup(t, "hostile")
			_, prop := createProperty(t, s, a.Token, "shop")
			in := createIntegration(t, s, a.Token, map[string]any{"name": "net", "clickIDMacro": "{c}"})
			collectURL := fill(s, in.PostbackURL, map[string]string{"{c}": "clk-1"})
			u, err := url.Parse(collectURL)
			require.NoError(t, err)
			collectPath := u.Path + "?" + u.RawQuery
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			t.Cleanup(client.CloseIdleConnections)

			cases := hostileCases(a.Token, prop, collectPath)
			before := heapAfterGC()
			sampler := startHeapSampler()
			start := time.Now()
			codes := map[int]int{}
			for _, c := range cases {
				code, body := sendHostile(t, client, s.URL, c)
				if code == 0 {
					// The server answered and closed while a large body
					// was still being sent: ask again on a new connection.
					client.CloseIdleConnections()
					code, body = sendHostile(t, client, s.URL, c)
				}
				codes[code]++
				excerpt := body[:min(len(body), 300)]
				switch {
				case c.gql:
					require.True(t, gqlRefused(code, body), "%s: answered %d %q", c.name, code, excerpt)
				case c.ok != nil:
					require.True(t, c.ok(code), "%s: answered %d %q", c.name, code, excerpt)
				default:
					require.True(t, is4xx(code), "%s: answered %d %q", c.name, code, excerpt)
				}
				require.Less(t, code, 500, "%s: %q", c.name, excerpt)
				require.Less(t, len(body), 64<<10, "%s: the answer echoes the input: %q", c.name, excerpt)
			}
			ws := hostileWebsocket(t, s, a.Token)
			peak := sampler.Stop()
			after := heapAfterGC()

			// The server still works, and recorded no server error.
			require.Equal(t, http.StatusOK, send(t, "GET", s.URL+"/healthz", "", "").Code)
			var v struct{ Viewer struct{ Role string } }
			s.GraphQL(t, a.Token, `{ viewer { role } }`, nil).Decode(t, &v)
			require.Equal(t, "OWNER", v.Viewer.Role)
			for _, line := range strings.Split(s.LogText(), "\n") {
				// Errors of a request (River's own, from the shared
				// database's load, are not the sweep's).
				if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, `"request_id"`) {
					t.Errorf("the sweep caused a server error: %s", line)
				}
			}

			growth := int64(after) - int64(before)
			peakGrowth := int64(peak) - int64(before)
			t.Logf("%s: %d requests and %d websocket sessions in %s, answers %v; heap in use %d MB before, peak +%d MB, after GC %+d MB",
				d, len(cases), ws, time.Since(start).Round(time.Millisecond), codes, before/mb, peakGrowth/mb, growth/mb)
			require.Less(t, peakGrowth, int64(maxHeapPeakGrowth), "peak heap growth")
			require.Less(t, growth, int64(maxHeapRetainedGrowth), "heap retained after the sweep")
		})
	}
}

// hostileWebsocket opens graphql-transport-ws sessions that misbehave:
// garbage frames, binary frames, invalid JSON, a subscribe before
// connection_init, an unknown message type, a 2 MB frame, a bad token.
// Each session must end (closed by the server) or be refused, without a
// server error; it returns how many sessions were tried.
func hostileWebsocket(t *testing.T, s *testserver.Server, token string) int {
	t.Helper()
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/graphql"
	initMsg, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + token}})
	type frame struct {
		typ  websocket.MessageType
		data []byte
	}
	type session struct {
		name   string
		frames []frame
		// closes: the server must end the session itself.
		closes bool
		// refused: at least this many subscribe messages must be answered
		// with a RATE_LIMITED error.
		refused int
	}
	var sessions []session
	add := func(name string, closes bool, refused int, frames ...any) {
		sess := session{name: name, closes: closes, refused: refused}
		for _, f := range frames {
			switch f := f.(type) {
			case string:
				sess.frames = append(sess.frames, frame{websocket.MessageText, []byte(f)})
			case []byte:
				sess.frames = append(sess.frames, frame{websocket.MessageBinary, f})
			}
		}
		sessions = append(sessions, sess)
	}
	subscribe := func(id string) string {
		return `{"id":"` + id + `","type":"subscribe","payload":{"query":"subscription { conversionEvents { id } }"}}`
	}
	add("garbage text", true, 0, "\x00\xff not json")
	add("binary frame", true, 0, []byte{0, 1, 2, 0xff})
	add("invalid UTF-8 text", true, 0, "\xc3\x28\xa0\xa1")
	add("subscribe before init", true, 0, subscribe("1"))
	add("unknown type", true, 0, string(initMsg), `{"type":"explode"}`)
	add("init twice", true, 0, string(initMsg), string(initMsg))
	add("bad token", true, 0, `{"type":"connection_init","payload":{"Authorization":"Bearer \u0000garbage"}}`)
	add("2 MB frame", true, 0, string(initMsg), `{"id":"1","type":"subscribe","payload":{"query":"`+strings.Repeat("x", 2*mb)+`"}}`)
	add("subscribe with a broken query", false, 0, string(initMsg), `{"id":"1","type":"subscribe","payload":{"query":"subscription { conversionEvents { "}}`)
	add("subscribe without an id", false, 0, string(initMsg), `{"type":"subscribe","payload":{"query":"subscription { conversionEvents { id } }"}}`)
	many := []any{string(initMsg)}
	for i := range tenK {
		many = append(many, subscribe(fmt.Sprint(i)))
	}
	add("10,000 subscriptions", false, tenK-eventlog.MaxSubscribersPerAccount, many...)
	add("deep subscription", false, 0, string(initMsg), `{"id":"1","type":"subscribe","payload":{"query":"subscription { conversionEvents `+
		strings.Repeat(`{ integration { conversions { edges { node `, 50)+"{ id }"+strings.Repeat(" } } } }", 50)+` }"}}`)

	for _, sess := range sessions {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		require.NoError(t, err, sess.name)
		conn.SetReadLimit(4 * mb)
		for _, f := range sess.frames {
			if err := conn.Write(ctx, f.typ, f.data); err != nil {
				break // closed by the server already
			}
		}
		// Read until the server closes, or the session is quiet for 2 s.
		rateLimited := 0
		var status websocket.StatusCode
		for {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			_, m, err := conn.Read(rctx)
			rcancel()
			if err != nil {
				status = websocket.CloseStatus(err)
				break
			}
			if bytes.Contains(m, []byte(`"RATE_LIMITED"`)) {
				rateLimited++
			}
		}
		conn.CloseNow()
		cancel()
		if sess.closes {
			require.NotEqual(t, websocket.StatusCode(-1), status, "%s: the server left the session open", sess.name)
		}
		require.GreaterOrEqual(t, rateLimited, sess.refused, "%s: subscriptions past the limit", sess.name)
	}
	// A plain GET of the websocket path without an upgrade is a 4xx too.
	a := send(t, "GET", s.URL+"/graphql", "", "")
	require.True(t, is4xx(a.Code), "GET /graphql without a query: %d %s", a.Code, a.Body)
	return len(sessions)
}
