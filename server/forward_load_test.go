package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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

// TestForwardLoad measures matched + forwarded conversions per second end
// to end on PostgreSQL with real durability (pgtest.DurableURL: fsync and
// synchronous commit on), the four fake platforms on loopback: N visits
// are recorded beforehand, then N postbacks for them are sent over HTTP by
// concurrent clients, and the clock stops when every conversion is MATCHED
// and every one of its deliveries SENT, each platform having each event
// exactly once.
//
// It runs only when asked, since it takes the machine for a while:
//
//	CLICKBACK_FORWARD_LOADTEST=20000 go test ./server -run TestForwardLoad -v
//
// The value is the number of conversions. CLICKBACK_FORWARD_LOADTEST_KINDS
// (default META,GA4,GOOGLE_ADS,TIKTOK) chooses the destinations and
// CLICKBACK_FORWARD_LOADTEST_CLIENTS (default 64) the concurrent senders.
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

	// The visits, written directly: the tag's ingest has its own load test.
	sys := viewer.SystemContext(ctx, a.AccountID)
	for i := 0; i < n; i += 1000 {
		var batch []*ent.ClickCreate
		for j := i; j < min(i+1000, n); j++ {
			batch = append(batch, db.Ent.Click.Create().SetAccountID(a.AccountID).SetPropertyID(prop).
				SetClickID(fmt.Sprintf("cb_load%07d", j)).SetLandingPage("https://shop.example/offer").
				SetGclid(fmt.Sprintf("Cj0-load-%d", j)).SetFbclid("IwAR-load").SetTtclid("E.C.P.load").
				SetIP("203.0.113.7").SetUserAgent("Mozilla/5.0 (load test)"))
		}
		require.NoError(t, db.Ent.Click.CreateBulk(batch...).Exec(sys))
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	require.NoError(t, rc.Start(runCtx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = rc.Stop(sctx)
	})

	cpu0 := cpuSelf()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				u := fill(s, in.PostbackURL, map[string]string{"{c}": fmt.Sprintf("cb_load%07d", i), "{p}": "9.90",
					"{t}": fmt.Sprintf("load-%d", i), "{m}": fmt.Sprintf("buyer%d@example.com", i)})
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
	ingested := time.Since(start)

	want := n * len(kinds)
	deadline := time.Now().Add(10 * time.Minute)
	var matchedIn time.Duration
	for {
		if matchedIn == 0 {
			m, err := db.Ent.Conversion.Query().Where(conversion.StatusEQ(conversion.StatusMATCHED)).Count(sys)
			require.NoError(t, err)
			if m == n {
				matchedIn = time.Since(start)
			}
		}
		sent, err := db.Ent.Delivery.Query().Where(delivery.StatusEQ(delivery.StatusSENT)).Count(sys)
		require.NoError(t, err)
		if sent == want {
			break
		}
		failed, err := db.Ent.Delivery.Query().Where(delivery.StatusIn(delivery.StatusFAILED, delivery.StatusSKIPPED)).Count(sys)
		require.NoError(t, err)
		require.Zero(t, failed, "deliveries failed or were skipped")
		require.True(t, time.Now().Before(deadline), "only %d of %d deliveries SENT", sent, want)
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := cpuSelf() - cpu0

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
	requests := p.meta.Requests() + p.ga4.Requests() + p.ads.Requests() + p.tiktok.Requests()
	t.Logf("%d conversions to %d destinations (%s): postbacks accepted in %s (%.0f/s); all matched in %s; all matched and forwarded in %s: %.0f conversions/s, %.0f deliveries/s; %d platform requests (%.1f events per request); CPU of this process (server, fakes, clients) %s",
		n, len(kinds), strings.Join(kinds, ","), ingested.Round(time.Millisecond), float64(n)/ingested.Seconds(), matchedIn.Round(time.Millisecond),
		elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(want)/elapsed.Seconds(),
		requests, float64(want)/float64(max(requests, 1)), cpu.Round(time.Millisecond))
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
