package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/viewer"
)

type testIntegration struct {
	ID, Slug, PostbackURL, Network string
	RejectedCalls                  int
	LastRejectedAt                 *time.Time
	ClickIDMacro, PayoutMacro      string
}

const integrationFields = `id slug postbackURL network rejectedCalls lastRejectedAt clickIDMacro payoutMacro`

func createIntegration(t *testing.T, s *testserver.Server, token string, in map[string]any) testIntegration {
	t.Helper()
	var out struct{ CreateIntegration testIntegration }
	s.GraphQL(t, token, `mutation($in: CreateIntegrationInput!) { createIntegration(input: $in) { `+integrationFields+` } }`,
		map[string]any{"in": in}).Decode(t, &out)
	return out.CreateIntegration
}

// fill replaces the macros of a postback URL with values, as a network
// does, and points it at the test server.
func fill(s *testserver.Server, postbackURL string, values map[string]string) string {
	u := strings.Replace(postbackURL, s.Config.PublicURL, s.URL, 1)
	for macro, v := range values {
		u = strings.ReplaceAll(u, macro, url.QueryEscape(v))
	}
	return u
}

type answer struct {
	Code int
	Body string
}

func send(t *testing.T, method, u, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

type logEntry struct {
	ID, Status, Kind, EventName, Currency, ClickID, TransactionID, Reason, RawRequest, AmountDecimal string
	Amount                                                                                           float64
	Test                                                                                             bool
	Click                                                                                            *struct{ ClickID string }
	Attribution                                                                                      []struct{ Name, Value string }
}

func eventsLog(t *testing.T, s *testserver.Server, token string, where map[string]any) []logEntry {
	t.Helper()
	var out struct {
		Conversions struct {
			TotalCount int
			Edges      []struct{ Node logEntry }
		}
	}
	s.GraphQL(t, token, `query($w: ConversionWhereInput) { conversions(first: 100, where: $w) { totalCount edges { node {
		id status kind eventName amount amountDecimal currency clickID transactionID reason rawRequest test
		click { clickID } attribution { name value } } } } }`, map[string]any{"w": where}).Decode(t, &out)
	var list []logEntry
	for _, e := range out.Conversions.Edges {
		list = append(list, e.Node)
	}
	require.Equal(t, out.Conversions.TotalCount, len(list))
	return list
}

// waitFor polls the Events Log until ok accepts it or the deadline passes.
func waitFor(t *testing.T, s *testserver.Server, token string, where map[string]any, ok func([]logEntry) bool) []logEntry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := eventsLog(t, s, token, where)
		if ok(list) {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("events log never reached the expected state: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func secretOf(t *testing.T, postbackURL string) string {
	t.Helper()
	u, err := url.Parse(postbackURL)
	require.NoError(t, err)
	secret := u.Query().Get("secret")
	require.GreaterOrEqual(t, len(secret), 22, "at least 128 bits")
	return secret
}

// TestCollectEndToEnd: a custom integration and a preset one, their
// postback URLs pasted into a "network" that calls them by GET, form POST
// and JSON POST; the Events Log shows what arrived.
func TestCollectEndToEnd(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "acme")

		custom := createIntegration(t, s, a.Token, map[string]any{
			"name": "My Network!", "clickIDMacro": "{clickid}", "payoutMacro": "{payout}",
			"transactionIDMacro": "{txid}", "currencyMacro": "{cur}",
		})
		require.Equal(t, "my-network", custom.Slug)
		require.Equal(t, "CUSTOM", custom.Network)
		secret := secretOf(t, custom.PostbackURL)
		require.Equal(t, fmt.Sprintf("%s/%s/collect/my-network?click_id={clickid}&amount={payout}&transaction_id={txid}&currency={cur}&secret=%s",
			s.Config.PublicURL, a.Key, secret), custom.PostbackURL)

		// The same name again gets a suffixed slug.
		again := createIntegration(t, s, a.Token, map[string]any{"name": "My network"})
		require.Equal(t, "my-network-2", again.Slug)

		get := send(t, http.MethodGet, fill(s, custom.PostbackURL, map[string]string{
			"{clickid}": "clk-get", "{payout}": "32,50", "{txid}": "T-1", "{cur}": "eur"}), "", "")
		require.Equal(t, http.StatusOK, get.Code, get.Body)
		require.Contains(t, get.Body, `"status":"RECEIVED"`)

		base := strings.Replace(custom.PostbackURL, s.Config.PublicURL, s.URL, 1)
		base = base[:strings.IndexByte(base, '?')] + "?secret=" + secret
		form := send(t, http.MethodPost, base, "application/x-www-form-urlencoded", "clickid=clk-form&payout=0&txid=T-2")
		require.Equal(t, http.StatusOK, form.Code, form.Body)
		js := send(t, http.MethodPost, base, "application/json", `{"Click-ID":"clk-json","revenue":"$1,234.56","event":"Sale","transaction_id":"T-3","currency":"USD","email":"Jo@Example.com"}`)
		require.Equal(t, http.StatusOK, js.Code, js.Body)

		list := eventsLog(t, s, a.Token, map[string]any{"integrationID": custom.ID})
		require.Len(t, list, 3)
		// Newest first.
		require.Equal(t, "clk-json", list[0].ClickID)
		byClick := map[string]logEntry{}
		for _, e := range list {
			byClick[e.ClickID] = e
			require.NotContains(t, e.RawRequest, secret)
			require.Contains(t, e.RawRequest, "REDACTED")
			require.False(t, e.Test)
		}
		g := byClick["clk-get"]
		require.Equal(t, "PURCHASE", g.Kind)
		require.Equal(t, "Purchase", g.EventName)
		require.Equal(t, 32.5, g.Amount)
		require.Equal(t, "32.5", g.AmountDecimal)
		require.Equal(t, "EUR", g.Currency)
		require.Equal(t, "T-1", g.TransactionID)
		f := byClick["clk-form"]
		require.Equal(t, "LEAD", f.Kind)
		require.Equal(t, "Lead", f.EventName)
		require.Equal(t, "USD", f.Currency, "the account's currency by default")
		j := byClick["clk-json"]
		require.Equal(t, "Sale", j.EventName)
		require.Equal(t, 1234.56, j.Amount)
		for _, e := range list {
			require.Contains(t, []string{"RECEIVED", "NO_MATCH"}, e.Status)
		}

		// Filters of the Events Log.
		require.Len(t, eventsLog(t, s, a.Token, map[string]any{"kind": "LEAD"}), 1)
		require.Len(t, eventsLog(t, s, a.Token, map[string]any{"transactionID": "T-3"}), 1)
		require.Len(t, eventsLog(t, s, a.Token, map[string]any{"clickID": "clk-get"}), 1)
		require.Len(t, eventsLog(t, s, a.Token, map[string]any{"receivedAtGTE": time.Now().Add(-time.Hour).Format(time.RFC3339)}), 3)
		require.Empty(t, eventsLog(t, s, a.Token, map[string]any{"receivedAtGT": time.Now().Add(time.Hour).Format(time.RFC3339)}))

		// A preset: its macros are filled in and TUNE gets its success body.
		tune := createIntegration(t, s, a.Token, map[string]any{"name": "TUNE", "network": "TUNE"})
		require.Equal(t, "{aff_sub}", tune.ClickIDMacro)
		require.Contains(t, tune.PostbackURL, "click_id={aff_sub}")
		require.Contains(t, tune.PostbackURL, "transaction_id={transaction_id}")
		ok := send(t, http.MethodGet, fill(s, tune.PostbackURL, map[string]string{
			"{aff_sub}": "clk-tune", "{payout}": "2.00", "{transaction_id}": "tx9", "{currency}": "USD"}), "", "")
		require.Equal(t, answer{http.StatusOK, "success=true;"}, ok)

		// The catalog lists the presets with their macros.
		var cat struct {
			NetworkCatalog []struct {
				Network, Name, LinkParam, SuccessBody string
				Macros                                []struct{ Field, Macro string }
			}
		}
		s.GraphQL(t, a.Token, `{ networkCatalog { network name linkParam successBody macros { field macro } } }`, nil).Decode(t, &cat)
		require.Equal(t, "CUSTOM", cat.NetworkCatalog[0].Network)
		found := false
		for _, p := range cat.NetworkCatalog {
			if p.Network == "EVERFLOW" {
				found = true
				require.Equal(t, "sub1", p.LinkParam)
				require.Contains(t, p.Macros, struct{ Field, Macro string }{"click_id", "{sub1}"})
			}
		}
		require.True(t, found)

		// Updating the macros changes the URL at once.
		var up struct{ UpdateIntegration testIntegration }
		s.GraphQL(t, a.Token, `mutation($id: ID!) { updateIntegration(id: $id, input: {clickIDMacro: "{sub1}", paramMappings: [{name: "sub9", field: "amount"}]}) { `+integrationFields+` } }`,
			map[string]any{"id": custom.ID}).Decode(t, &up)
		require.Contains(t, up.UpdateIntegration.PostbackURL, "click_id={sub1}")
		mapped := send(t, http.MethodGet, base+"&click_id=clk-mapped&sub9=7", "", "")
		require.Equal(t, http.StatusOK, mapped.Code, mapped.Body)
		require.Equal(t, 7.0, eventsLog(t, s, a.Token, map[string]any{"clickID": "clk-mapped"})[0].Amount)
		bad := s.GraphQL(t, a.Token, `mutation($id: ID!) { updateIntegration(id: $id, input: {paramMappings: [{name: "x", field: "nope"}], ipAllowlist: ["not an ip"]}) { id } }`,
			map[string]any{"id": custom.ID})
		require.Equal(t, "BAD_USER_INPUT", bad.Code())
	})
}

