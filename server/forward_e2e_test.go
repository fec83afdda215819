package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// platforms are the four fake ad platforms a forwarding test points the
// server at.
type platforms struct {
	meta   *capitest.Meta
	ga4    *capitest.GA4
	oauth  *capitest.GoogleOAuth
	ads    *capitest.GoogleAds
	tiktok *capitest.TikTok
}

func startPlatforms(t *testing.T) platforms {
	oauth := capitest.NewGoogleOAuth(t)
	return platforms{
		meta:   capitest.NewMeta(t),
		ga4:    capitest.NewGA4(t),
		oauth:  oauth,
		ads:    capitest.NewGoogleAds(t, oauth),
		tiktok: capitest.NewTikTok(t),
	}
}

// option points the server at the fakes and makes delivery retries fast.
func (p platforms) option() testserver.Option {
	return func(c *config.Config) {
		c.Platforms = config.Platforms{
			MetaURL: p.meta.URL, GA4URL: p.ga4.URL, GoogleAdsURL: p.ads.URL,
			GoogleOAuthURL: p.oauth.URL, TikTokURL: p.tiktok.URL,
		}
		c.DeliveryRetryBase = 20 * time.Millisecond
	}
}

// The destinations' secrets: none may ever come back out.
var destinationSecrets = []string{
	"EAAB-meta-secret-access-token", "ga4-secret-api-value", "ads-secret-developer-token",
	"ads-secret-oauth-client", "ads-secret-refresh-token", "tiktok-secret-access-token",
}

var destinationInputs = map[string]map[string]any{
	"META": {"name": "Meta pixel", "kind": "META", "meta": map[string]any{"pixelID": "1234567890", "accessToken": "EAAB-meta-secret-access-token"}},
	"GA4":  {"name": "GA4 stream", "kind": "GA4", "ga4": map[string]any{"measurementID": "G-TEST1234", "apiSecret": "ga4-secret-api-value"}},
	"GOOGLE_ADS": {"name": "Google Ads", "kind": "GOOGLE_ADS", "googleAds": map[string]any{
		"customerID": "123-456-7890", "conversionActionID": "987654321", "developerToken": "ads-secret-developer-token",
		"clientID": "client-1.apps.googleusercontent.com", "clientSecret": "ads-secret-oauth-client", "refreshToken": "ads-secret-refresh-token",
	}},
	"TIKTOK": {"name": "TikTok pixel", "kind": "TIKTOK", "tiktok": map[string]any{"pixelCode": "CTESTPIXEL123", "accessToken": "tiktok-secret-access-token"}},
}

const destinationFields = `id name kind enabled
	meta { pixelID testEventCode hasAccessToken }
	ga4 { measurementID hasAPISecret }
	googleAds { customerID conversionActionID clientID loginCustomerID hasDeveloperToken hasClientSecret hasRefreshToken }
	tiktok { pixelCode testEventCode hasAccessToken }
	eventMapping { event platformEvent default }`

// createDestinations creates one destination of each kind and returns
// their ids by kind.
func createDestinations(t *testing.T, s *testserver.Server, token string, kinds ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, kind := range kinds {
		var out struct{ CreateDestination struct{ ID string } }
		r := s.GraphQL(t, token, `mutation($in: CreateDestinationInput!) { createDestination(input: $in) { `+destinationFields+` } }`,
			map[string]any{"in": destinationInputs[kind]})
		for _, secret := range destinationSecrets {
			require.NotContains(t, string(r.Data), secret)
		}
		r.Decode(t, &out)
		ids[kind] = out.CreateDestination.ID
	}
	return ids
}

