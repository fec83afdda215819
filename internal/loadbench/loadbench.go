// Package loadbench runs the load generator against a clickback it starts
// itself, and against the baseline (loadgen.Baseline) on the same
// PostgreSQL, and reports both and their ratio: the figure that counts on a
// shared machine. cmd/loadgen's bench and report subcommands drive it.
package loadbench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/groupcommit"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/internal/loadgen"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/server"
	"github.com/clickback/clickback/viewer"
	"github.com/clickback/clickback/visit"
)

// Database is where a run stores: an open database and, on PostgreSQL, its
// URL (the baseline's table goes there too).
type Database struct {
	DB      *database.DB
	URL     string // PostgreSQL only
	Label   string
	cleanup func()
}

// Close closes the database and drops a throwaway one.
func (d *Database) Close() {
	d.DB.Close()
	if d.cleanup != nil {
		d.cleanup()
	}
}

// OpenDatabase opens what spec names, migrated: "sqlite" (a file in a new
// temporary directory, synchronous=FULL like production), "postgres" (a
// throwaway database in pgtest's durable cluster: fsync and synchronous
// commit on), or a postgres:// URL of an existing, empty database.
func OpenDatabase(ctx context.Context, spec string) (*Database, error) {
	switch {
	case spec == "sqlite":
		dir, err := os.MkdirTemp("", "clickback-loadbench-")
		if err != nil {
			return nil, err
		}
		db, err := database.OpenSQLite(filepath.Join(dir, "clickback.db"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		d := &Database{DB: db, Label: "SQLite", cleanup: func() { os.RemoveAll(dir) }}
		if err := db.Migrate(ctx); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	case spec == "postgres":
		url, drop, err := pgtest.DurableScratch(ctx)
		if err != nil {
			return nil, fmt.Errorf("durable PostgreSQL: %w", err)
		}
		d, err := openPostgres(ctx, url, "PostgreSQL (durable throwaway cluster)")
		if err != nil {
			drop()
			return nil, err
		}
		d.cleanup = drop
		return d, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return openPostgres(ctx, spec, "PostgreSQL (given URL)")
	}
	return nil, fmt.Errorf("unknown database %q: sqlite, postgres or a postgres:// URL", spec)
}

func openPostgres(ctx context.Context, url, label string) (*Database, error) {
	db, err := database.OpenPostgres(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &Database{DB: db, URL: url, Label: label}, nil
}

// Clickback is a clickback serving on loopback, with one account, one
// integration and one property to put load on.
type Clickback struct {
	URL        string
	CollectURL string // with the macros {click_id} and {transaction_id}
	TagURL     string
	AccountID  string
	River      *river.Client[*sql.Tx]
	stop       func()
}

// Close stops the server, its committers and River.
func (c *Clickback) Close() { c.stop() }

// ServerOptions tune StartClickback.
type ServerOptions struct {
	// WorkJobs starts River's workers; otherwise jobs are only inserted,
	// so that the figures are the endpoints' alone.
	WorkJobs bool
	// Config changes the server's configuration (platform URLs for the
	// end-to-end mode).
	Config func(*config.Config)
	// Collect and Tag tune the group committers of postbacks and tag
	// events; zero fields keep the product's defaults.
	Collect, Tag groupcommit.Options
}

// StartClickback runs the real server — routes, group committers, River —
// over db on a loopback port, with the rate limits out of the way.
func StartClickback(ctx context.Context, db *database.DB, o ServerOptions) (*Clickback, error) {
	cfg := config.Config{
		PublicURL: "http://clickback.test", LateClickWait: time.Hour,
		JWTSecret: []byte("0123456789abcdef0123456789abcdef"), EncryptionKey: bytes.Repeat([]byte{7}, 32),
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	logger := slog.New(slog.DiscardHandler)
	rc, err := jobs.NewClient(jobs.Deps{DB: db, Config: cfg, Logger: logger})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if o.WorkJobs {
		if err := rc.Start(rctx); err != nil {
			cancel()
			return nil, err
		}
	}
	visits := visit.NewRecorder(db, o.Tag)
	h := server.New(server.Deps{
		Config: cfg, DB: db, River: rc, Auth: auth.NewService(cfg.JWTSecret), Logger: logger, Visits: visits,
		Collect: collect.Options{IPRate: 1e9, IPBurst: 1e9, AccountRate: 1e9, AccountBurst: 1e9, Batch: o.Collect},
		Tag:     server.TagLimits{IPRate: 1e9, IPBurst: 1e9, PropertyRate: 1e9, PropertyBurst: 1e9},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	c := &Clickback{URL: "http://" + ln.Addr().String(), River: rc}
	c.stop = func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		_ = hs.Shutdown(sctx)
		visits.Close()
		if o.WorkJobs {
			_ = rc.Stop(sctx)
		}
		cancel()
	}
	sys := viewer.SystemContext(ctx, "")
	acc, err := db.Ent.Account.Create().SetName("load").SetKey("loadkey").Save(sys)
	if err != nil {
		c.stop()
		return nil, err
	}
	c.AccountID = acc.ID
	name, cm, tx, amount := "Load", "{click_id}", "{transaction_id}", "{amount}"
	it, err := integration.Create(viewer.SystemContext(ctx, acc.ID), db.Ent, integration.Input{
		Name: &name,
		Macros: map[postback.Field]*string{
			postback.FieldClickID: &cm, postback.FieldTransactionID: &tx, postback.FieldAmount: &amount,
		},
	})
	if err != nil {
		c.stop()
		return nil, err
	}
	if c.CollectURL, err = integration.PostbackURL(c.URL, acc.Key, it); err != nil {
		c.stop()
		return nil, err
	}
	if _, err := db.Ent.Property.Create().SetName("load").SetKey("loadprop").SetAccountID(acc.ID).Save(sys); err != nil {
		c.stop()
		return nil, err
	}
	c.TagURL = c.URL + "/t/loadprop"
	return c, nil
}

// Options describe a bench run.
type Options struct {
	// Mode is "collect", "tag" or "both" (at once, against one server).
	Mode string
	// Duration of each run; Concurrency of each load (in flight at once);
	// Rate, when positive, paces each load (requests/s) instead of flat out.
	Duration    time.Duration
	Concurrency int
	Rate        float64
	// Baseline also runs the load against the baseline on the same
	// PostgreSQL (not on SQLite, which has none).
	Baseline bool
	// Log, when set, gets a line as each run ends.
	Log io.Writer
	// Server tunes the clickback under load.
	Server ServerOptions
}

// Row is one measured run.
type Row struct {
	Database string
	Target   string // "clickback" or "baseline"
	Load     string // "collect" or "tag"
	Unit     string // what PerSecond counts
	Result   loadgen.Result
	// PerSecond is acknowledged postbacks, or tag events, per second.
	PerSecond float64
	// Stored is the acknowledged-stored check: "ok" or what was missing.
	Stored string
	// Ratio is clickback ÷ baseline, on clickback's rows with a baseline.
	Ratio float64
	tag   loadgen.TagResult
}

// Run measures opts.Mode on d: first the baseline, then clickback.
func Run(ctx context.Context, d *Database, opts Options) ([]Row, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 128
	}
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	var loads []string
	switch opts.Mode {
	case "collect", "tag":
		loads = []string{opts.Mode}
	case "both", "":
		loads = []string{"collect", "tag"}
	default:
		return nil, fmt.Errorf("unknown mode %q: collect, tag or both", opts.Mode)
	}
	var rows []Row
	logRows := func(rs []Row) {
		for _, r := range rs {
			if opts.Log != nil {
				fmt.Fprintf(opts.Log, "%s, %s, %s: %.0f %s/s, p50 %s, p99 %s, non-2xx %d, errors %d, stored: %s\n",
					r.Database, r.Target, r.Load, r.PerSecond, r.Unit, r.Result.P50.Round(10*time.Microsecond), r.Result.P99.Round(10*time.Microsecond), r.Result.Refused, r.Result.Errors, r.Stored)
			}
		}
	}
	if opts.Baseline && d.URL != "" {
		b, err := loadgen.StartBaseline(ctx, d.URL)
		if err != nil {
			return nil, err
		}
		urls := map[string]string{"collect": b.URL + "/loadkey/collect/load?click_id={click_id}&transaction_id={transaction_id}&amount=1.50", "tag": b.URL + "/t/loadprop"}
		bs, err := runLoads(ctx, loads, urls, opts)
		if err == nil {
			var n int64
			if n, err = b.Stored(ctx); err == nil {
				var acked int64
				for i := range bs {
					bs[i].Database, bs[i].Target = d.Label, "baseline"
					acked += bs[i].Result.Acked
				}
				for i := range bs {
					bs[i].Stored = storedCheck(acked, n, "rows")
				}
			}
		}
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		logRows(bs)
		rows = append(rows, bs...)
	}
	c, err := StartClickback(ctx, d.DB, opts.Server)
	if err != nil {
		return nil, err
	}
	cs, err := runLoads(ctx, loads, map[string]string{"collect": c.CollectURL, "tag": c.TagURL}, opts)
	c.Close()
	if err != nil {
		return nil, err
	}
	for i := range cs {
		cs[i].Database, cs[i].Target = d.Label, "clickback"
		if cs[i].Stored, err = checkStored(ctx, d.DB, cs[i]); err != nil {
			return nil, err
		}
		for _, b := range rows {
			if b.Load == cs[i].Load && b.PerSecond > 0 {
				cs[i].Ratio = cs[i].PerSecond / b.PerSecond
			}
		}
	}
	logRows(cs)
	return append(rows, cs...), nil
}

// runLoads runs the loads at once and returns a row for each.
func runLoads(ctx context.Context, loads []string, urls map[string]string, opts Options) ([]Row, error) {
	rows := make([]Row, len(loads))
	errs := make([]error, len(loads))
	done := make(chan int, len(loads))
	for i, l := range loads {
		go func() {
			defer func() { done <- i }()
			switch l {
			case "collect":
				res, err := loadgen.Collect(ctx, loadgen.CollectConfig{URL: urls[l], Concurrency: opts.Concurrency, Duration: opts.Duration, Rate: opts.Rate, Keep: true})
				rows[i], errs[i] = Row{Load: l, Unit: "postbacks", Result: res, PerSecond: res.Throughput()}, err
			case "tag":
				res, err := loadgen.Tag(ctx, loadgen.TagConfig{URL: urls[l], Concurrency: opts.Concurrency, Duration: opts.Duration, Rate: opts.Rate})
				rows[i], errs[i] = Row{Load: l, Unit: "events", Result: res.Result, PerSecond: res.EventsPerSecond(), tag: res}, err
			}
		}()
	}
	for range loads {
		<-done
	}
	return rows, errors.Join(errs...)
}

func storedCheck(acked, stored int64, what string) string {
	if acked == stored {
		return fmt.Sprintf("ok (%d %s)", stored, what)
	}
	return fmt.Sprintf("MISMATCH: %d acknowledged, %d %s stored", acked, stored, what)
}

// checkStored checks that every acknowledged request of r is stored: each
// acknowledged postback's conversion once, each acknowledged tag event and
// each visit's Click.
func checkStored(ctx context.Context, db *database.DB, r Row) (string, error) {
	sys := viewer.SystemContext(ctx, "")
	switch r.Load {
	case "collect":
		stored, err := db.Ent.Conversion.Query().
			Where(conversion.StatusNEQ(conversion.StatusDUPLICATE)).
			Select(conversion.FieldTransactionID).
			Strings(sys)
		if err != nil {
			return "", err
		}
		acked := r.Result.AckedTransactions
		slices.Sort(stored)
		slices.Sort(acked)
		if !slices.Equal(stored, acked) {
			return fmt.Sprintf("MISMATCH: %d acknowledged, %d conversions stored", len(acked), len(stored)), nil
		}
		return fmt.Sprintf("ok (%d conversions)", len(stored)), nil
	case "tag":
		events, err := db.Ent.TrackEvent.Query().Count(sys)
		if err != nil {
			return "", err
		}
		clicks, err := db.Ent.Click.Query().Count(sys)
		if err != nil {
			return "", err
		}
		if int64(events) != r.tag.Events || int64(clicks) != r.tag.Visits {
			return fmt.Sprintf("MISMATCH: %d events, %d visits acknowledged; %d events, %d clicks stored", r.tag.Events, r.tag.Visits, events, clicks), nil
		}
		return fmt.Sprintf("ok (%d events, %d clicks)", events, clicks), nil
	}
	return "", fmt.Errorf("unknown load %q", r.Load)
}

// Table writes rows as a Markdown table.
func Table(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| database | server | load | throughput | clickback ÷ baseline | p50 | p90 | p99 | max | requests | non-2xx | errors | acknowledged → stored |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rows {
		ratio := ""
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f %s/s | %s | %s | %s | %s | %s | %d | %d | %d | %s |\n",
			r.Database, r.Target, r.Load, r.PerSecond, r.Unit, ratio,
			ms(r.Result.P50), ms(r.Result.P90), ms(r.Result.P99), ms(r.Result.Max),
			r.Result.Sent, r.Result.Refused, r.Result.Errors, r.Stored)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
