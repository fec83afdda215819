package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/destination"
	entdest "github.com/clickback/clickback/ent/destination"
	"github.com/clickback/clickback/viewer"
)

// Platforms are the four fake ad platforms of capitest on loopback, each
// watched (capitest.Fake.Observe) for when each conversion reached it: the
// first request carrying its transaction id that the platform answered
// 2xx, and how many such requests there were.
type Platforms struct {
	Meta   *capitest.Meta
	GA4    *capitest.GA4
	Ads    *capitest.GoogleAds
	OAuth  *capitest.GoogleOAuth
	TikTok *capitest.TikTok
	// URLs point clickback at the fakes (Config.Platforms).
	URLs config.Platforms

	watches []*watch
}

// StartPlatforms starts the fakes and watches them. Close stops them.
func StartPlatforms() *Platforms {
	p := &Platforms{Meta: capitest.NewMeta(nil), GA4: capitest.NewGA4(nil), OAuth: capitest.NewGoogleOAuth(nil), TikTok: capitest.NewTikTok(nil)}
	p.Ads = capitest.NewGoogleAds(nil, p.OAuth)
	for _, f := range []struct {
		name string
		fake *capitest.Fake
		to   *string
	}{
		{"META", p.Meta.Fake, &p.URLs.MetaURL},
		{"GA4", p.GA4.Fake, &p.URLs.GA4URL},
		{"GOOGLE_ADS", p.Ads.Fake, &p.URLs.GoogleAdsURL},
		{"TIKTOK", p.TikTok.Fake, &p.URLs.TikTokURL},
	} {
		w := &watch{name: f.name, first: map[string]time.Time{}, count: map[string]int{}}
		f.fake.Observe(func(body []byte, status int) {
			if status/100 == 2 {
				w.note(body, time.Now())
			}
		})
		p.watches = append(p.watches, w)
		*f.to = f.fake.URL
	}
	p.URLs.GoogleOAuthURL = p.OAuth.URL
	return p
}

// Close stops the fakes.
func (p *Platforms) Close() {
	p.Meta.Close()
	p.GA4.Close()
	p.Ads.Close()
	p.OAuth.Close()
	p.TikTok.Close()
}

// Destinations are the inputs of one destination per fake platform, for
// destination.Service.Create in the account under load.
func (p *Platforms) Destinations() []destination.Input {
	s := func(v string) *string { return &v }
	in := func(kind entdest.Kind, settings map[string]*string) destination.Input {
		return destination.Input{Name: s("load " + string(kind)), Kind: kind, Settings: map[entdest.Kind]map[string]*string{kind: settings}}
	}
	return []destination.Input{
		in(destination.KindMeta, map[string]*string{destination.PixelID: s("1234567890"), destination.AccessToken: s("EAAB-load")}),
		in(destination.KindGA4, map[string]*string{destination.MeasurementID: s("G-LOAD1234"), destination.APISecret: s("ga4-load")}),
		in(destination.KindGoogleAds, map[string]*string{
			destination.CustomerID: s("123-456-7890"), destination.ConversionActionID: s("987654321"), destination.DeveloperToken: s("ads-load"),
			destination.ClientID: s("load.apps.googleusercontent.com"), destination.ClientSecret: s("ads-load-client"), destination.RefreshToken: s("ads-load-refresh"),
		}),
		in(destination.KindTikTok, map[string]*string{destination.PixelCode: s("CLOADPIXEL123"), destination.AccessToken: s("tiktok-load")}),
	}
}

// CreateDestinations creates in db one destination per fake platform of p
// (Destinations) for the account accountID of the clickback configured
// with cfg.
func CreateDestinations(ctx context.Context, db *database.DB, cfg config.Config, accountID string, p *Platforms) error {
	svc, err := destination.NewService(cfg)
	if err != nil {
		return fmt.Errorf("destinations: %w", err)
	}
	for _, in := range p.Destinations() {
		if _, err := svc.Create(viewer.SystemContext(ctx, accountID), db.Ent, in); err != nil {
			return fmt.Errorf("create the %s destination: %w", in.Kind, err)
		}
	}
	return nil
}

