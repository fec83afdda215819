package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/loadgen"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/viewer"
	"github.com/clickback/clickback/visit"
)

// TestTagIngestLoad measures POST /t/{key} over HTTP: clients send what the
// tag sends for fresh visits (a landing PageView with its attribution, then a
// second page's PageView with a custom event and an OutboundClick), as fast
// as the server answers, on PostgreSQL with real durability (fsync on) and
// on SQLite. It reports events/s and the p50/p99 latency of a request.
//
// It runs only when asked, since it takes the machine for a while:
//
//	CLICKBACK_LOADTEST=10s go test ./server -run TestTagIngestLoad -v
//
// The value is how long each database is loaded. CLICKBACK_LOADTEST_CLIENTS
// (concurrent clients, default 128) and CLICKBACK_LOADTEST_WRITERS, _BATCH and
// _WINDOW (the recorder's options; default: visit.NewRecorder's) tune it.
func TestTagIngestLoad(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("CLICKBACK_LOADTEST"))
	if err != nil {
		t.Skip("load test: set CLICKBACK_LOADTEST to a duration (e.g. 10s) to run it")
	}
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(dbtest.Name(d), func(t *testing.T) {
			var db *database.DB
			if d == dialect.Postgres {
				url := pgtest.DurableURL(t)
				db, err = database.OpenPostgres(context.Background(), url)
				require.NoError(t, err)
				require.NoError(t, db.Migrate(context.Background()))
				t.Cleanup(func() { db.Close() })
			} else {
				db = dbtest.Open(t, d)
			}
			clients := 128
			if n, err := strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_CLIENTS")); err == nil && n > 0 {
				clients = n
			}
			loadTagIngest(t, db, loadgen.TagConfig{Concurrency: clients, Duration: dur})
		})
	}
}

// TestTagIngestLoadShort runs the load test briefly in every test pass, so
// that the generator and the accounting stay right.
func TestTagIngestLoadShort(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		loadTagIngest(t, dbtest.Open(t, d), loadgen.TagConfig{Concurrency: 16, Requests: 400})
	})
}

func loadTagIngest(t *testing.T, db *database.DB, cfg loadgen.TagConfig) {
	ctx := context.Background()
	sys := viewer.SystemContext(ctx, "")
	acc, err := db.Ent.Account.Create().SetName("load").SetKey("load").Save(sys)
	require.NoError(t, err)
	_, err = db.Ent.Property.Create().SetName("load").SetKey("loadprop").SetAccountID(acc.ID).Save(sys)
	require.NoError(t, err)

	var opts visit.Options
	opts.Writers, _ = strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_WRITERS"))
	opts.MaxBatch, _ = strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_BATCH"))
	opts.Window, _ = time.ParseDuration(os.Getenv("CLICKBACK_LOADTEST_WINDOW"))
	rec := visit.NewRecorder(db, opts)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := newTagHandler(db.Ent, rec, "http://load.test", logger, tagLimits{IPRate: 1e9, IPBurst: 1e9, PropertyRate: 1e9, PropertyBurst: 1e9})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/{propertyKey}", h.serveIngest)
	hs := httptest.NewServer(observe(logger, mux))
	defer hs.Close()
	defer rec.Close()

	cfg.URL = hs.URL + "/t/loadprop"
	res, err := loadgen.Tag(ctx, cfg)
	require.NoError(t, err)
	t.Logf("%s: %s", db.Dialect, res)
	require.Zero(t, res.Refused+res.Errors, "every request answered 204: %s", res.FirstError)
	require.NotZero(t, res.Acked)

	// Everything acknowledged is stored: one Click per visit, every event.
	stored, err := db.Ent.TrackEvent.Query().Count(sys)
	require.NoError(t, err)
	require.Equal(t, int(res.Events), stored)
	clicks, err := db.Ent.Click.Query().Count(sys)
	require.NoError(t, err)
	require.Equal(t, int(res.Visits), clicks)
}
