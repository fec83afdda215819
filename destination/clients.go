package destination

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/config"
	entdest "github.com/clickback/clickback/ent/destination"
)

// Clients are the capi clients of one set of platform URLs. The Google Ads
// client caches OAuth access tokens, so the whole process should share one
// Clients: ClientsFor hands out the same one for the same URLs.
type Clients struct {
	Meta      *capi.Meta
	GA4       *capi.GA4
	GoogleAds *capi.GoogleAds
	TikTok    *capi.TikTok
}

// requestTimeout bounds one platform request. Meta suggests 1.5 s and
// answers most within 0.6 s; the others are slower at times, and a timeout
// is retried anyway.
const requestTimeout = 20 * time.Second

var (
	clientsMu sync.Mutex
	clientsBy = map[config.Platforms]*Clients{}
)

// ClientsFor returns the process's Clients for the operator's platform
// URLs, creating them on first use. The forward job and the API's
// testDestination both call it, so they share connections and the Google
// Ads token cache.
func ClientsFor(p config.Platforms) *Clients {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clientsBy[p]; ok {
		return c
	}
	hc := &http.Client{
		Timeout: cmp.Or(p.Timeout, requestTimeout),
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
	c := &Clients{
		Meta:      capi.NewMeta(p.MetaURL, hc),
		GA4:       capi.NewGA4(p.GA4URL, hc),
		GoogleAds: capi.NewGoogleAds(p.GoogleAdsURL, p.GoogleOAuthURL, hc),
		TikTok:    capi.NewTikTok(p.TikTokURL, hc),
	}
	clientsBy[p] = c
	return c
}

// Send sends events to the platform of creds.Kind with one capi call.
func (c *Clients) Send(ctx context.Context, creds Credentials, events []capi.Event) capi.Result {
	switch creds.Kind {
	case KindMeta:
		return c.Meta.Send(ctx, creds.Meta, events)
	case KindGA4:
		return c.GA4.Send(ctx, creds.GA4, events)
	case KindGoogleAds:
		return c.GoogleAds.Send(ctx, creds.GoogleAds, events)
	default:
		return c.TikTok.Send(ctx, creds.TikTok, events)
	}
}

// Test sends one test event to the platform of creds.Kind.
func (c *Clients) Test(ctx context.Context, creds Credentials, ev capi.Event) capi.TestReport {
	switch creds.Kind {
	case KindMeta:
		return c.Meta.Test(ctx, creds.Meta, ev)
	case KindGA4:
		return c.GA4.Test(ctx, creds.GA4, ev)
	case KindGoogleAds:
		return c.GoogleAds.Test(ctx, creds.GoogleAds, ev)
	default:
		return c.TikTok.Test(ctx, creds.TikTok, ev)
	}
}

// MaxBatch is the most events of one destination worth sending in one
// Send: the platform's request limit (specs/capi.md), bounded so that one
// forward job stays well inside its timeout. GA4 takes 25 events per
// request, but capi splits by visitor anyway, so it gets the same bound.
func MaxBatch(k entdest.Kind) int {
	const bound = 500
	switch k {
	case KindMeta:
		return min(capi.MetaMaxBatch, bound)
	case KindGoogleAds:
		return min(capi.GoogleAdsMaxBatch, bound)
	case KindTikTok:
		return min(capi.TikTokMaxBatch, bound)
	default:
		return 100
	}
}