// e2eID matches the transaction ids E2E gives its postbacks.
var e2eID = regexp.MustCompile(`e2e[0-9a-z]+x[0-9a-z]+y`)

// watch notes what reached one fake platform.
type watch struct {
	name string
	mu   sync.Mutex
	// first is when a 2xx request first carried each transaction id;
	// count how many 2xx requests carried it.
	first map[string]time.Time
	count map[string]int
}

func (w *watch) note(body []byte, at time.Time) {
	ids := e2eID.FindAll(body, -1)
	seen := make(map[string]bool, len(ids))
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range ids {
		id := string(b)
		if seen[id] {
			continue // one event may name its id twice (order id, event id)
		}
		seen[id] = true
		if _, ok := w.first[id]; !ok {
			w.first[id] = at
		}
		w.count[id]++
	}
}

func (w *watch) lookup(id string) (time.Time, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first[id], w.count[id]
}

// E2EConfig describes an end-to-end run: visits recorded through the
// tag's ingest endpoint, then postbacks that match them, forwarded by
// clickback to the platforms of Platforms (its destinations must point at
// Platforms.URLs).
type E2EConfig struct {
	// TagURL is the absolute URL of POST /t/{propertyKey}; PostbackURL a
	// postback URL with the macros {click_id} and {transaction_id} (and
	// optionally {amount}).
	TagURL, PostbackURL string
	Platforms           *Platforms
	// Concurrency is how many requests are in flight at once.
	Concurrency int
	// Duration is how long postbacks are sent; Conversions, when
	// positive, sends that many instead. Rate, when positive, paces the
	// postbacks per second (open loop); otherwise they go flat out. The
	// visits are recorded first, flat out: as many as there will be
	// postbacks (Conversions, or Rate × Duration, or Visits when set).
	Duration    time.Duration
	Conversions int64
	Rate        float64
	Visits      int64
	// Settle bounds the wait for forwarding after the last postback
	// (default 2 minutes).
	Settle time.Duration
	// DB, when set, is clickback's database: the run then also measures
	// what the postbacks and their forwarding cost (E2EResult.Usage).
	DB *database.DB
}

// E2EResult is what an end-to-end run measured.
type E2EResult struct {
	// Visits recorded (acknowledged) and how long that took.
	Visits        int64
	VisitsElapsed time.Duration
	// Postbacks is the postback phase (Acked: answered 2xx).
	Postbacks Result
	// Forwarded counts the acknowledged postbacks that reached every
	// platform; Done is when the last one did, from the first postback.
	Forwarded int64
	Done      time.Duration
	// P50, P99 and Max are the times from sending a postback to the first
	// 2xx of a platform for it, over every (postback, platform).
	P50, P99, Max time.Duration
	// Missing counts, by platform, acknowledged postbacks it never got;
	// Duplicates those it got in more than one request.
	Missing, Duplicates map[string]int
	// Usage is what the postbacks and their forwarding cost, from the
	// first postback until all were forwarded (see E2EConfig.DB).
	Usage Usage
}

// ForwardedPerSecond is conversions forwarded to every platform per
// second, from the first postback to the last forwarded.
func (r E2EResult) ForwardedPerSecond() float64 { return perSecond(r.Forwarded, r.Done) }

// OK reports whether every acknowledged postback reached every platform
// exactly once.
func (r E2EResult) OK() bool {
	for _, n := range r.Missing {
		if n > 0 {
			return false
		}
	}
	for _, n := range r.Duplicates {
		if n > 0 {
			return false
		}
	}
	return r.Postbacks.Acked > 0 && r.Forwarded == r.Postbacks.Acked
}

func (r E2EResult) String() string {
	return fmt.Sprintf("visits %d in %s; postbacks %s; forwarded to every platform %d of %d in %s: %.0f conversions/s; postback to platform 2xx p50 %s, p99 %s, max %s; missing %v, duplicates %v",
		r.Visits, r.VisitsElapsed.Round(time.Millisecond), r.Postbacks, r.Forwarded, r.Postbacks.Acked, r.Done.Round(time.Millisecond), r.ForwardedPerSecond(),
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond), r.Missing, r.Duplicates) +
		"; " + r.Usage.PerUnit(r.Forwarded)
}