// TestCollectDuplicates: 50 copies of one postback at once make exactly one
// conversion and 49 DUPLICATEs, all answered 200; a blank transaction id
// never collapses distinct conversions.
func TestCollectDuplicates(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "dups")
		in := createIntegration(t, s, a.Token, map[string]any{"name": "n", "clickIDMacro": "{c}", "transactionIDMacro": "{t}", "payoutMacro": "{p}"})
		u := fill(s, in.PostbackURL, map[string]string{"{c}": "clk-1", "{t}": "TX-SAME", "{p}": "5"})
		var wg sync.WaitGroup
		codes := make([]int, 50)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(u)
				if err == nil {
					codes[i] = resp.StatusCode
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		for _, c := range codes {
			require.Equal(t, http.StatusOK, c)
		}
		list := eventsLog(t, s, a.Token, map[string]any{"transactionID": "TX-SAME"})
		require.Len(t, list, 50)
		dups := 0
		for _, e := range list {
			if e.Status == "DUPLICATE" {
				dups++
				require.Contains(t, e.Reason, "already received")
			}
		}
		require.Equal(t, 49, dups)

		blank := fill(s, in.PostbackURL, map[string]string{"{c}": "clk-2", "{t}": "", "{p}": "5"})
		for range 2 {
			require.Equal(t, http.StatusOK, send(t, http.MethodGet, blank, "", "").Code)
		}
		list = eventsLog(t, s, a.Token, map[string]any{"clickID": "clk-2"})
		require.Len(t, list, 2)
		for _, e := range list {
			require.NotEqual(t, "DUPLICATE", e.Status)
		}
	})
}

