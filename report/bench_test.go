package report_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/migrations"
	"github.com/clickback/clickback/report"
)

// BenchmarkReport30Days measures 30-day reports of one account holding
// 10,000,000 visits, 1,000,000 OutboundClick events, 1,000,000 conversions
// and 800,000 deliveries on PostgreSQL, after the rollup job has run (the
// last hour is read raw, as in production). Seeding takes minutes, so it
// runs only with CLICKBACK_REPORT_BENCH=1 (or a fraction, 0.01 for 1% of
// the rows); the seeded databases are kept in the test cluster (see
// benchDatabase), so later runs start at once:
//
//	CLICKBACK_REPORT_BENCH=1 go test ./report -run '^$' -bench Report30Days -benchtime 20x
//
// With CLICKBACK_REPORT_EXPLAIN=1 (and -v), it logs the EXPLAIN ANALYZE of
// every statement of every case.
func BenchmarkReport30Days(b *testing.B) {
	scale, err := strconv.ParseFloat(os.Getenv("CLICKBACK_REPORT_BENCH"), 64)
	if err != nil || scale <= 0 || scale > 1 {
		b.Skip("set CLICKBACK_REPORT_BENCH=1 to seed 10M visits and run the report benchmark (0.01 for 1% of it)")
	}
	ctx := context.Background()
	db, err := database.OpenPostgres(ctx, benchDatabase(b, scale))
	require.NoError(b, err)
	defer db.Close()
	rdb := report.DB{SQL: db.SQL, Dialect: db.Dialect}
	var accountID string
	var start, end time.Time
	require.NoError(b, db.SQL.QueryRowContext(ctx, `SELECT account_id, min(created_at), max(created_at) FROM clicks GROUP BY account_id ORDER BY count(*) DESC LIMIT 1`).
		Scan(&accountID, &start, &end))
	clicks, conversions := int64(10_000_000*scale), int64(1_000_000*scale)
	rates := report.Rates{"EUR": 0.9}

	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(b, err)
	for _, c := range []struct {
		name    string
		groupBy []report.Dimension
		need    report.Need
		attr    report.Attribution
		filters report.Filters
		loc     *time.Location
	}{
		{name: "day", groupBy: []report.Dimension{report.Day}, need: report.Need{Clicks: true, Conversions: true}},
		{name: "hour,integration,event", groupBy: []report.Dimension{report.Hour, report.Integration, report.EventName}, need: report.Need{Clicks: true, Conversions: true}},
		{name: "campaign/clicks", groupBy: []report.Dimension{report.UTMCampaign}, need: report.Need{Clicks: true}},
		{name: "landing page/clicks", groupBy: []report.Dimension{report.LandingPage}, need: report.Need{Clicks: true}},
		{name: "day/deliveries", groupBy: []report.Dimension{report.Day}, need: report.All},
		{name: "utm_source/conversions", groupBy: []report.Dimension{report.UTMSource}, need: report.Need{Clicks: true, Conversions: true}},
		{name: "source,medium,campaign/all", groupBy: []report.Dimension{report.UTMSource, report.UTMMedium, report.UTMCampaign}, need: report.All},
		{name: "landing page/all", groupBy: []report.Dimension{report.LandingPage}, need: report.All},
		{name: "destination/all", groupBy: []report.Dimension{report.Destination}, need: report.All},
		{name: "day,destination,event/all", groupBy: []report.Dimension{report.Day, report.Destination, report.EventName}, need: report.All},
		{name: "day/all by click time", groupBy: []report.Dimension{report.Day}, need: report.All, attr: report.ClickTime},
		{name: "campaign,landing page/all by click time", groupBy: []report.Dimension{report.UTMCampaign, report.LandingPage}, need: report.All, attr: report.ClickTime},
		{name: "day/all, one campaign", groupBy: []report.Dimension{report.Day}, need: report.All, filters: report.Filters{UTMCampaigns: []string{"campaign10"}}},
		{name: "hour/all, Asia/Kolkata", groupBy: []report.Dimension{report.Hour}, need: report.All, loc: kolkata},
		{name: "day/all, Asia/Kolkata", groupBy: []report.Dimension{report.Day}, need: report.All, loc: kolkata},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := report.Query{AccountID: accountID, From: start, To: end.Add(2 * time.Minute), GroupBy: c.groupBy, Currency: "USD", Need: c.need,
				Attribution: c.attr, Filters: c.filters, Location: c.loc}
			var r *report.Report
			for b.Loop() {
				var err error
				r, err = report.Run(ctx, rdb, q, rates)
				require.NoError(b, err)
			}
			if c.need.Clicks && len(c.filters.UTMCampaigns) == 0 {
				require.Equal(b, clicks-clicks/100, r.Totals.Clicks)
			}
			if c.need.Conversions && c.attr != report.ClickTime && len(c.filters.UTMCampaigns) == 0 {
				require.InDelta(b, conversions, r.Totals.Conversions, 1)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
			if os.Getenv("CLICKBACK_REPORT_EXPLAIN") != "" {
				plans, err := report.Explain(ctx, rdb, q)
				require.NoError(b, err)
				for _, p := range plans {
					b.Log(p)
				}
			}
		})
	}
}

