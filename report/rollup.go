package report

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
)

// RollupGrace is how long after an hour ends its rows are rolled up: rows
// are stamped when they are built and committed moments later, so an hour
// is complete well before this.
const RollupGrace = 5 * time.Minute

// rollupChunk is the span rolled up in one transaction, and maxChunks how
// many one call does: a first run over a long history catches up over
// several runs rather than holding one transaction for minutes.
const (
	rollupChunk = 24 * time.Hour
	maxChunks   = 31
)

const stateName = "report"

// sealedThrough returns the unix second before which every hour is rolled
// up (0 before the first rollup).
func sealedThrough(ctx context.Context, db DB) (int64, error) {
	var sealed int64
	q := "SELECT sealed_through FROM rollup_states WHERE name = " + placeholder(db.Dialect, 1)
	err := db.SQL.QueryRowContext(ctx, q, stateName).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("report rollup state: %w", err)
	}
	return sealed, nil
}

func placeholder(d string, n int) string {
	if d == dialect.Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return fmt.Sprintf("?%d", n)
}

// Rollup rolls up every complete hour (ended RollupGrace before now) not
// yet rolled up, for every account, one day per transaction and at most a
// month per call, and returns the new sealed point (unix seconds). It is
// safe to run from several processes at once: on PostgreSQL the state row
// is locked, on SQLite transactions are serial.
func Rollup(ctx context.Context, db DB, now time.Time) (int64, error) {
	target := now.Add(-RollupGrace).Unix() / 3600 * 3600
	var sealed int64
	for range maxChunks {
		var done bool
		var err error
		sealed, done, err = rollupChunkTx(ctx, db, target)
		if err != nil || done {
			return sealed, err
		}
	}
	return sealed, nil
}

