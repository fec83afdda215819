package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
	fwdjobs "github.com/clickback/clickback/jobs"
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

// forwardTenant is a server whose platforms are the fakes (p), and an
// account of it ready to forward: a property (its tag key), destinations
// (their ids by kind) and an integration with forwardIntegration's macros.
type forwardTenant struct {
	p            platforms
	s            *testserver.Server
	a            testserver.Account
	key          string
	destinations map[string]string
	in           testIntegration
}

// newForwardTenant starts the fakes and a server on database d, and signs
// up an account named name with destinations of kinds.
func newForwardTenant(t *testing.T, d, name string, kinds ...string) forwardTenant {
	t.Helper()
	f := forwardTenant{p: startPlatforms(t)}
	f.s = testserver.Start(t, d, f.p.option())
	f.a = f.s.Signup(t, name)
	_, f.key = createProperty(t, f.s, f.a.Token, "shop")
	f.destinations = createDestinations(t, f.s, f.a.Token, kinds...)
	f.in = forwardIntegration(t, f.s, f.a.Token)
	return f
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
		f := newForwardTenant(t, d, "forward", allKinds...)
		p, s, a, key, in := f.p, f.s, f.a, f.key, f.in

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

// TestForwardOutage: each platform fails the first requests with its own
// transient answer (5xx, 429, Meta's code 2, TikTok's 40100); every
// delivery ends SENT once the platform recovers, and each platform has the
// event exactly once.
func TestForwardOutage(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardTenant(t, d, "outage", allKinds...)
		p, s, a, key, in := f.p, f.s, f.a, f.key, f.in

		p.meta.FailNext(1, capitest.MetaTemporary())
		p.meta.FailNext(1, capitest.Unavailable())
		p.ga4.FailNext(1, capitest.ServerError())
		p.ga4.FailNext(1, capitest.TooManyRequests(0))
		p.ads.FailNext(2, capitest.GoogleAdsQuotaExhausted(0))
		p.tiktok.Down(capitest.TikTokRateLimited())

		recordVisit(t, s, key, "cb_outage1")
		postback(t, s, in, map[string]string{"{c}": "cb_outage1", "{p}": "30", "{t}": "order-out", "{m}": "jane@example.com"})

		// TikTok stays down until it has refused two attempts.
		deadline := time.Now().Add(20 * time.Second)
		for p.tiktok.Requests() < 2 {
			require.True(t, time.Now().Before(deadline), "TikTok was never retried")
			time.Sleep(10 * time.Millisecond)
		}
		p.tiktok.Up()

		c := waitDeliveries(t, s, a.Token, "order-out", allSettled(4))
		for kind, dl := range byKind(c) {
			require.Equal(t, "SENT", dl.Status, "%s: %+v", kind, dl)
			require.GreaterOrEqual(t, dl.Attempts, 3, kind)
			require.Len(t, dl.AttemptLog, dl.Attempts, kind)
			require.NotEmpty(t, deref(dl.AttemptLog[0].Error), kind)
			require.Empty(t, deref(dl.AttemptLog[len(dl.AttemptLog)-1].Error), kind)
		}
		require.Equal(t, 3, byKind(c)["META"].Attempts)
		require.Equal(t, 3, byKind(c)["GOOGLE_ADS"].Attempts)
		require.Contains(t, deref(byKind(c)["TIKTOK"].AttemptLog[0].Error), "40100")

		require.Equal(t, map[string]int{c.ID: 1}, p.meta.CountByEventID())
		require.Len(t, p.ga4.Events(), 1)
		require.Equal(t, map[string]int{"order-out": 1}, p.ads.CountByEventID())
		require.Equal(t, map[string]int{c.ID: 1}, p.tiktok.CountByEventID())
	})
}