// recordVisit sends the tag's PageView for clickID with the ad click ids of
// every platform, the way the tag does.
func recordVisit(t *testing.T, s *testserver.Server, propertyKey, clickID string) {
	t.Helper()
	body := `{"v":1,"events":[{"t":"pv","c":"` + clickID + `","u":"https://shop.example/offer?utm_source=ads",` +
		`"utm_source":"ads","gclid":"Cj0-gclid-` + clickID + `","fbclid":"IwAR-fbclid","ttclid":"E.C.P.ttclid","fbp":"fb.1.1596403881668.1116446470","ttp":"ttp-cookie-1"}]}`
	resp, _ := do(t, "POST", s.URL+"/t/"+propertyKey, body, map[string]string{
		"Origin": "https://shop.example", "Content-Type": "text/plain;charset=UTF-8",
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
	})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

// forwardIntegration is a custom integration with macros for every field
// the forwarding tests send.
func forwardIntegration(t *testing.T, s *testserver.Server, token string) testIntegration {
	return createIntegration(t, s, token, map[string]any{
		"name": "network", "clickIDMacro": "{c}", "payoutMacro": "{p}", "transactionIDMacro": "{t}",
		"statusMacro": "{s}", "eventMacro": "{e}",
		"attributeMacros": []map[string]any{{"field": "email", "macro": "{m}"}, {"field": "country", "macro": "{cc}"}},
	})
}

// postback calls the integration's postback URL as the network would;
// values left out are sent as the unsubstituted macros, which count as
// missing.
func postback(t *testing.T, s *testserver.Server, in testIntegration, values map[string]string) {
	t.Helper()
	a := send(t, "GET", fill(s, in.PostbackURL, values), "", "")
	require.Equal(t, http.StatusOK, a.Code, a.Body)
}

type deliveryView struct {
	ID, Status, EventID, EventName string
	Attempts                       int
	LastError                      *string
	Destination                    struct{ ID, Kind string }
	AttemptLog                     []struct {
		StatusCode int
		Response   string
		Error      *string
	}
}

type forwardedConversion struct {
	ID, Status, NetworkStatus string
	Deliveries                []deliveryView
}

// conversionByTx returns the first conversion of transaction tx with its
// deliveries.
func conversionByTx(t *testing.T, s *testserver.Server, token, tx string) forwardedConversion {
	t.Helper()
	var out struct {
		Conversions struct {
			Edges []struct{ Node forwardedConversion }
		}
	}
	r := s.GraphQL(t, token, `query($tx: String!) { conversions(first: 10, where: {transactionID: $tx}, orderBy: {field: RECEIVED_AT, direction: ASC}) { edges { node {
		id status networkStatus deliveries { id status eventID eventName attempts lastError destination { id kind } attemptLog { statusCode response error } } } } } }`,
		map[string]any{"tx": tx})
	r.Decode(t, &out)
	require.NotEmpty(t, out.Conversions.Edges, "no conversion with transaction id %s", tx)
	return out.Conversions.Edges[0].Node
}

// waitDeliveries polls the conversion of tx until ok accepts it.
func waitDeliveries(t *testing.T, s *testserver.Server, token, tx string, ok func(forwardedConversion) bool) forwardedConversion {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := conversionByTx(t, s, token, tx)
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("conversion %s never reached the expected state: %+v", tx, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allSettled(n int) func(forwardedConversion) bool {
	return func(c forwardedConversion) bool {
		if len(c.Deliveries) != n {
			return false
		}
		for _, d := range c.Deliveries {
			if d.Status == "PENDING" {
				return false
			}
		}
		return true
	}
}

func byKind(c forwardedConversion) map[string]deliveryView {
	out := map[string]deliveryView{}
	for _, d := range c.Deliveries {
		out[d.Destination.Kind] = d
	}
	return out
}

var allKinds = []string{"META", "GA4", "GOOGLE_ADS", "TIKTOK"}

// TestForwardEndToEnd: a visit recorded by the tag, then a postback for
// it: each of the four platforms receives exactly one correct event, every
// delivery is SENT after one attempt, and no secret ever shows in an
// answer, the logs or the database.
func TestForwardEndToEnd(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		p := startPlatforms(t)
		s := testserver.Start(t, d, p.option())
		a := s.Signup(t, "forward")
		_, key := createProperty(t, s, a.Token, "shop")
		createDestinations(t, s, a.Token, allKinds...)
		in := forwardIntegration(t, s, a.Token)

		recordVisit(t, s, key, "cb_forward1")
		postback(t, s, in, map[string]string{"{c}": "cb_forward1", "{p}": "12.50", "{t}": "order-1", "{m}": " John_Smith@Gmail.com ", "{cc}": "US"})

		c := waitDeliveries(t, s, a.Token, "order-1", allSettled(4))
		require.Equal(t, "MATCHED", c.Status)
		for kind, dl := range byKind(c) {
			require.Equal(t, "SENT", dl.Status, "%s: %+v", kind, dl)
			require.Equal(t, 1, dl.Attempts, kind)
			require.Empty(t, deref(dl.LastError), kind)
			require.Equal(t, c.ID, dl.EventID, kind)
			require.Len(t, dl.AttemptLog, 1, kind)
			require.Empty(t, deref(dl.AttemptLog[0].Error), kind)
		}
		require.Equal(t, "Purchase", byKind(c)["META"].EventName)
		require.Equal(t, "purchase", byKind(c)["GA4"].EventName)
		require.Equal(t, "Purchase", byKind(c)["TIKTOK"].EventName)

		meta := p.meta.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, map[string]int{c.ID: 1}, p.meta.CountByEventID())
		ud := meta[0].Fields["user_data"].(map[string]any)
		require.Equal(t, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", ud["client_user_agent"])
		require.Equal(t, "fb.1.1596403881668.1116446470", ud["fbp"])
		require.Contains(t, ud["fbc"], "IwAR-fbclid")
		require.Equal(t, []any{"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"}, ud["em"])
		require.Equal(t, "https://shop.example/offer?utm_source=ads", meta[0].Fields["event_source_url"])
		require.Equal(t, "Purchase", meta[0].Name)

		p.ga4.WaitForEvents(t, 1, 10*time.Second)
		require.Len(t, p.ga4.Events(), 1)
		require.Equal(t, "purchase", p.ga4.Events()[0].Name)

		ads := p.ads.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, map[string]int{"order-1": 1}, p.ads.CountByEventID())
		require.Equal(t, "Cj0-gclid-cb_forward1", ads[0].Fields["gclid"])

		tt := p.tiktok.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, map[string]int{c.ID: 1}, p.tiktok.CountByEventID())
		user := tt[0].Fields["user"].(map[string]any)
		require.Equal(t, "E.C.P.ttclid", user["ttclid"])
		require.Equal(t, "ttp-cookie-1", user["ttp"])

		// The same postback again is a DUPLICATE: nothing is sent twice.
		postback(t, s, in, map[string]string{"{c}": "cb_forward1", "{p}": "12.50", "{t}": "order-1"})
		waitFor(t, s, a.Token, map[string]any{"transactionID": "order-1", "status": "DUPLICATE"}, func(l []logEntry) bool { return len(l) == 1 })

		// Secrets never come back: not in the destinations query, not in
		// the logs, not in plain text in the database.
		r := s.GraphQL(t, a.Token, `{ destinations(first: 10) { totalCount edges { node { `+destinationFields+` } } } }`, nil)
		var list struct {
			Destinations struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Kind      string
						Meta      *struct{ HasAccessToken bool }
						GoogleAds *struct{ HasRefreshToken bool }
					}
				}
			}
		}
		r.Decode(t, &list)
		require.Equal(t, 4, list.Destinations.TotalCount)
		rows, err := s.DB.SQL.QueryContext(context.Background(), `SELECT name, settings, credentials, key_id FROM destinations`)
		require.NoError(t, err)
		var stored strings.Builder
		for rows.Next() {
			var name, settings, keyID string
			var creds []byte
			require.NoError(t, rows.Scan(&name, &settings, &creds, &keyID))
			require.NotEmpty(t, creds)
			require.NotEmpty(t, keyID)
			stored.WriteString(name + settings + string(creds))
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		for _, secret := range destinationSecrets {
			require.NotContains(t, string(r.Data), secret)
			require.NotContains(t, s.LogText(), secret)
			require.NotContains(t, stored.String(), secret)
		}
		// A sample setting is stored in the clear, so the check above reads
		// the right table.
		require.Contains(t, stored.String(), "1234567890")
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