// rollupChunkTx rolls up at most one chunk and reports whether the rollups
// reach target.
func rollupChunkTx(ctx context.Context, db DB, target int64) (int64, bool, error) {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("rollup: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ph := func(n int) string { return placeholder(db.Dialect, n) }
	lock := ""
	if db.Dialect == dialect.Postgres {
		lock = " FOR UPDATE"
	}
	var sealed int64
	err = tx.QueryRowContext(ctx, "SELECT sealed_through FROM rollup_states WHERE name = "+ph(1)+lock, stateName).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, "INSERT INTO rollup_states (id, name, sealed_through) VALUES ("+ph(1)+", "+ph(2)+", 0) ON CONFLICT (name) DO NOTHING",
			"rls"+randomHex(), stateName); err != nil {
			return 0, false, fmt.Errorf("rollup state: %w", err)
		}
		if err := tx.QueryRowContext(ctx, "SELECT sealed_through FROM rollup_states WHERE name = "+ph(1)+lock, stateName).Scan(&sealed); err != nil {
			return 0, false, fmt.Errorf("rollup state: %w", err)
		}
	} else if err != nil {
		return 0, false, fmt.Errorf("rollup state: %w", err)
	}
	if sealed >= target {
		return sealed, true, nil
	}
	accounts, err := accountIDs(ctx, tx)
	if err != nil {
		return 0, false, err
	}
	start := sealed
	if start == 0 {
		if start, err = firstHour(ctx, tx, db.Dialect, target); err != nil {
			return 0, false, err
		}
	}
	end := min(target, start+int64(rollupChunk/time.Second))
	from, to := time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC()
	for _, acc := range accounts {
		for _, s := range []stmt{
			clickRollupInsert(db.Dialect, acc, from, to, true),
			clickRollupInsert(db.Dialect, acc, from, to, false),
			conversionRollupInsert(db.Dialect, acc, from, to),
		} {
			if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
				return 0, false, fmt.Errorf("rollup of account %s: %w", acc, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE rollup_states SET sealed_through = "+ph(1)+" WHERE name = "+ph(2), end, stateName); err != nil {
		return 0, false, fmt.Errorf("rollup state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("rollup commit: %w", err)
	}
	return end, end >= target, nil
}

func accountIDs(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT id FROM accounts ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("rollup accounts: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// firstHour is where the first rollup starts: the hour of the oldest
// visit, tag event or conversion, or target when there are none.
func firstHour(ctx context.Context, tx *sql.Tx, d string, target int64) (int64, error) {
	first := target
	for _, q := range []struct{ table, col string }{{"clicks", "created_at"}, {"track_events", "created_at"}, {"conversions", "received_at"}} {
		b := &builder{dialect: d}
		var v sql.NullFloat64
		if err := tx.QueryRowContext(ctx, "SELECT CAST(min("+b.epoch(q.col)+") AS DOUBLE PRECISION) FROM "+q.table).Scan(&v); err != nil {
			return 0, fmt.Errorf("rollup start: %w", err)
		}
		if v.Valid && int64(v.Float64) < first {
			first = int64(v.Float64) / 3600 * 3600
		}
	}
	return first, nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newID is a fresh row id made by the database, with the schema's prefix.
func newID(d, prefix string) string {
	if d == dialect.Postgres {
		return "'" + prefix + "' || md5(random()::text || clock_timestamp()::text)"
	}
	return "'" + prefix + "' || lower(hex(randomblob(16)))"
}

// clickRollupInsert rolls up the visits and outbound clicks of one account
// in [from, to), per landing page or not; the hours must not be rolled up
// already.
func clickRollupInsert(d, accountID string, from, to time.Time, pages bool) stmt {
	b := &builder{dialect: d}
	acc := b.arg(accountID)
	f, t := b.arg(from), b.arg(to)
	page := func(col string) string { return b.page(col) }
	if !pages {
		page = func(string) string { return "''" }
	}
	b.w("INSERT INTO click_rollups (id, account_id, hour, property_id, utm_source, utm_medium, utm_campaign, pages, landing_page, clicks, outbound_clicks)",
		" SELECT ", newID(d, "rlc"), ", ", acc, ", x.hour, x.property_id, x.utm_source, x.utm_medium, x.utm_campaign, ", b.arg(pages), ", x.landing_page, sum(x.clicks), sum(x.outbound_clicks) FROM (",
		"SELECT ", b.bucket(b.epoch("c.created_at"), rollupBucket), " AS hour, c.property_id, coalesce(c.utm_source, '') AS utm_source, coalesce(c.utm_medium, '') AS utm_medium,",
		" coalesce(c.utm_campaign, '') AS utm_campaign, ", page("c.landing_page"), " AS landing_page, 1 AS clicks, 0 AS outbound_clicks",
		" FROM clicks c WHERE c.account_id = ", acc, " AND c.bot = false AND c.created_at >= ", f, " AND c.created_at < ", t,
		" UNION ALL SELECT ", b.bucket(b.epoch("e.created_at"), rollupBucket), ", e.property_id, coalesce(c.utm_source, ''), coalesce(c.utm_medium, ''),",
		" coalesce(c.utm_campaign, ''), ", page("c.landing_page"), ", 0, 1",
		" FROM track_events e LEFT JOIN clicks c ON c.account_id = ", acc, " AND c.click_id = e.click_id",
		" WHERE e.account_id = ", acc, " AND e.name = 'OutboundClick' AND e.bot = false AND e.created_at >= ", f, " AND e.created_at < ", t,
		") x GROUP BY x.hour, x.property_id, x.utm_source, x.utm_medium, x.utm_campaign, x.landing_page")
	return b.done()
}

// conversionRollupInsert rolls up the counted conversions of one account
// received in [from, to).
func conversionRollupInsert(d, accountID string, from, to time.Time) stmt {
	b := &builder{dialect: d}
	acc := b.arg(accountID)
	b.w("INSERT INTO conversion_rollups (id, account_id, hour, integration_id, event_name, currency, conversions, leads, purchases, amount_micros)",
		" SELECT ", newID(d, "rlv"), ", ", acc, ", x.hour, x.integration_id, x.event_name, x.currency, count(*), sum(x.lead), sum(x.purchase), sum(x.amount_micros) FROM (",
		"SELECT ", b.bucket(b.epoch("v.received_at"), rollupBucket), " AS hour, v.integration_id, v.event_name, v.currency,",
		" CASE WHEN v.kind = 'LEAD' THEN 1 ELSE 0 END AS lead, CASE WHEN v.kind = 'PURCHASE' THEN 1 ELSE 0 END AS purchase, v.amount_micros",
		" FROM conversions v WHERE v.account_id = ", acc, " AND ", countedConversion,
		" AND v.received_at >= ", b.arg(from), " AND v.received_at < ", b.arg(to),
		") x GROUP BY x.hour, x.integration_id, x.event_name, x.currency")
	return b.done()
}
