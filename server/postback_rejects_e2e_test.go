package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// TestPostbackRejections: every way of calling an integration's postback
// URL without its secret — wrong, missing, empty, truncated, extended,
// upper-cased, the secret of another integration of the account or of
// another account, the secret in the body instead of the URL — and from an
// address outside its IP allowlist (forwarded headers are not believed) is
// refused, stored nowhere, and counted on that integration only, where
// its tenant sees the count and the time of the last one.
func TestPostbackRejections(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := newTeam(t, s, "acme")
		b := s.Signup(t, "globex")
		x := createIntegration(t, s, a.Token, map[string]any{"name": "x", "clickIDMacro": "{c}"})
		y := createIntegration(t, s, a.Token, map[string]any{"name": "y", "clickIDMacro": "{c}"})
		z := createIntegration(t, s, b.Token, map[string]any{"name": "x", "clickIDMacro": "{c}"})
		secretX, secretY, secretZ := secretOf(t, x.PostbackURL), secretOf(t, y.PostbackURL), secretOf(t, z.PostbackURL)
		good := fill(s, x.PostbackURL, map[string]string{"{c}": "clk-1"})
		with := func(secret string) string { return strings.Replace(good, "secret="+secretX, "secret="+secret, 1) }

		refused := []struct {
			name, method, url, contentType, body string
			code                                 int
		}{
			{"wrong last character", "GET", with(secretX[:len(secretX)-1] + flip(secretX[len(secretX)-1])), "", "", http.StatusUnauthorized},
			{"wrong first character", "GET", with(flip(secretX[0]) + secretX[1:]), "", "", http.StatusUnauthorized},
			{"missing", "GET", strings.Replace(good, "&secret="+secretX, "", 1), "", "", http.StatusUnauthorized},
			{"empty", "GET", with(""), "", "", http.StatusUnauthorized},
			{"truncated", "GET", with(secretX[:len(secretX)/2]), "", "", http.StatusUnauthorized},
			{"extended", "GET", with(secretX + "A"), "", "", http.StatusUnauthorized},
			{"upper-cased", "GET", with(strings.ToUpper(secretX)), "", "", http.StatusUnauthorized},
			{"another integration's", "GET", with(secretY), "", "", http.StatusUnauthorized},
			{"another account's", "GET", with(secretZ), "", "", http.StatusUnauthorized},
			{"a wrong one first", "GET", strings.Replace(good, "secret="+secretX, "secret=nope&secret="+secretX, 1), "", "", http.StatusUnauthorized},
			{"in the body only", "POST", strings.Replace(good, "&secret="+secretX, "", 1), "application/x-www-form-urlencoded", "secret=" + secretX, http.StatusUnauthorized},
			{"in a JSON body only", "POST", strings.Replace(good, "&secret="+secretX, "", 1), "application/json", `{"secret":"` + secretX + `"}`, http.StatusUnauthorized},
		}
		for _, r := range refused {
			got := send(t, r.method, r.url, r.contentType, r.body)
			require.Equal(t, r.code, got.Code, "%s: %s", r.name, got.Body)
		}

		// The IP allowlist: the test client is 127.0.0.1, whatever it claims.
		update := func(allow []string) {
			s.GraphQL(t, a.Token, `mutation($id: ID!, $in: UpdateIntegrationInput!) { updateIntegration(id: $id, input: $in) { id } }`,
				map[string]any{"id": x.ID, "in": map[string]any{"ipAllowlist": allow}}).Decode(t, &struct{}{})
		}
		update([]string{"203.0.113.0/24"})
		blocked := 0
		for _, h := range []map[string]string{nil, {"X-Forwarded-For": "203.0.113.5"}, {"X-Real-Ip": "203.0.113.5", "Forwarded": "for=203.0.113.5"}} {
			resp, body := do(t, "GET", good, "", h)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%v: %s", h, body)
			blocked++
		}
		update([]string{})

		want := len(refused) + blocked
		health := func(token, id string) testIntegration {
			var out struct{ Node *testIntegration }
			s.GraphQL(t, token, `query($id: ID!) { node(id: $id) { ... on Integration { `+integrationFields+` } } }`, map[string]any{"id": id}).Decode(t, &out)
			require.NotNil(t, out.Node)
			return *out.Node
		}
		deadline := time.Now().Add(15 * time.Second)
		for health(a.Token, x.ID).RejectedCalls < want {
			require.True(t, time.Now().Before(deadline), "rejectedCalls = %d, want %d", health(a.Token, x.ID).RejectedCalls, want)
			time.Sleep(50 * time.Millisecond)
		}
		// Counted once each, on x only; the count is the tenant's to see,
		// every role of it.
		for _, token := range []string{a.Token, a.Admin, a.Viewer, a.Key} {
			hx := health(token, x.ID)
			require.Equal(t, want, hx.RejectedCalls)
			require.NotNil(t, hx.LastRejectedAt)
			require.WithinDuration(t, time.Now(), *hx.LastRejectedAt, time.Minute)
		}
		require.Zero(t, health(a.Token, y.ID).RejectedCalls)
		require.Zero(t, health(b.Token, z.ID).RejectedCalls)
		// Nothing refused was stored, in either account.
		require.Empty(t, eventsLog(t, s, a.Token, nil))
		require.Empty(t, eventsLog(t, s, b.Token, nil))

		// The right secret still works, and is not counted.
		require.Equal(t, http.StatusOK, send(t, "GET", good, "", "").Code)
		require.Len(t, eventsLog(t, s, a.Token, nil), 1)
		time.Sleep(1500 * time.Millisecond) // past the count's flush delay
		require.Equal(t, want, health(a.Token, x.ID).RejectedCalls)

		logs := s.LogText()
		for _, secret := range []string{secretX, secretY, secretZ} {
			require.NotContains(t, logs, secret)
		}
	})
}

// flip returns another URL-safe base64 character than c.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
