package server_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// TestForwardFromBrowser chains the whole flow: a visitor lands on the
// tenant's page from an ad (real tag in Chromium), the network posts the
// conversion back with the Click ID, and each of the four fake platforms
// receives exactly one event carrying that visit's ad click ids and the
// browser's user agent.
func TestForwardFromBrowser(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		p := startPlatforms(t)
		s := testserver.Start(t, d, testserver.RealPublicURL(), p.option())
		a := s.Signup(t, "browserfwd")
		var prop struct {
			CreateProperty struct{ ID, TagSnippet string }
		}
		s.GraphQL(t, a.Token, `mutation { createProperty(input: {name: "shop", domain: "shop.example"}) { id tagSnippet } }`, nil).Decode(t, &prop)
		createDestinations(t, s, a.Token, allKinds...)
		in := forwardIntegration(t, s, a.Token)

		site := landingSite(t, prop.CreateProperty.TagSnippet)
		ctx, _ := browser(t)
		landing := site + "/landing?utm_source=ads&gclid=G-browser-1&fbclid=FB-browser-2&ttclid=TT-browser-3"
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(landing)))
		id, err := chromedp.Run(ctx, chromedp.Poll[string](`window.clickback && window.clickback.cb && clickback('clickId')`, chromedp.WithPollingTimeout(15*time.Second)))
		require.NoError(t, err)
		ua, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
		require.NoError(t, err)
		eventually(t, "the visit to be recorded", func() bool {
			var out struct{ Clicks struct{ TotalCount int } }
			s.GraphQL(t, a.Token, `query($c: String!) { clicks(where: {clickID: $c}) { totalCount } }`, map[string]any{"c": id}).Decode(t, &out)
			return out.Clicks.TotalCount == 1
		})

		postback(t, s, in, map[string]string{"{c}": id, "{p}": "49.00", "{t}": "browser-order-1", "{m}": "visitor@example.com"})
		c := waitDeliveries(t, s, a.Token, "browser-order-1", allSettled(4))
		for kind, dl := range byKind(c) {
			require.Equal(t, "SENT", dl.Status, "%s: %+v", kind, dl)
		}

		meta := p.meta.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, map[string]int{c.ID: 1}, p.meta.CountByEventID())
		ud := meta[0].Fields["user_data"].(map[string]any)
		require.Equal(t, ua, ud["client_user_agent"])
		require.Contains(t, ud["fbc"], "FB-browser-2")
		require.Contains(t, meta[0].Fields["event_source_url"], "/landing?")

		p.ga4.WaitForEvents(t, 1, 10*time.Second)
		require.Len(t, p.ga4.Events(), 1)

		ads := p.ads.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, map[string]int{"browser-order-1": 1}, p.ads.CountByEventID())
		require.Equal(t, "G-browser-1", ads[0].Fields["gclid"])

		tt := p.tiktok.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, map[string]int{c.ID: 1}, p.tiktok.CountByEventID())
		require.Equal(t, "TT-browser-3", tt[0].Fields["user"].(map[string]any)["ttclid"])
	})
}