// TestCollectBadInput: unusable postbacks are answered 4xx with the reason
// and stored all the same, with their raw request.
func TestCollectBadInput(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "bad")
		in := createIntegration(t, s, a.Token, map[string]any{"name": "n", "clickIDMacro": "{c}", "payoutMacro": "{p}", "currencyMacro": "{cur}"})
		secret := secretOf(t, in.PostbackURL)
		base := fmt.Sprintf("%s/%s/collect/%s?secret=%s", s.URL, a.Key, in.Slug, secret)
		many := strings.Repeat("a=1&", 10_000)
		cases := []struct {
			name, method, query, contentType, body string
			code                                   int
			status, reason                         string
		}{
			{"missing click id", "GET", "&p=3", "", "", 400, "MISSING_CLICK_ID", "click"},
			{"unsubstituted macro", "GET", "&click_id={clickid}&p=3", "", "", 400, "MISSING_CLICK_ID", "click"},
			{"tag placeholder", "GET", "&click_id=--CLICK-ID--", "", "", 400, "MISSING_CLICK_ID", "click"},
			{"bad amount", "GET", "&click_id=c1&amount=12,3,4", "", "", 400, "INVALID", "amount"},
			{"bad currency", "GET", "&click_id=c2&amount=1&currency=XYZ", "", "", 400, "INVALID", "currency"},
			{"too many params", "POST", "", "application/x-www-form-urlencoded", many, 400, "INVALID", "too many parameters"},
			{"binary garbage", "POST", "", "application/octet-stream", "\x00\xff\xfe\x01garbage", 415, "INVALID", "content type"},
			{"invalid utf-8", "GET", "&click_id=%ff%fe", "", "", 400, "INVALID", "UTF-8"},
			{"huge value", "GET", "&click_id=" + strings.Repeat("x", 5000), "", "", 400, "INVALID", "too long"},
			{"oversized body", "POST", "", "application/x-www-form-urlencoded", "click_id=c3&x=" + strings.Repeat("y", 100<<10), 413, "INVALID", "too large"},
			{"invalid json", "POST", "", "application/json", `{"click_id": "c4"`, 400, "INVALID", "JSON"},
		}
		for _, tc := range cases {
			got := send(t, tc.method, base+tc.query, tc.contentType, tc.body)
			require.Equal(t, tc.code, got.Code, "%s: %s", tc.name, got.Body)
			require.Contains(t, got.Body, tc.status, tc.name)
		}
		list := eventsLog(t, s, a.Token, map[string]any{"statusIn": []string{"INVALID", "MISSING_CLICK_ID"}})
		require.Len(t, list, len(cases))
		for i, e := range list {
			tc := cases[len(cases)-1-i] // newest first
			require.Equal(t, tc.status, e.Status, tc.name)
			require.Contains(t, e.Reason, tc.reason, tc.name)
			require.NotEmpty(t, e.RawRequest, tc.name)
			require.NotContains(t, e.RawRequest, secret, tc.name)
			require.Less(t, len(e.RawRequest), 16<<10, tc.name)
		}
		require.Contains(t, list[1].RawRequest, `"truncated":true`, "the oversized body")
	})
}

