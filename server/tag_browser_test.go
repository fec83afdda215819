package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile for one test and
// returns a context to drive it with chromedp, recording the bodies of the
// requests the page sends into sent.
func browser(t *testing.T) (ctx context.Context, sent *bodies) {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s: apt-get install chromium", chromiumPath)
		}
		p, err := exec.LookPath("chromium")
		if err != nil {
			t.Skipf("browser tests need Chromium (%s): apt-get install chromium", chromiumPath)
		}
		path = p
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	sent = &bodies{}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			for _, p := range e.Request.PostDataEntries {
				sent.add(e.Request.URL, string(p.Bytes))
			}
		}
	}))
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	return ctx, sent
}

// bodies are request bodies the browser sent, by URL.
type bodies struct {
	mu  sync.Mutex
	all []string
}

func (b *bodies) add(url, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, url+"\n"+body)
}

func (b *bodies) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.all, "\n")
}

// landingSite is a tenant's website, on another origin than clickback, with
// the tag snippet on every page.
func landingSite(t *testing.T, snippet string) string {
	t.Helper()
	mux := http.NewServeMux()
	page := func(title, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><html><head><title>%s</title>%s</head><body>%s</body></html>", html.EscapeString(title), snippet, body)
		}
	}
	mux.HandleFunc("/landing", page("Spring sale", `
<a id="tagged" href="https://network.example/offer?aff=7&sub1=--CLICK-ID--&x=a%20b#frag">offer</a>
<a id="encoded" href="https://network.example/o?u=https%3A%2F%2Fm.example%2F%3Fs%3D%252D%252DCLICK-ID%252D%252D">encoded</a>
<a id="plain" href="https://network.example/none?a=1&b=2">plain</a>
<a id="rule" href="https://go.rulenet.example/p?a=1">rule</a>
<a id="own" href="https://go.rulenet.example/p?aff_sub=mine">own</a>
<form><input id="field" name="cid" value="--CLICK-ID--"><input id="other" name="q" value="keep"></form>
<a id="next" href="/next?sub=--CLICK-ID--">next page</a>
<script>
setTimeout(function () {
  var a = document.createElement('a');
  a.id = 'late';
  a.href = 'https://network.example/late?s=--click-id--&k=v';
  a.textContent = 'late';
  document.body.appendChild(a);
}, 100);
</script>`))
	mux.HandleFunc("/next", page("Second page", `<p id="second">second page</p>`))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	// clickback listens on 127.0.0.1; the site is reached as localhost: another
	// origin, and a secure context like https (crypto.subtle works).
	return strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)
}

type browserClick struct {
	ClickID, LandingPage, UtmSource, UtmMedium, UtmCampaign string
	Gclid, Fbclid, Fbc, Fbp, UserAgent, Language, Screen    string
	ExternalID, EmailSha256                                 string
	Bot                                                     bool
}

const browserClickFields = `clickID landingPage utmSource utmMedium utmCampaign gclid fbclid fbc fbp userAgent language screen externalID emailSha256 bot`

