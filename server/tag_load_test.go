package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
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

// cpuUse is CPU time used so far by this process and by the PostgreSQL
// backends serving its database (Linux only; zero elsewhere).
type cpuUse struct{ self, db time.Duration }

func cpuTime(t *testing.T, db *database.DB) cpuUse {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuUse{}
	}
	u := cpuUse{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	if db.Dialect != dialect.Postgres {
		return u
	}
	rows, err := db.SQL.QueryContext(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var pid int
		require.NoError(t, rows.Scan(&pid))
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields 14 and 15 (utime, stime) in clock ticks of 10 ms, after the
		// command name in parentheses.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		u.db += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return u
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
	cpu0 := cpuTime(t, db)
	res, err := loadgen.Tag(ctx, cfg)
	require.NoError(t, err)
	cpu := cpuTime(t, db)
	t.Logf("%s: %s", db.Dialect, res)
	if res.Events > 0 && cpu.self > 0 {
		// The machine may be shared: CPU time per event says what the
		// throughput would be with every core to ourselves.
		self := (cpu.self - cpu0.self) / time.Duration(res.Events)
		pg := (cpu.db - cpu0.db) / time.Duration(res.Events)
		t.Logf("%s: CPU per event: %s in this process (server and load generator), %s in PostgreSQL backends; %d cores would do %.0f events/s",
			db.Dialect, self, pg, runtime.NumCPU(), float64(runtime.NumCPU())/(self+pg).Seconds())
	}
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
