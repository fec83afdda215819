//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

// TestSecretsNeverLeak runs a whole flow on the real binary — signup,
// login, an API key, an integration, destinations with credentials, tag
// visits, postbacks (good, with a wrong secret, with none), forwarding —
// then looks for every secret it created in every log line and every
// GraphQL answer, and for the destination credentials in the raw database
// row.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	penv, fakes := platforms(t)
	dir := t.TempDir()
	s, _ := newStore(t, "sqlite", dir)
	n := newNode(t, append(append([]string{"CLICKBACK_DATA_DIR=" + dir, "CLICKBACK_LOG_LEVEL=debug"}, penv...), jobEnv...)...)
	n.start()

	var answers []string // every GraphQL answer, with the operation that got it
	call := func(token, query string, vars map[string]any) json.RawMessage {
		t.Helper()
		data, errs := gqlRaw(t, n.url, token, query, vars)
		e, _ := json.Marshal(errs)
		answers = append(answers, query+"\n"+string(data)+"\n"+string(e))
		return data
	}
	// strict is call for operations that must succeed.
	strict := func(token, query string, vars map[string]any) json.RawMessage {
		t.Helper()
		data := call(token, query, vars)
		require.NotContains(t, answers[len(answers)-1], `"message"`, "the operation failed")
		return data
	}
	decode := func(raw json.RawMessage, out any) { require.NoError(t, json.Unmarshal(raw, out), "%s", raw) }

	const password = "Tr0ub4dor&3-very-secret-password"
	metaToken, tiktokToken := "EAAB-leak-test-meta-token-7f3a9c", "leak-test-tiktok-token-41d2e8"
	var su struct{ Signup struct{ Token string } }
	decode(call("", `mutation($in: SignupInput!) { signup(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": "owner@example.com", "password": password, "accountName": "Acme"}}), &su)
	jwt := su.Signup.Token
	require.NotEmpty(t, jwt)
	var li struct{ Login struct{ Token string } }
	decode(call("", `mutation($in: LoginInput!) { login(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": "owner@example.com", "password": password}}), &li)
	call("", `mutation($in: LoginInput!) { login(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": "owner@example.com", "password": password + "x"}})
	var key struct{ CreateAPIKey struct{ Key string } }
	decode(call(jwt, `mutation { createAPIKey(input: {name: "ci", role: ADMIN}) { key } }`, nil), &key)
	apiKey := key.CreateAPIKey.Key
	require.NotEmpty(t, apiKey)

	var it struct {
		CreateIntegration struct{ ID, PostbackURL string }
	}
	decode(call(apiKey, `mutation($in: CreateIntegrationInput!) { createIntegration(input: $in) { id postbackURL } }`,
		map[string]any{"in": map[string]any{"name": "Network", "clickIDMacro": "{click_id}", "transactionIDMacro": "{transaction_id}", "payoutMacro": "{payout}"}}), &it)
	pu, err := url.Parse(it.CreateIntegration.PostbackURL)
	require.NoError(t, err)
	secret := pu.Query().Get(postback.SecretParam)
	require.NotEmpty(t, secret, "the postback URL carries the secret")
	var pr struct{ CreateProperty struct{ Key string } }
	decode(call(apiKey, `mutation { createProperty(input: {name: "shop"}) { key } }`, nil), &pr)
	for _, in := range []map[string]any{
		{"name": "Meta pixel", "kind": "META", "meta": map[string]any{"pixelID": "1234567890", "accessToken": metaToken}},
		{"name": "TikTok pixel", "kind": "TIKTOK", "tiktok": map[string]any{"pixelCode": "CLEAKPIXEL12", "accessToken": tiktokToken}},
	} {
		strict(jwt, `mutation($in: CreateDestinationInput!) { createDestination(input: $in) { id name kind meta { pixelID hasAccessToken } tiktok { pixelCode hasAccessToken } } }`, map[string]any{"in": in})
	}

	tr := newTraffic(tenant{PostbackURL: it.CreateIntegration.PostbackURL, TagURL: n.url + "/t/" + pr.CreateProperty.Key}, n.url)
	for i := range 5 {
		tr.visit(http.DefaultClient, int64(i))
	}
	require.Len(t, tr.pbAck, 5, "%v", tr.codes)
	// Refused postbacks: a wrong secret and none at all.
	wrong := strings.Replace(n.url+strings.NewReplacer("{click_id}", "x", "{transaction_id}", "y", "{payout}", "1").Replace(tr.postback), secret, "not-"+secret[4:], 1)
	code, _ := get(wrong)
	require.Equal(t, http.StatusUnauthorized, code)
	q := pu.Query()
	q.Del(postback.SecretParam)
	pu.RawQuery = q.Encode()
	code, _ = get(strings.NewReplacer("{click_id}", "x", "{transaction_id}", "z", "{payout}", "1").Replace(n.url + pu.Path + "?" + pu.RawQuery))
	require.Equal(t, http.StatusUnauthorized, code)

	waitJobsDone(t, s, 2*time.Minute)
	for kind, f := range fakes {
		require.Len(t, f.CountByEventID(), 5, "%s got the conversions: the credentials were used", kind)
	}
	// Read back everything a dashboard shows.
	for _, tok := range []string{jwt, li.Login.Token, apiKey} {
		strict(tok, `{ viewer { user { email } account { name } role } }`, nil)
		strict(tok, `{ destinations { edges { node { id name kind enabled meta { pixelID testEventCode hasAccessToken } tiktok { pixelCode hasAccessToken } eventMapping { event platformEvent } } } } }`, nil)
		strict(tok, `{ conversions(first: 50) { edges { node { id status rawRequest reason deliveries { status eventID lastError attemptLog { statusCode response error } } } } } }`, nil)
		strict(tok, `{ apiKeys { edges { node { id name role } } } }`, nil)
		strict(tok, `{ auditLogs(first: 100) { edges { node { action summary targetType } } } }`, nil)
		strict(tok, `{ integrations { edges { node { id rejectedCalls lastRejectedAt } } } }`, nil)
	}
	n.stop()

	jwtSecret, err := os.ReadFile(filepath.Join(dir, "jwt.secret"))
	require.NoError(t, err)
	encKey, err := os.ReadFile(filepath.Join(dir, "encryption.key"))
	require.NoError(t, err)
	secrets := map[string]string{
		"password": password, "session token": jwt, "login token": li.Login.Token, "API key": apiKey,
		"integration secret": secret, "Meta access token": metaToken, "TikTok access token": tiktokToken,
		"JWT secret": strings.TrimSpace(string(jwtSecret)), "encryption key": strings.TrimSpace(string(encKey)),
	}
	logs := n.logs.String()
	require.Contains(t, logs, "graphql", "the logs hold the requests")
	for name, v := range secrets {
		require.NotContains(t, logs, v, "the %s is in the logs", name)
	}
	for _, a := range answers {
		for name, v := range secrets {
			switch {
			case name == "session token" && strings.Contains(a, "signup("),
				name == "login token" && strings.Contains(a, "login("),
				name == "API key" && strings.Contains(a, "createAPIKey("),
				name == "integration secret" && strings.Contains(a, "postbackURL"):
				continue // shown once, by design
			}
			require.NotContains(t, a, v, "the %s is in a GraphQL answer:\n%s", name, a)
		}
	}
	db := s.open(t)
	defer db.Close()
	rows, err := db.SQL.QueryContext(context.Background(), `SELECT credentials, CAST(settings AS TEXT) FROM destinations`)
	require.NoError(t, err)
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var creds []byte
		var settings string
		require.NoError(t, rows.Scan(&creds, &settings))
		require.NotEmpty(t, creds, "credentials are stored, sealed")
		for _, v := range []string{metaToken, tiktokToken} {
			require.False(t, bytes.Contains(creds, []byte(v)), "a destination credential is readable in the database")
			require.NotContains(t, settings, v)
		}
		seen++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 2, seen, fmt.Sprint("both destinations read"))
}