// eventually polls check until it reports true or the deadline passes.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTagInBrowser drives the real tag in Chromium on a tenant's page: the
// Click ID, AutoTag, the recorded Click and its events, the JS API, and a
// second page of the visit.
func TestTagInBrowser(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d, testserver.RealPublicURL())
		a := s.Signup(t, "browser")
		var prop struct {
			CreateProperty struct{ ID, TagSnippet string }
		}
		s.GraphQL(t, a.Token, `mutation { createProperty(input: {name: "shop", domain: "shop.example"}) { id tagSnippet } }`, nil).Decode(t, &prop)
		setRules := s.GraphQL(t, a.Token, `mutation($id: ID!) { setAutoTagRules(propertyID: $id, rules: [{domain: "*.RuleNet.example", param: "aff_sub"}]) { autoTagRules { domain param } } }`,
			map[string]any{"id": prop.CreateProperty.ID})
		var rules struct {
			SetAutoTagRules struct {
				AutoTagRules []struct{ Domain, Param string }
			}
		}
		setRules.Decode(t, &rules)
		require.Equal(t, "rulenet.example", rules.SetAutoTagRules.AutoTagRules[0].Domain)

		site := landingSite(t, prop.CreateProperty.TagSnippet)
		ctx, sent := browser(t)

		clicks := func(where map[string]any) []browserClick {
			var out struct {
				Clicks struct{ Edges []struct{ Node browserClick } }
			}
			s.GraphQL(t, a.Token, `query($w: ClickWhereInput) { clicks(where: $w) { edges { node { `+browserClickFields+` } } } }`,
				map[string]any{"w": where}).Decode(t, &out)
			var cs []browserClick
			for _, e := range out.Clicks.Edges {
				cs = append(cs, e.Node)
			}
			return cs
		}
		type event struct{ Name, URL, LinkURL, Currency string }
		events := func(clickID string) []event {
			var out struct {
				TrackEvents struct{ Edges []struct{ Node event } }
			}
			s.GraphQL(t, a.Token, `query($c: String!) { trackEvents(where: {clickID: $c}, orderBy: {field: CREATED_AT}) { edges { node { name url linkURL currency } } } }`,
				map[string]any{"c": clickID}).Decode(t, &out)
			var es []event
			for _, e := range out.TrackEvents.Edges {
				es = append(es, e.Node)
			}
			return es
		}
		clickID := func() string {
			id, err := chromedp.Run(ctx, chromedp.Poll[string](`window.clickback && window.clickback.cb && clickback('clickId')`, chromedp.WithPollingTimeout(15*time.Second)))
			require.NoError(t, err)
			return id
		}

		landing := site + "/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=G-123&fbclid=FB-456"
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(landing)))
		id := clickID()
		require.Regexp(t, `^cb_[A-Za-z0-9_-]{22}$`, id)

		// AutoTag: every placeholder replaced, every other byte kept, links
		// without it untouched, the later link too, the rule's domain tagged.
		late, err := chromedp.Run(ctx, chromedp.Poll[string](`(function(){var a=document.getElementById('late');return a&&a.getAttribute('href').indexOf('CLICK')<0&&a.getAttribute('href').indexOf('click-id')<0?a.getAttribute('href'):false})()`, chromedp.WithPollingTimeout(10*time.Second)))
		require.NoError(t, err)
		require.Equal(t, "https://network.example/late?s="+id+"&k=v", late)
		hrefs, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(function(){var o={};document.querySelectorAll('a[id]').forEach(function(a){o[a.id]=a.getAttribute('href')});o.field=document.getElementById('field').value;o.other=document.getElementById('other').value;return o})()`))
		require.NoError(t, err)
		require.Equal(t, map[string]string{
			"tagged":  "https://network.example/offer?aff=7&sub1=" + id + "&x=a%20b#frag",
			"encoded": "https://network.example/o?u=https%3A%2F%2Fm.example%2F%3Fs%3D" + id,
			"plain":   "https://network.example/none?a=1&b=2",
			"rule":    "https://go.rulenet.example/p?a=1&aff_sub=" + id,
			"own":     "https://go.rulenet.example/p?aff_sub=mine",
			"next":    "/next?sub=" + id,
			"late":    "https://network.example/late?s=" + id + "&k=v",
			"field":   id,
			"other":   "keep",
		}, hrefs)

		// The Click, with its attribution; HeadlessChrome is marked as a bot.
		var c browserClick
		eventually(t, "the click", func() bool {
			cs := clicks(map[string]any{"clickID": id})
			if len(cs) == 1 {
				c = cs[0]
			}
			return len(cs) == 1
		})
		require.Equal(t, landing, c.LandingPage)
		require.Equal(t, "google", c.UtmSource)
		require.Equal(t, "cpc", c.UtmMedium)
		require.Equal(t, "spring", c.UtmCampaign)
		require.Equal(t, "G-123", c.Gclid)
		require.Equal(t, "FB-456", c.Fbclid)
		require.Regexp(t, `^fb\.1\.\d{13}\.FB-456$`, c.Fbc, "_fbc made from fbclid the way Meta's pixel does")
		require.Regexp(t, `^fb\.1\.\d{13}\.\d{10}$`, c.Fbp)
		require.Contains(t, c.UserAgent, "HeadlessChrome")
		require.True(t, c.Bot)
		require.Regexp(t, `^\d{2,5}x\d{2,5}$`, c.Screen)
		require.NotEmpty(t, c.Language)
		cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
		require.NoError(t, err)
		require.Contains(t, cookies, "_cbid="+id)
		require.Contains(t, cookies, "_fbc="+c.Fbc)

		// The JS API: track, identify (the email hashed before it leaves).
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`clickback('track', 'Signup', {value: 12.5, currency: 'eur', plan: 'pro'});
			clickback('identify', {externalId: 'u-42', email: '  Ann.Buyer@Example.COM '});
			clickback('clickId')`))
		require.NoError(t, err)
		require.Equal(t, id, got)
		sum := sha256.Sum256([]byte("ann.buyer@example.com"))
		eventually(t, "identify", func() bool { return clicks(map[string]any{"clickID": id})[0].EmailSha256 == hex.EncodeToString(sum[:]) })
		require.Equal(t, "u-42", clicks(map[string]any{"clickID": id})[0].ExternalID)
		eventually(t, "the custom event", func() bool {
			for _, e := range events(id) {
				if e.Name == "Signup" && e.Currency == "EUR" {
					return true
				}
			}
			return false
		})
		require.NotContains(t, strings.ToLower(sent.text()), "ann.buyer", "the plain email never leaves the browser")
		require.Contains(t, sent.text(), hex.EncodeToString(sum[:]))

		// A real click on a tagged link: an OutboundClick, and the navigation
		// happens; the second page keeps the visit's Click ID.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("next")), chromedp.WaitVisible(chromedp.ID("second"))))
		path, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
		require.NoError(t, err)
		require.Equal(t, "/next", path)
		require.Equal(t, id, clickID())
		eventually(t, "the outbound click and the second page view", func() bool {
			var oc, pv int
			for _, e := range events(id) {
				if e.Name == "OutboundClick" && e.LinkURL == site+"/next?sub="+id {
					oc++
				}
				if e.Name == "PageView" && strings.HasPrefix(e.URL, site+"/next") {
					pv++
				}
			}
			return oc == 1 && pv == 1
		})
		require.Equal(t, landing, clicks(map[string]any{"clickID": id})[0].LandingPage, "the landing page is first touch")

		// A new ad click starts a new visit.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(site+"/landing?gclid=G-999")))
		id2 := clickID()
		require.NotEqual(t, id, id2)
		eventually(t, "the new click", func() bool { return len(clicks(map[string]any{"clickID": id2, "gclid": "G-999"})) == 1 })
		require.Len(t, clicks(map[string]any{"utmSource": "google", "gclid": "G-123"}), 1)

		// Nothing the tag did was reported as an error.
		require.NotContains(t, s.LogText(), "tag reported an error")
	})
}
