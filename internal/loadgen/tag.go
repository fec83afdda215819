package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// TagConfig describes a run against the tag's ingest endpoint,
// POST /t/{propertyKey}.
type TagConfig struct {
	// URL is the absolute URL of POST /t/{propertyKey} of an existing
	// property.
	URL string
	// Concurrency is how many simulated browsers send at once.
	Concurrency int
	// Duration is how long the run lasts; Requests, when positive, stops it
	// after that many requests instead.
	Duration time.Duration
	Requests int64
	// Rate, when positive, paces the run at that many requests per second
	// (see CollectConfig.Rate).
	Rate float64
}

// TagResult is what a tag run measured. Result counts requests (Acked:
// answered 2xx); Events and Visits count what the acknowledged ones held.
type TagResult struct {
	Result
	// Events are the events of acknowledged requests.
	Events int64
	// Visits are the Click IDs whose first request was acknowledged: the
	// Clicks the server must hold.
	Visits int64
}

// EventsPerSecond is acknowledged events per second.
func (r TagResult) EventsPerSecond() float64 { return perSecond(r.Events, r.Elapsed) }

func (r TagResult) String() string {
	return fmt.Sprintf("%d events of %d visits: %.0f events/s; requests: %s", r.Events, r.Visits, r.EventsPerSecond(), r.summary("requests"))
}

// tagVisit is what the tag sends for one visit with a fresh Click ID: the
// landing page's PageView with its attribution, then a second page's
// PageView, a custom event and an OutboundClick in one batch.
func tagVisit(id string) (bodies [2][]byte, events [2]int64) {
	bodies[0] = fmt.Appendf(nil, `{"v":1,"events":[{"t":"pv","c":"%[1]s","ts":1732500000000,"u":"https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=EAIaIQobChMI%[1]s","r":"https://www.google.com/","ti":"Spring sale","utm_source":"google","utm_medium":"cpc","utm_campaign":"spring","gclid":"EAIaIQobChMI%[1]s","fbp":"fb.1.1732500000000.1234567890","sc":"1280x800","lg":"en-GB"}]}`, id)
	bodies[1] = fmt.Appendf(nil, `{"v":1,"events":[{"t":"pv","c":"%[1]s","ts":1732500001000,"u":"https://shop.example/offer","r":"https://shop.example/landing","ti":"Offer"},{"t":"tr","c":"%[1]s","ts":1732500001100,"u":"https://shop.example/offer","n":"ViewContent","val":"12.50","cur":"EUR","p":{"plan":"pro"}},{"t":"oc","c":"%[1]s","ts":1732500002000,"u":"https://shop.example/offer","l":"https://network.example/o?sub1=%[1]s","lt":"Buy now"}]}`, id)
	return bodies, [2]int64{1, 3}
}

// tagHeader is what a browser's sendBeacon of a text body sends.
var tagHeader = [][2]string{
	{"Content-Type", "text/plain;charset=UTF-8"},
	{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
}

// Tag runs the tag load described by cfg. Every visit has a fresh Click ID.
//
// The ingest limits requests per client IP, as a real server must. Against a
// loopback URL each simulated browser therefore sends from its own loopback
// address (127.0.0.2, 127.0.0.3, …: Linux routes all of 127/8 to lo), the
// way browsers on many machines would; elsewhere all come from this machine
// and the server's per-IP limit caps the run.
func Tag(ctx context.Context, cfg TagConfig) (TagResult, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return TagResult{}, errors.New("the URL must be the absolute URL of POST /t/{propertyKey}")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		cfg.Duration = 10 * time.Second
	}
	loopback := false
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		loopback = true
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	base := baseOf(cfg.URL)
	r := runner{
		concurrency: cfg.Concurrency, duration: cfg.Duration, rate: cfg.Rate / 2, units: (cfg.Requests + 1) / 2,
		client: func(w int) doer {
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			if loopback {
				dialer.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, byte(w>>16), byte(w>>8), byte(2+w%250))}
			}
			return newDoer(base, dialer, func() *http.Transport {
				return &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
			})
		},
		unit: func(ctx context.Context, w *worker, n int64, due time.Time) bool {
			bodies, counts := tagVisit("cb_" + run + "_" + strconv.FormatInt(n, 36))
			for i, body := range bodies {
				if cfg.Requests > 0 && n*2-1+int64(i) > cfg.Requests {
					return false
				}
				t0 := time.Now()
				if i == 0 && cfg.Rate > 0 {
					t0 = due
				}
				if !w.send(http.MethodPost, cfg.URL, tagHeader, body, t0) {
					return true // the visit ends; the next one starts
				}
				w.events += counts[i]
				if i == 0 {
					w.visits++
				}
			}
			return true
		},
	}
	res, workers := r.run(ctx)
	out := TagResult{Result: res}
	for _, w := range workers {
		out.Events += w.events
		out.Visits += w.visits
	}
	return out, nil
}
