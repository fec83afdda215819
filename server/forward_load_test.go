package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/server"
	"github.com/clickback/clickback/viewer"
)

// TestForwardLoad measures matching and forwarding end to end on
// PostgreSQL with real durability (pgtest.DurableURL: fsync and synchronous
// commit on), the four fake platforms on loopback, in two phases:
//
//   - drain: N postbacks for N recorded visits are accepted over HTTP while
//     the jobs are stopped, then the jobs start and the clock runs until
//     every conversion is MATCHED and every one of its deliveries SENT: the
//     sustained rate of matched + forwarded conversions, apart from the
//     collect endpoint's own speed (it has its own load test);
//   - rate: N more postbacks are sent at a fixed rate (or flat out) with
//     the jobs running, and the time from each postback's arrival to its
//     delivery being recorded SENT after the platform's 200 (received_at to
//     sent_at) gives p50 and p99.
//
// Each platform must have each event exactly once. It runs only when
// asked, since it takes the machine for a while:
//
//	CLICKBACK_FORWARD_LOADTEST=20000 go test ./server -run TestForwardLoad -v
//
// The value is the number of conversions of each phase.
// CLICKBACK_FORWARD_LOADTEST_KINDS (default META,GA4,GOOGLE_ADS,TIKTOK)
// chooses the destinations, CLICKBACK_FORWARD_LOADTEST_CLIENTS (default 64)
// the concurrent senders and CLICKBACK_FORWARD_LOADTEST_RATE (default 1000,
// 0 for flat out) the postbacks per second of the second phase.
func TestForwardLoad(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("CLICKBACK_FORWARD_LOADTEST"))
	if err != nil || n <= 0 {
		t.Skip("load test: set CLICKBACK_FORWARD_LOADTEST to a number of conversions (e.g. 20000) to run it")
	}
	kinds := allKinds
	if k := os.Getenv("CLICKBACK_FORWARD_LOADTEST_KINDS"); k != "" {
		kinds = strings.Split(k, ",")
	}
	clients := 64
	if c, err := strconv.Atoi(os.Getenv("CLICKBACK_FORWARD_LOADTEST_CLIENTS")); err == nil && c > 0 {
		clients = c
	}
	rate := 1000
	if r, err := strconv.Atoi(os.Getenv("CLICKBACK_FORWARD_LOADTEST_RATE")); err == nil && r >= 0 {
		rate = r
	}
	ctx := context.Background()
	db, err := database.OpenPostgres(ctx, pgtest.DurableURL(t))
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx))
	t.Cleanup(func() { db.Close() })

	p := startPlatforms(t)
	cfg := config.Config{
		PublicURL:     "http://clickback.test",
		DatabaseURL:   "postgres://load",
		JWTSecret:     []byte("load-secret-0123456789abcdef01234"),
		EncryptionKey: []byte("0123456789abcdef0123456789abcdef"),
		LateClickWait: time.Minute,
	}
	p.option()(&cfg)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rc, err := jobs.NewClient(jobs.Deps{DB: db, Config: cfg, Logger: logger})
	require.NoError(t, err)
	hs := httptest.NewServer(server.New(server.Deps{
		Config: cfg, DB: db, River: rc, Auth: auth.NewService(cfg.JWTSecret), Logger: logger,
		Collect: collect.Options{AccountRate: 1e9, AccountBurst: 1e9, IPRate: 1e9, IPBurst: 1e9},
	}))
	t.Cleanup(hs.Close)
	s := &testserver.Server{URL: hs.URL, DB: db, Config: cfg, River: rc}

	a := s.Signup(t, "load")
	prop, _ := createProperty(t, s, a.Token, "shop")
	createDestinations(t, s, a.Token, kinds...)
	in := forwardIntegration(t, s, a.Token)

	// The visits of both phases, written directly: the tag's ingest has
	// its own load test.
	sys := viewer.SystemContext(ctx, a.AccountID)
	for i := 0; i < 2*n; i += 1000 {
		var batch []*ent.ClickCreate
		for j := i; j < min(i+1000, 2*n); j++ {
			batch = append(batch, db.Ent.Click.Create().SetAccountID(a.AccountID).SetPropertyID(prop).
				SetClickID(fmt.Sprintf("cb_load%07d", j)).SetLandingPage("https://shop.example/offer").
				SetGclid(fmt.Sprintf("Cj0-load-%d", j)).SetFbclid("IwAR-load").SetTtclid("E.C.P.load").
				SetIP("203.0.113.7").SetUserAgent("Mozilla/5.0 (load test)"))
		}
		require.NoError(t, db.Ent.Click.CreateBulk(batch...).Exec(sys))
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	// send posts the postbacks of visits from..to-1, at rate per second
	// (0: flat out), and returns how long it took.
	send := func(from, to, rate int) time.Duration {
		start := time.Now()
		var next atomic.Int64
		next.Store(int64(from))
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(to) {
						return
					}
					if rate > 0 {
						time.Sleep(time.Until(start.Add(time.Duration(i-int64(from)) * time.Second / time.Duration(rate))))
					}
					u := fill(s, in.PostbackURL, map[string]string{"{c}": fmt.Sprintf("cb_load%07d", i), "{p}": "9.90",
						"{t}": fmt.Sprintf("load-%07d", i), "{m}": fmt.Sprintf("buyer%d@example.com", i)})
					resp, err := hc.Get(u)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("postback answered %d", resp.StatusCode)
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		return time.Since(start)
	}
	// settle waits until want deliveries are SENT and returns when every
	// conversion was MATCHED (matched, of total) and when all were SENT.
	settle := func(start time.Time, matched, want int) (matchedIn, sentIn time.Duration) {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			if matchedIn == 0 {
				m, err := db.Ent.Conversion.Query().Where(conversion.StatusEQ(conversion.StatusMATCHED)).Count(sys)
				require.NoError(t, err)
				if m == matched {
					matchedIn = time.Since(start)
				}
			}
			sent, err := db.Ent.Delivery.Query().Where(delivery.StatusEQ(delivery.StatusSENT)).Count(sys)
			require.NoError(t, err)
			if sent == want {
				return matchedIn, time.Since(start)
			}
			failed, err := db.Ent.Delivery.Query().Where(delivery.StatusIn(delivery.StatusFAILED, delivery.StatusSKIPPED)).Count(sys)
			require.NoError(t, err)
			require.Zero(t, failed, "deliveries failed or were skipped")
			require.True(t, time.Now().Before(deadline), "only %d of %d deliveries SENT", sent, want)
			time.Sleep(20 * time.Millisecond)
		}
	}
	requests := func() int { return p.meta.Requests() + p.ga4.Requests() + p.ads.Requests() + p.tiktok.Requests() }

	// Phase 1: a backlog of n conversions, drained.
	ingested := send(0, n, 0)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cpu0, xacts0 := cpuSelf(), transactions(t, db)
	start := time.Now()
	require.NoError(t, rc.Start(runCtx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = rc.Stop(sctx)
	})
	want := n * len(kinds)
	matchedIn, drained := settle(start, n, want)
	cpu, xacts := cpuSelf()-cpu0, transactions(t, db)-xacts0
	reqs := requests()
	t.Logf("drain: %d conversions to %d destinations (%s), postbacks accepted beforehand in %s (%.0f/s); all matched in %s; all matched and forwarded in %s: %.0f conversions/s, %.0f deliveries/s; %d platform requests (%.1f events per request); %.2f database transactions per conversion (each statement outside a transaction counts); CPU of this process %s",
		n, len(kinds), strings.Join(kinds, ","), ingested.Round(time.Millisecond), float64(n)/ingested.Seconds(),
		matchedIn.Round(time.Millisecond), drained.Round(time.Millisecond), float64(n)/drained.Seconds(), float64(want)/drained.Seconds(),
		reqs, float64(want)/float64(max(reqs, 1)), float64(xacts)/float64(n), cpu.Round(time.Millisecond))

	// Phase 2: n more at a fixed rate, with the jobs running.
	start = time.Now()
	sentIn := send(n, 2*n, rate)
	_, done := settle(start, 2*n, 2*want)
	rows, err := db.SQL.QueryContext(ctx, `SELECT EXTRACT(EPOCH FROM d.sent_at - c.received_at) FROM deliveries d
		JOIN conversions c ON c.id = d.conversion_id WHERE c.transaction_id >= $1 AND c.transaction_id LIKE 'load-%'`, fmt.Sprintf("load-%07d", n))
	require.NoError(t, err)
	var lat []float64
	for rows.Next() {
		var v float64
		require.NoError(t, rows.Scan(&v))
		lat = append(lat, v)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	sort.Float64s(lat)
	pct := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return time.Duration(lat[min(len(lat)-1, int(q*float64(len(lat))))] * float64(time.Second))
	}
	t.Logf("rate: %d conversions posted at %d/s asked (%.0f/s achieved), all forwarded %s after the first: %.0f conversions/s; postback to platform 200 (received_at to sent_at, %d deliveries): p50 %s, p99 %s, max %s",
		n, rate, float64(n)/sentIn.Seconds(), done.Round(time.Millisecond), float64(n)/done.Seconds(), len(lat),
		pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))

	for _, f := range []interface{ CountByEventID() map[string]int }{p.meta, p.tiktok, p.ads} {
		for id, c := range f.CountByEventID() {
			if c != 1 {
				dls, _ := db.Ent.Delivery.Query().Where(delivery.EventID(id)).All(sys)
				for _, d := range dls {
					t.Logf("%s %s attempts=%d log=%+v", d.ID, d.Status, d.Attempts, d.AttemptLog)
				}
			}
			require.Equal(t, 1, c, id)
		}
	}
}

// transactions is how many transactions the test's database committed or
// rolled back so far: a measure of the work per conversion that, unlike
// time, does not depend on what else runs on the machine. PostgreSQL
// publishes the statistics with a delay; a snapshot is forced first.
func transactions(t *testing.T, db *database.DB) int64 {
	var n int64
	_, _ = db.SQL.Exec(`SELECT pg_stat_force_next_flush()`)
	require.NoError(t, db.SQL.QueryRow(`SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n))
	return n
}

// cpuSelf is the CPU time this process used so far.
func cpuSelf() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