// TestCollectRejections: wrong or missing secrets, unknown accounts and
// integrations, disabled integrations and addresses off the allowlist are
// refused, counted on the integration, and never stored.
func TestCollectRejections(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "rej")
		in := createIntegration(t, s, a.Token, map[string]any{"name": "n", "clickIDMacro": "{c}"})
		secret := secretOf(t, in.PostbackURL)
		good := fill(s, in.PostbackURL, map[string]string{"{c}": "clk-1"})
		require.Equal(t, http.StatusOK, send(t, "GET", good, "", "").Code)

		wrong := strings.Replace(good, secret, secret[:len(secret)-1]+flip(secret[len(secret)-1]), 1)
		require.Equal(t, http.StatusUnauthorized, send(t, "GET", wrong, "", "").Code)
		none := strings.Replace(good, "&secret="+secret, "", 1)
		require.Equal(t, http.StatusUnauthorized, send(t, "GET", none, "", "").Code)
		require.Equal(t, http.StatusNotFound, send(t, "GET", strings.Replace(good, a.Key, "nokey", 1), "", "").Code)
		require.Equal(t, http.StatusNotFound, send(t, "GET", strings.Replace(good, "/"+in.Slug+"?", "/other?", 1), "", "").Code)
		require.Len(t, eventsLog(t, s, a.Token, nil), 1, "refused postbacks are not stored")
		require.NotContains(t, s.LogText(), secret, "secrets never reach the logs")

		// The two wrong-secret calls are counted, in a batch.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var out struct{ Node testIntegration }
			s.GraphQL(t, a.Token, `query($id: ID!) { node(id: $id) { ... on Integration { `+integrationFields+` } } }`, map[string]any{"id": in.ID}).Decode(t, &out)
			if out.Node.RejectedCalls == 2 {
				require.NotNil(t, out.Node.LastRejectedAt)
				break
			}
			require.True(t, time.Now().Before(deadline), "rejectedCalls = %d", out.Node.RejectedCalls)
			time.Sleep(50 * time.Millisecond)
		}

		// Rotation: the new secret works, and the old one for the grace period.
		var rot struct {
			RotateIntegrationSecret struct {
				PostbackURL             string
				PreviousSecretExpiresAt time.Time
			}
		}
		s.GraphQL(t, a.Token, `mutation($id: ID!) { rotateIntegrationSecret(id: $id) { postbackURL previousSecretExpiresAt } }`, map[string]any{"id": in.ID}).Decode(t, &rot)
		newSecret := secretOf(t, rot.RotateIntegrationSecret.PostbackURL)
		require.NotEqual(t, secret, newSecret)
		require.WithinDuration(t, time.Now().Add(7*24*time.Hour), rot.RotateIntegrationSecret.PreviousSecretExpiresAt, time.Minute)
		require.Equal(t, http.StatusOK, send(t, "GET", fill(s, rot.RotateIntegrationSecret.PostbackURL, map[string]string{"{c}": "clk-2"}), "", "").Code)
		require.Equal(t, http.StatusOK, send(t, "GET", good, "", "").Code)
		// A second rotation ends the first secret's grace at once.
		s.GraphQL(t, a.Token, `mutation($id: ID!) { rotateIntegrationSecret(id: $id) { id } }`, map[string]any{"id": in.ID}).Decode(t, &struct{}{})
		require.Equal(t, http.StatusUnauthorized, send(t, "GET", good, "", "").Code)
		newest := fill(s, rot.RotateIntegrationSecret.PostbackURL, map[string]string{"{c}": "clk-3"})
		require.Equal(t, http.StatusOK, send(t, "GET", newest, "", "").Code)

		// IP allowlist: the test client is 127.0.0.1.
		update := func(input string) {
			s.GraphQL(t, a.Token, `mutation($id: ID!) { updateIntegration(id: $id, input: `+input+`) { id } }`, map[string]any{"id": in.ID}).Decode(t, &struct{}{})
		}
		update(`{ipAllowlist: ["203.0.113.0/24", "2001:db8::1"]}`)
		require.Equal(t, http.StatusForbidden, send(t, "GET", newest, "", "").Code)
		update(`{ipAllowlist: ["203.0.113.0/24", "127.0.0.0/8"]}`)
		require.Equal(t, http.StatusOK, send(t, "GET", newest, "", "").Code)
		update(`{enabled: false}`)
		require.Equal(t, http.StatusForbidden, send(t, "GET", newest, "", "").Code)
	})
}

