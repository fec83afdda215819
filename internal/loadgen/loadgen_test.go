package loadgen_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/loadgen"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/server"
	"github.com/clickback/clickback/viewer"
)

// start runs the real server — routes, committer, River workers — on db,
// with rate limits out of the way, and returns a postback URL for loadgen.
//
// With workJobs false, River only inserts: the match jobs are queued in the
// conversions' transactions but not worked, so the figures are the collect
// endpoint's alone.
func start(t *testing.T, db *database.DB, workJobs bool) string {
	t.Helper()
	ctx := context.Background()
	cfg := config.Config{PublicURL: "http://clickback.test", LateClickWait: time.Hour, JWTSecret: []byte("0123456789abcdef0123456789abcdef"), EncryptionKey: bytes.Repeat([]byte{7}, 32)}
	logger := slog.New(slog.DiscardHandler)
	rc, err := jobs.NewClient(jobs.Deps{DB: db, Config: cfg, Logger: logger})
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	if workJobs {
		require.NoError(t, rc.Start(rctx))
	}
	h := server.New(server.Deps{
		Config: cfg, DB: db, River: rc, Auth: auth.NewService(cfg.JWTSecret), Logger: logger,
		Collect: collect.Options{IPRate: 1e9, IPBurst: 1e9, AccountRate: 1e9, AccountBurst: 1e9},
	})
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.Close()
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		_ = rc.Stop(sctx)
		cancel()
	})
	acc, err := db.Ent.Account.Create().SetName("load").SetKey("loadkey").Save(viewer.SystemContext(ctx, ""))
	require.NoError(t, err)
	name, c, tx, amount := "Load", "{click_id}", "{transaction_id}", "{amount}"
	it, err := integration.Create(viewer.SystemContext(ctx, acc.ID), db.Ent, integration.Input{
		Name: &name,
		Macros: map[postback.Field]*string{
			postback.FieldClickID: &c, postback.FieldTransactionID: &tx, postback.FieldAmount: &amount,
		},
	})
	require.NoError(t, err)
	u, err := integration.PostbackURL(hs.URL, acc.Key, it)
	require.NoError(t, err)
	return u
}

// run puts load on a server over db and checks that every acknowledged
// postback is stored, once.
func run(t *testing.T, db *database.DB, cfg loadgen.CollectConfig, workJobs bool) loadgen.Result {
	t.Helper()
	cfg.URL = start(t, db, workJobs)
	cfg.Keep = true
	res, err := loadgen.Collect(context.Background(), cfg)
	require.NoError(t, err)
	require.Zero(t, res.Errors, res.FirstError)
	require.Zero(t, res.Refused, res.FirstError)
	require.Positive(t, res.Acked)
	stored, err := db.Ent.Conversion.Query().
		Where(conversion.StatusNEQ(conversion.StatusDUPLICATE)).
		Select(conversion.FieldTransactionID).
		Strings(viewer.SystemContext(context.Background(), ""))
	require.NoError(t, err)
	// Sorted, not ElementsMatch: that is quadratic, minutes on a long run.
	slices.Sort(stored)
	slices.Sort(res.AckedTransactions)
	require.Equal(t, len(res.AckedTransactions), len(stored), "every acknowledged postback is stored, once")
	require.True(t, slices.Equal(res.AckedTransactions, stored), "every acknowledged postback is stored, once")
	return res
}

// TestCollectLoadShort runs the load generator for a moment on both
// databases, so that it never rots.
func TestCollectLoadShort(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		res := run(t, dbtest.Open(t, d), loadgen.CollectConfig{Concurrency: 16, Duration: 2 * time.Second}, true)
		t.Logf("%s: %s", dbtest.Name(d), res)
	})
}

// TestCollectLoad is the load test of the collect endpoint, run on demand:
//
//	CLICKBACK_LOADTEST=10s go test ./internal/loadgen -run TestCollectLoad$ -v
//
// PostgreSQL is a durable cluster (fsync, synchronous commit: pgtest.DurableURL),
// SQLite a file with synchronous=FULL. CLICKBACK_LOADTEST_CONCURRENCY sets
// the postbacks in flight (default 128); CLICKBACK_LOADTEST_WORK_JOBS=1
// also works the match jobs during the run (by default they are only queued).
func TestCollectLoad(t *testing.T) {
	d := os.Getenv("CLICKBACK_LOADTEST")
	if d == "" {
		t.Skip("set CLICKBACK_LOADTEST to a duration to run the load test")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err)
	conc := 128
	work := os.Getenv("CLICKBACK_LOADTEST_WORK_JOBS") != ""
	if c, err := strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_CONCURRENCY")); err == nil {
		conc = c
	}
	for _, dialectName := range dbtest.Dialects {
		t.Run(dbtest.Name(dialectName), func(t *testing.T) {
			var db *database.DB
			if dialectName == dialect.Postgres {
				url := pgtest.DurableURL(t)
				db, err = database.OpenPostgres(context.Background(), url)
				require.NoError(t, err)
				t.Cleanup(func() { db.Close() })
				require.NoError(t, db.Migrate(context.Background()))
			} else {
				db = dbtest.Open(t, dialectName)
			}
			res := run(t, db, loadgen.CollectConfig{Concurrency: conc, Duration: dur}, work)
			fmt.Printf("collect load, %s, %d in flight, match jobs worked: %v: %s\n", dbtest.Name(dialectName), conc, work, res)
		})
	}
}