// benchSeedVersion names the seeded rows: change it when seedBench
// changes.
const benchSeedVersion = "v3"

// benchDatabase returns the URL of the benchmark's database, made once and
// kept in the shared test cluster in two steps, each under its own name:
// the raw rows (seedBench), which take minutes, survive schema changes;
// the database the benchmark reads is a copy of them, migrated and rolled
// up for the current migrations and rollup code, remade when either
// changes. It is only read, never changed. The databases are managed here
// rather than as pgtest templates, whose preparation is bounded to minutes
// that seeding on a busy machine exceeds.
func benchDatabase(b *testing.B, scale float64) string {
	ctx := context.Background()
	base, err := url.Parse(pgtest.URL(b)) // the cluster's address
	require.NoError(b, err)
	at := func(name string) string {
		u := *base
		u.Path = "/" + name
		return u.String()
	}
	admin, err := pgx.Connect(ctx, at("postgres"))
	require.NoError(b, err)
	defer admin.Close(ctx)
	tag := strings.ReplaceAll(fmt.Sprintf("%g", scale), ".", "_")
	// One process at a time prepares the databases.
	_, err = admin.Exec(ctx, "SELECT pg_advisory_lock(hashtext('clickback report bench ' || $1))", tag)
	require.NoError(b, err)
	defer func() {
		_, _ = admin.Exec(ctx, "SELECT pg_advisory_unlock(hashtext('clickback report bench ' || $1))", tag)
	}()
	exists := func(name string) bool {
		var n int
		require.NoError(b, admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
		return n > 0
	}
	ident := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	// build builds a database under a temporary name and renames it when
	// done, so that a name that exists is complete.
	build := func(name, template string, prepare func(url string) error) {
		tmp := name + "_tmp"
		_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(tmp)+" WITH (FORCE)")
		require.NoError(b, err)
		create := "CREATE DATABASE " + ident(tmp)
		if template != "" {
			create += " TEMPLATE " + ident(template)
		}
		_, err = admin.Exec(ctx, create)
		require.NoError(b, err)
		require.NoError(b, prepare(at(tmp)))
		_, err = admin.Exec(ctx, "ALTER DATABASE "+ident(tmp)+" RENAME TO "+ident(name))
		require.NoError(b, err)
	}
	raw := "report_bench_raw_" + benchSeedVersion + "_" + tag
	if !exists(raw) {
		build(raw, "", func(url string) error {
			db, err := database.OpenPostgres(ctx, url)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				return err
			}
			return seedBench(ctx, b, db, scale)
		})
	}
	name := "report_bench_" + tag + "_" + migrationsHash(b) + "_" + rollupHash(b)
	if !exists(name) {
		// Older copies are of no more use.
		rs, err := admin.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'report_bench_' || $1 || '_%' AND datname <> $2", tag, raw)
		require.NoError(b, err)
		var old []string
		for rs.Next() {
			var n string
			require.NoError(b, rs.Scan(&n))
			old = append(old, n)
		}
		require.NoError(b, rs.Err())
		for _, n := range old {
			_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(n)+" WITH (FORCE)")
			require.NoError(b, err)
		}
		build(name, raw, func(url string) error {
			db, err := database.OpenPostgres(ctx, url)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				return err
			}
			return rollUpBench(ctx, b, db)
		})
	}
	return at(name)
}