// TestForwardPermanentFailure: a platform's permanent error ends the
// delivery FAILED with the platform's reason after one attempt, and it is
// not retried; retryDelivery sends it once the tenant fixed the cause. A
// custom event name without a mapping is SKIPPED, saying why, until the
// destination maps it and the conversion is replayed.
func TestForwardPermanentFailure(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardTenant(t, d, "permanent", allKinds...)
		p, s, a, key, in, ids := f.p, f.s, f.a, f.key, f.in, f.destinations

		p.meta.FailNext(1, capitest.MetaTokenInvalid())
		p.tiktok.FailNext(1, capitest.TikTokNoPermission("CTESTPIXEL123"))
		p.ads.FailRow("order-perm", "conversionUploadError", "NO_CONVERSION_ACTION_FOUND", "The conversion action specified in the upload request cannot be found.")

		recordVisit(t, s, key, "cb_perm1")
		postback(t, s, in, map[string]string{"{c}": "cb_perm1", "{p}": "5", "{t}": "order-perm"})
		c := waitDeliveries(t, s, a.Token, "order-perm", allSettled(4))
		got := byKind(c)
		require.Equal(t, "SENT", got["GA4"].Status)
		for kind, want := range map[string]string{"META": "190", "TIKTOK": "40001", "GOOGLE_ADS": "NO_CONVERSION_ACTION_FOUND"} {
			require.Equal(t, "FAILED", got[kind].Status, kind)
			require.Equal(t, 1, got[kind].Attempts, kind)
			require.Contains(t, deref(got[kind].LastError), want, kind)
		}
		// Not retried: the forward jobs of the failed deliveries completed.
		var jobs *river.JobListResult
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			jobs, err = s.River.JobList(context.Background(), river.NewJobListParams().Kinds("forward").First(100))
			require.NoError(t, err)
			finished := 0
			for _, j := range jobs.Jobs {
				if j.FinalizedAt != nil || j.State == rivertype.JobStateRetryable {
					finished++
				}
			}
			if finished == len(jobs.Jobs) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The four deliveries, whichever jobs carry them (a matched batch's
		// job carries every destination's).
		carried := map[string]bool{}
		for _, j := range jobs.Jobs {
			require.Equal(t, rivertype.JobStateCompleted, j.State, string(j.EncodedArgs))
			require.Equal(t, 1, j.Attempt, string(j.EncodedArgs))
			var args fwdjobs.ForwardArgs
			require.NoError(t, json.Unmarshal(j.EncodedArgs, &args))
			for _, id := range args.IDs() {
				carried[id] = true
			}
			if args.Plan != nil {
				for _, send := range args.Plan.Sends {
					for _, i := range send.Conversions {
						carried[args.Plan.Conversions[i]+"/"+send.Destination] = true
					}
				}
			}
		}
		require.Len(t, carried, 4)
		require.Equal(t, 1, p.meta.Requests())

		// The tenant fixes the cause; retryDelivery sends each once.
		p.ads.ClearRowFaults()
		for _, kind := range []string{"META", "TIKTOK", "GOOGLE_ADS"} {
			var out struct{ RetryDelivery struct{ Status string } }
			s.GraphQL(t, a.Token, `mutation($id: ID!) { retryDelivery(id: $id) { status } }`, map[string]any{"id": got[kind].ID}).Decode(t, &out)
			require.Equal(t, "PENDING", out.RetryDelivery.Status)
		}
		c = waitDeliveries(t, s, a.Token, "order-perm", func(c forwardedConversion) bool {
			for _, dl := range c.Deliveries {
				if dl.Status != "SENT" {
					return false
				}
			}
			return true
		})
		require.Equal(t, map[string]int{c.ID: 1}, p.meta.CountByEventID())
		require.Equal(t, map[string]int{c.ID: 1}, p.tiktok.CountByEventID())
		require.Equal(t, map[string]int{"order-perm": 1}, p.ads.CountByEventID())
		require.Len(t, p.ga4.Events(), 1)
		// A SENT delivery cannot be retried.
		r := s.GraphQL(t, a.Token, `mutation($id: ID!) { retryDelivery(id: $id) { status } }`, map[string]any{"id": got["GA4"].ID})
		require.Equal(t, "BAD_USER_INPUT", r.Code())

		// A custom event without a mapping is skipped, saying why.
		recordVisit(t, s, key, "cb_perm2")
		postback(t, s, in, map[string]string{"{c}": "cb_perm2", "{t}": "signup-1", "{e}": "Signup"})
		c = waitDeliveries(t, s, a.Token, "signup-1", allSettled(4))
		for kind, dl := range byKind(c) {
			require.Equal(t, "SKIPPED", dl.Status, kind)
			require.Contains(t, deref(dl.LastError), `no event mapping for "Signup"`, kind)
		}
		var upd struct {
			UpdateDestination struct {
				EventMapping []struct {
					Event         string
					PlatformEvent *string
					Default       bool
				}
			}
		}
		s.GraphQL(t, a.Token, `mutation($id: ID!, $in: UpdateDestinationInput!) { updateDestination(id: $id, input: $in) { eventMapping { event platformEvent default } } }`,
			map[string]any{"id": ids["META"], "in": map[string]any{"eventMapping": []map[string]any{{"event": "Signup", "platformEvent": "CompleteRegistration"}}}}).Decode(t, &upd)
		require.Len(t, upd.UpdateDestination.EventMapping, 3)
		s.GraphQL(t, a.Token, `mutation($id: ID!) { replayConversion(id: $id) { id } }`, map[string]any{"id": c.ID}).Decode(t, &struct{}{})
		c = waitDeliveries(t, s, a.Token, "signup-1", func(c forwardedConversion) bool { return byKind(c)["META"].Status == "SENT" })
		require.Equal(t, "CompleteRegistration", byKind(c)["META"].EventName)
		require.Equal(t, "SKIPPED", byKind(c)["GA4"].Status)
		require.Equal(t, 1, p.meta.CountByEventID()[c.ID])
	})
}