// TestCollectMatch: a postback whose Click ID was recorded is MATCHED with
// the click's attribution; one without becomes NO_MATCH once the late
// click wait (1s in tests) has passed.
func TestCollectMatch(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "match")
		prop, _ := createProperty(t, s, a.Token, "shop")
		ctx := viewer.SystemContext(context.Background(), a.AccountID)
		_, err := s.DB.Ent.Click.Create().SetAccountID(a.AccountID).SetPropertyID(prop).
			SetClickID("clk-known").SetUtmSource("google").SetGclid("g-123").
			SetLandingPage("https://shop.example.com/offer").Save(ctx)
		require.NoError(t, err)
		in := createIntegration(t, s, a.Token, map[string]any{"name": "n", "clickIDMacro": "{c}", "transactionIDMacro": "{t}"})
		require.Equal(t, http.StatusOK, send(t, "GET", fill(s, in.PostbackURL, map[string]string{"{c}": "clk-known", "{t}": "1"}), "", "").Code)
		require.Equal(t, http.StatusOK, send(t, "GET", fill(s, in.PostbackURL, map[string]string{"{c}": "clk-unknown", "{t}": "2"}), "", "").Code)

		m := waitFor(t, s, a.Token, map[string]any{"clickID": "clk-known"}, func(l []logEntry) bool { return l[0].Status == "MATCHED" })[0]
		require.NotNil(t, m.Click)
		require.Equal(t, "clk-known", m.Click.ClickID)
		attr := map[string]string{}
		for _, nv := range m.Attribution {
			attr[nv.Name] = nv.Value
		}
		require.Equal(t, "google", attr["utm_source"])
		require.Equal(t, "g-123", attr["gclid"])
		require.Equal(t, "https://shop.example.com/offer", attr["landing_page"])
		require.NotEmpty(t, attr["clicked_at"])

		n := waitFor(t, s, a.Token, map[string]any{"clickID": "clk-unknown"}, func(l []logEntry) bool { return l[0].Status == "NO_MATCH" })[0]
		require.Nil(t, n.Click)
		require.Contains(t, n.Reason, "clk-unknown")
	})
}