// E2E runs the end-to-end load of cfg.
func E2E(ctx context.Context, cfg E2EConfig) (E2EResult, error) {
	if !strings.Contains(cfg.PostbackURL, "{click_id}") || !strings.Contains(cfg.PostbackURL, "{transaction_id}") {
		return E2EResult{}, errors.New("the postback URL needs the macros {click_id} and {transaction_id}")
	}
	if u, err := url.Parse(cfg.TagURL); err != nil || u.Host == "" {
		return E2EResult{}, errors.New("the tag URL must be the absolute URL of POST /t/{propertyKey}")
	}
	if cfg.Platforms == nil {
		return E2EResult{}, errors.New("no platforms")
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Duration <= 0 && cfg.Conversions <= 0 {
		cfg.Duration = 10 * time.Second
	}
	visits := cfg.Visits
	switch {
	case visits > 0:
	case cfg.Conversions > 0:
		visits = cfg.Conversions
	case cfg.Rate > 0:
		visits = int64(cfg.Rate*cfg.Duration.Seconds()) + 1
	default:
		return E2EResult{}, errors.New("flat out for a duration: say how many visits to record first (Visits)")
	}
	if cfg.Conversions <= 0 || cfg.Conversions > visits {
		cfg.Conversions = visits
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	clickID := func(n int64) string { return "cb_e2e" + run + "_" + strconv.FormatInt(n, 36) }
	txID := func(n int64) string { return "e2e" + run + "x" + strconv.FormatInt(n, 36) + "y" }
	// Each worker has a client of its own on one keep-alive connection
	// (newDoer): net/http's client cost as much CPU as the endpoints it
	// called.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	newClient := func(u string) func() doer {
		base := baseOf(u)
		return func() doer {
			return newDoer(base, dialer, func() *http.Transport {
				return &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 1}
			})
		}
	}
	var (
		out   E2EResult
		start time.Time
	)

	// The visits: one PageView each, as the tag sends on a landing page.
	visitHeader := [][2]string{{"Content-Type", "text/plain;charset=UTF-8"}, {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}}
	vr := e2ePace(ctx, cfg.Concurrency, visits, 0, 0, newClient(cfg.TagURL), func(c doer, n int64) (int, error) {
		body := fmt.Sprintf(`{"v":1,"events":[{"t":"pv","c":%q,"u":"https://shop.example/landing?gclid=Cj0%[2]s&fbclid=IwAR%[2]s&ttclid=E.C.%[2]s","utm_source":"ads","gclid":"Cj0%[2]s","fbclid":"IwAR%[2]s","ttclid":"E.C.%[2]s"}]}`, clickID(n), strconv.FormatInt(n, 36))
		return e2eDo(c, http.MethodPost, cfg.TagURL, visitHeader, []byte(body))
	})
	out.Visits, out.VisitsElapsed = vr.Acked, vr.Elapsed
	if vr.Acked < visits {
		return out, fmt.Errorf("only %d of %d visits were recorded: %s", vr.Acked, visits, vr.FirstError)
	}

	// The postbacks, each matching one visit.
	probe := newUsageProbe(ctx, cfg.DB)
	before := probe.read(ctx)
	sentAt := make([]time.Time, cfg.Conversions)
	acked := make([]bool, cfg.Conversions)
	pr := e2ePace(ctx, cfg.Concurrency, cfg.Conversions, cfg.Rate, cfg.Duration, newClient(cfg.PostbackURL), func(c doer, n int64) (int, error) {
		u := strings.NewReplacer("{click_id}", clickID(n), "{transaction_id}", txID(n), "{amount}", "12.50").Replace(cfg.PostbackURL)
		sentAt[n] = time.Now()
		code, err := e2eDo(c, http.MethodGet, u, nil, nil)
		acked[n] = err == nil
		return code, err
	})
	out.Postbacks, start = pr.Result, pr.start

	// Wait until every acknowledged postback reached every platform, or
	// Settle passed with no progress.
	settle := cfg.Settle
	if settle <= 0 {
		settle = 2 * time.Minute
	}
	// count goes over the postbacks not seen everywhere yet only: a pass
	// over all of them every 50 ms cost a few percent of the process
	// while forwarding went on.
	var (
		pending   []int64
		forwarded int64
		last      time.Time
	)
	for n, ok := range acked {
		if ok {
			pending = append(pending, int64(n))
		}
	}
	count := func() (int64, time.Time) {
		left := pending[:0]
		for _, n := range pending {
			id, reached, latest := txID(n), true, time.Time{}
			for _, w := range cfg.Platforms.watches {
				at, c := w.lookup(id)
				if c == 0 {
					reached = false
					break
				}
				if at.After(latest) {
					latest = at
				}
			}
			if !reached {
				left = append(left, n)
				continue
			}
			forwarded++
			if latest.After(last) {
				last = latest
			}
		}
		pending = left
		return forwarded, last
	}
	progress, prev := time.Now(), int64(-1)
	for {
		f, last := count()
		if f == out.Postbacks.Acked || time.Since(progress) > settle || ctx.Err() != nil {
			out.Forwarded = f
			if !last.IsZero() {
				out.Done = last.Sub(start)
			}
			break
		}
		if f != prev {
			progress, prev = time.Now(), f
		}
		time.Sleep(50 * time.Millisecond)
	}
	out.Usage = probe.read(ctx).Sub(before)
	// Give late duplicates a moment to show.
	time.Sleep(500 * time.Millisecond)

	out.Missing, out.Duplicates = map[string]int{}, map[string]int{}
	var lat []time.Duration
	for n, ok := range acked {
		if !ok {
			continue
		}
		for _, w := range cfg.Platforms.watches {
			at, c := w.lookup(txID(int64(n)))
			switch {
			case c == 0:
				out.Missing[w.name]++
				continue
			case c > 1:
				out.Duplicates[w.name]++
			}
			lat = append(lat, at.Sub(sentAt[n]))
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		out.P50, out.P99, out.Max = lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	return out, nil
}

// e2eDo sends a request through c and returns the status code of the
// answer; an error when there was none or it was not 2xx.
func e2eDo(c doer, method, url string, header [][2]string, body []byte) (int, error) {
	code, answer, err := c.do(method, url, header, body)
	if err != nil {
		return 0, err
	}
	if code/100 != 2 {
		return code, fmt.Errorf("%s %s answered %d: %.200s", method, url[:strings.IndexAny(url+"?", "?")], code, answer)
	}
	return code, nil
}

// e2ePaced is a Result with the start of its run.
type e2ePaced struct {
	Result
	start time.Time
}

// e2ePace calls send for 0, 1, … up to limit (exclusive) from concurrency
// goroutines, each with a client of its own from client, at rate per
// second when positive (open loop: a late start counts in the latency),
// for at most d when positive, and measures it.
func e2ePace(ctx context.Context, concurrency int, limit int64, rate float64, d time.Duration, client func() doer, send func(doer, int64) (int, error)) e2ePaced {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
		res  = Result{Codes: map[int]int64{}}
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client()
			defer c.close()
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if n >= limit {
					return
				}
				due := time.Now()
				if rate > 0 {
					due = start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Until(due)):
					}
				}
				code, err := send(c, n)
				took := time.Since(due)
				mu.Lock()
				res.Sent++
				switch {
				case err == nil:
					res.Acked++
					lat = append(lat, took)
				case code != 0:
					res.Refused++
				default:
					res.Errors++
				}
				if code != 0 {
					res.Codes[code]++
				}
				if err != nil && res.FirstError == "" {
					res.FirstError = err.Error()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.P50, res.P90, res.P99, res.Max = lat[len(lat)*50/100], lat[len(lat)*90/100], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	return e2ePaced{Result: res, start: start}
}