// TestForwardLifecycle: a conversion the network reports pending waits;
// the approving postback forwards it once (a second approval sends
// nothing); a reversal after forwarding is recorded; a conversion rejected
// while pending is never forwarded.
func TestForwardLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardTenant(t, d, "lifecycle", "META")
		p, s, a, key, in := f.p, f.s, f.a, f.key, f.in
		recordVisit(t, s, key, "cb_life1")

		// applied waits until the status job has handled the n-th repeat.
		applied := func(tx string, n int) {
			deadline := time.Now().Add(20 * time.Second)
			for {
				var out struct {
					Conversions struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
				s.GraphQL(t, a.Token, `query($w: ConversionWhereInput) { conversions(first: 100, where: $w) { edges { node { id } } } }`,
					map[string]any{"w": map[string]any{"transactionID": tx, "status": "DUPLICATE", "reasonContains": "was applied"}}).Decode(t, &out)
				if len(out.Conversions.Edges) == n {
					return
				}
				require.True(t, time.Now().Before(deadline), "the status of %d repeats of %s was never applied", n, tx)
				time.Sleep(20 * time.Millisecond)
			}
		}

		postback(t, s, in, map[string]string{"{c}": "cb_life1", "{p}": "40", "{t}": "life-1", "{s}": "pending"})
		c := waitDeliveries(t, s, a.Token, "life-1", func(c forwardedConversion) bool { return c.Status == "MATCHED" })
		require.Equal(t, "PENDING", c.NetworkStatus)
		require.Empty(t, c.Deliveries, "a pending conversion waits")

		postback(t, s, in, map[string]string{"{c}": "cb_life1", "{p}": "40", "{t}": "life-1", "{s}": "approved"})
		c = waitDeliveries(t, s, a.Token, "life-1", allSettled(1))
		require.Equal(t, "APPROVED", c.NetworkStatus)
		require.Equal(t, "SENT", c.Deliveries[0].Status)

		postback(t, s, in, map[string]string{"{c}": "cb_life1", "{p}": "40", "{t}": "life-1", "{s}": "approved"})
		postback(t, s, in, map[string]string{"{c}": "cb_life1", "{p}": "40", "{t}": "life-1", "{s}": "reversed"})
		applied("life-1", 3)
		c = conversionByTx(t, s, a.Token, "life-1")
		require.Equal(t, "REVERSED", c.NetworkStatus)
		require.Len(t, c.Deliveries, 1)
		require.Equal(t, "SENT", c.Deliveries[0].Status)
		require.Equal(t, map[string]int{c.ID: 1}, p.meta.CountByEventID(), "%+v %+v", c, p.meta.Events())

		postback(t, s, in, map[string]string{"{c}": "cb_life1", "{p}": "8", "{t}": "life-2", "{s}": "pending"})
		waitDeliveries(t, s, a.Token, "life-2", func(c forwardedConversion) bool { return c.Status == "MATCHED" })
		postback(t, s, in, map[string]string{"{c}": "cb_life1", "{p}": "8", "{t}": "life-2", "{s}": "rejected"})
		applied("life-2", 1)
		c = conversionByTx(t, s, a.Token, "life-2")
		require.Equal(t, "REJECTED", c.NetworkStatus)
		require.Empty(t, c.Deliveries)
		r := s.GraphQL(t, a.Token, `mutation($id: ID!) { replayConversion(id: $id) { id } }`, map[string]any{"id": c.ID})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "rejected")
	})
}