// TestSendTestPostback: a test conversion goes through the real path and is
// marked test; a VIEWER may not send one.
func TestSendTestPostback(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "tester")
		in := createIntegration(t, s, a.Token, map[string]any{"name": "n", "network": "EVERFLOW"})
		var out struct {
			SendTestPostback logEntry
		}
		s.GraphQL(t, a.Token, `mutation($id: ID!) { sendTestPostback(integrationID: $id) { id status kind amount currency clickID test rawRequest } }`,
			map[string]any{"id": in.ID}).Decode(t, &out)
		c := out.SendTestPostback
		require.True(t, c.Test)
		require.Equal(t, "RECEIVED", c.Status)
		require.Equal(t, "PURCHASE", c.Kind)
		require.Equal(t, 1.0, c.Amount)
		require.True(t, strings.HasPrefix(c.ClickID, "test-"))
		waitFor(t, s, a.Token, map[string]any{"test": true}, func(l []logEntry) bool { return len(l) == 1 && l[0].Status == "NO_MATCH" })

		var key struct{ CreateAPIKey struct{ Key string } }
		s.GraphQL(t, a.Token, `mutation { createAPIKey(input: {name: "ro", role: VIEWER}) { key } }`, nil).Decode(t, &key)
		r := s.GraphQL(t, key.CreateAPIKey.Key, `mutation($id: ID!) { sendTestPostback(integrationID: $id) { id } }`, map[string]any{"id": in.ID})
		require.Equal(t, "FORBIDDEN", r.Code())
		r = s.GraphQL(t, key.CreateAPIKey.Key, `mutation { createIntegration(input: {name: "x"}) { id } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())
	})
}

// TestCollectTenantIsolation: account B can neither see nor change A's
// integrations and conversions, nor post into A's account with its own slug.
func TestCollectTenantIsolation(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "alpha")
		b := s.Signup(t, "bravo")
		ia := createIntegration(t, s, a.Token, map[string]any{"name": "same", "clickIDMacro": "{c}"})
		ib := createIntegration(t, s, b.Token, map[string]any{"name": "same", "clickIDMacro": "{c}"})
		require.Equal(t, ia.Slug, ib.Slug, "slugs are per account")
		require.Equal(t, http.StatusOK, send(t, "GET", fill(s, ia.PostbackURL, map[string]string{"{c}": "a1"}), "", "").Code)

		// B's secret on A's URL is refused.
		crossed := strings.Replace(fill(s, ia.PostbackURL, map[string]string{"{c}": "x"}), secretOf(t, ia.PostbackURL), secretOf(t, ib.PostbackURL), 1)
		require.Equal(t, http.StatusUnauthorized, send(t, "GET", crossed, "", "").Code)

		var lists struct {
			Integrations struct{ TotalCount int }
			Conversions  struct{ TotalCount int }
		}
		s.GraphQL(t, b.Token, `{ integrations { totalCount } conversions { totalCount } }`, nil).Decode(t, &lists)
		require.Equal(t, 1, lists.Integrations.TotalCount)
		require.Zero(t, lists.Conversions.TotalCount)
		convA := eventsLog(t, s, a.Token, nil)[0].ID
		for _, q := range []string{
			`mutation($id: ID!) { updateIntegration(id: $id, input: {name: "pwned"}) { id } }`,
			`mutation($id: ID!) { deleteIntegration(id: $id) }`,
			`mutation($id: ID!) { rotateIntegrationSecret(id: $id) { id } }`,
			`mutation($id: ID!) { sendTestPostback(integrationID: $id) { id } }`,
		} {
			r := s.GraphQL(t, b.Token, q, map[string]any{"id": ia.ID})
			require.Contains(t, []string{"NOT_FOUND", "FORBIDDEN"}, r.Code(), q)
		}
		var n struct{ Node *struct{ ID string } }
		r := s.GraphQL(t, b.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": convA})
		if r.Code() == "" {
			r.Decode(t, &n)
			require.Nil(t, n.Node)
		}
		// A's integration is unchanged, and deleting it takes its conversions.
		require.Len(t, eventsLog(t, s, a.Token, nil), 1)
		s.GraphQL(t, a.Token, `mutation($id: ID!) { deleteIntegration(id: $id) }`, map[string]any{"id": ia.ID}).Decode(t, &struct{}{})
		require.Empty(t, eventsLog(t, s, a.Token, nil))
		require.Equal(t, http.StatusNotFound, send(t, "GET", fill(s, ia.PostbackURL, map[string]string{"{c}": "a2"}), "", "").Code)
	})
}