// seedBench writes the benchmark's rows with generate_series.
func seedBench(ctx context.Context, b *testing.B, db *database.DB, scale float64) error {
	t := seed.NewTenant(b, db.Ent, "")
	other := seed.NewTenant(b, db.Ent, "")
	now := time.Now().UTC()
	start := now.Add(-30 * 24 * time.Hour)
	clicks, events, conversions := int(10_000_000*scale), int(1_000_000*scale), int(1_000_000*scale)
	began := time.Now()
	// Secondary indexes are dropped while seeding and made again after:
	// building an index over sorted rows is many times faster than
	// updating it row by row.
	indexes := map[string]string{}
	rs, err := db.SQL.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('clicks', 'track_events', 'conversions', 'deliveries') AND indexname NOT LIKE '%_pkey'`)
	if err != nil {
		return err
	}
	for rs.Next() {
		var name, def string
		if err := rs.Scan(&name, &def); err != nil {
			return err
		}
		indexes[name] = def
	}
	rs.Close()
	for name := range indexes {
		if _, err := db.SQL.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil {
			return err
		}
	}
	step := (30 * 24 * 3600.0) / float64(clicks)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		// 50 campaigns (each of one source and medium) with 5 landing pages
		// each; every visit's URL carries its own gclid; 1% are bots.
		{`INSERT INTO clicks (id, click_id, utm_source, utm_medium, utm_campaign, landing_page, bot, created_at, last_seen_at, account_id, property_id)
		  SELECT 'clk' || g, 'c' || g, 'source' || (g % 50 % 10), 'medium' || (g % 50 % 4), 'campaign' || (g % 50),
		         'https://shop.example/page' || (g % 50) || '-' || (g / 50 % 5) || '?gclid=' || g, g % 100 = 0,
		         $1::timestamptz + (g * $2::float8) * interval '1 second', $1::timestamptz + (g * $2::float8) * interval '1 second', $3, $4
		  FROM generate_series(1, $5::int) g`,
			[]any{start, step, t.AccountID, t.PropertyID, clicks}},
		{`INSERT INTO track_events (id, click_id, name, bot, created_at, account_id, property_id)
		  SELECT 'evt' || g, 'c' || (g * 10), 'OutboundClick', false, $1::timestamptz + (g * 10 * $2::float8) * interval '1 second', $3, $4
		  FROM generate_series(1, $5::int) g`,
			[]any{start, step, t.AccountID, t.PropertyID, events}},
		// A conversion for every tenth visit, a minute after it; 80%
		// matched (with the visit and its attribution snapshot), a third
		// purchases, a tenth in EUR.
		{`INSERT INTO conversions (id, status, kind, event_name, amount_micros, currency, click_id, test, attribution, received_at, updated_at, account_id, integration_id, visit_id)
		  SELECT 'cnv' || g, CASE WHEN g % 5 = 0 THEN 'NO_MATCH' ELSE 'MATCHED' END,
		         CASE WHEN g % 3 = 0 THEN 'PURCHASE' ELSE 'LEAD' END, CASE WHEN g % 3 = 0 THEN 'Purchase' ELSE 'Lead' END,
		         CASE WHEN g % 3 = 0 THEN 12340000 ELSE 0 END, CASE WHEN g % 10 = 0 THEN 'EUR' ELSE 'USD' END, 'c' || (g * 10), false,
		         CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('utm_source', 'source' || (g * 10 % 50 % 10), 'utm_medium', 'medium' || (g * 10 % 50 % 4),
		              'utm_campaign', 'campaign' || (g * 10 % 50), 'landing_page', 'https://shop.example/page' || (g * 10 % 50) || '-' || (g * 10 / 50 % 5) || '?gclid=' || (g * 10),
		              'clicked_at', to_char(($1::timestamptz + (g * 10 * $2::float8) * interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) END,
		         $1::timestamptz + (g * 10 * $2::float8 + 60) * interval '1 second', $1::timestamptz + (g * 10 * $2::float8 + 60) * interval '1 second', $3, $4,
		         CASE WHEN g % 5 = 0 THEN NULL ELSE 'clk' || (g * 10) END
		  FROM generate_series(1, $5::int) g`,
			[]any{start, step, t.AccountID, t.IntegrationID, conversions}},
		{`INSERT INTO deliveries (id, created_at, updated_at, conversion_id, destination_id, status, attempts, event_id, account_id)
		  SELECT 'dlv' || v.id, v.received_at, v.received_at, v.id, $1, CASE WHEN length(v.id) % 7 = 0 THEN 'FAILED' ELSE 'SENT' END, 1, v.id, $2
		  FROM conversions v WHERE v.account_id = $3 AND v.status = 'MATCHED'`,
			[]any{t.DestinationID, t.AccountID, t.AccountID}},
	} {
		if _, err := db.SQL.ExecContext(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("%.60s: %w", q.sql, err)
		}
	}
	for _, def := range indexes {
		if _, err := db.SQL.ExecContext(ctx, def); err != nil {
			return err
		}
	}
	other.Clicks(b, seed.Click{At: now.Add(-time.Hour), Source: "source1"})
	if _, err := db.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	b.Logf("seeded in %s", time.Since(began).Round(time.Second))
	return nil
}

// rollUpBench rolls the seeded rows up as the periodic job would have by
// the time the last of them was written, so that the last hour is read
// raw.
func rollUpBench(ctx context.Context, b *testing.B, db *database.DB) error {
	var now time.Time
	if err := db.SQL.QueryRowContext(ctx, "SELECT max(created_at) FROM clicks").Scan(&now); err != nil {
		return err
	}
	began := time.Now()
	rdb := report.DB{SQL: db.SQL, Dialect: db.Dialect}
	for {
		sealed, err := report.Rollup(ctx, rdb, now)
		if err != nil {
			return err
		}
		if sealed >= now.Add(-report.RollupGrace).Unix()/3600*3600 {
			break
		}
	}
	if _, err := db.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	b.Logf("rolled up in %s", time.Since(began).Round(time.Second))
	// A run with nothing new: what the periodic job costs once caught up.
	began = time.Now()
	if _, err := report.Rollup(ctx, rdb, now.Add(time.Minute)); err != nil {
		return err
	}
	b.Logf("a later rollup run took %s", time.Since(began).Round(time.Millisecond))
	return nil
}

// rollupHash identifies the rollup code, so that changed rollups are
// rolled up again.
func rollupHash(tb testing.TB) string {
	data, err := os.ReadFile("rollup.go")
	require.NoError(tb, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:8]
}

// migrationsHash identifies the schema, so that a changed schema is
// migrated and rolled up again.
func migrationsHash(tb testing.TB) string {
	h := sha256.New()
	fsys, err := migrations.FS(dialect.Postgres)
	require.NoError(tb, err)
	require.NoError(tb, fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		h.Write([]byte(path))
		h.Write(data)
		return err
	}))
	return hex.EncodeToString(h.Sum(nil))[:12]
}
