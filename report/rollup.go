package report

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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

// stateName names the rollups' state row; a new name rebuilds every rollup
// from scratch (see resetRollups). changesName names the row that holds
// the updated_at from which changed conversions and deliveries are looked
// for.
const (
	stateName   = "report.v4"
	changesName = stateName + ".changes"
)

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
		if err != nil {
			return sealed, err
		}
		if done {
			break
		}
	}
	if err := rollupChanges(ctx, db, now); err != nil {
		return sealed, err
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
		// A first run, or a new rollup layout: whatever rows an older
		// layout left are dropped, and everything is rolled up again.
		for _, table := range []string{"click_rollups", "conversion_rollups"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				return 0, false, fmt.Errorf("rollup reset: %w", err)
			}
		}
		if start, err = firstHour(ctx, tx, db.Dialect, target); err != nil {
			return 0, false, err
		}
	}
	end := min(target, start+int64(rollupChunk/time.Second))
	from, to := time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC()
	for _, acc := range accounts {
		for _, s := range []stmt{
			clickRollupInsert(db.Dialect, acc, from, to, clicksByPage),
			clickRollupInsert(db.Dialect, acc, from, to, clicksByUTM),
			clickRollupInsert(db.Dialect, acc, from, to, clicksByQuarter),
		} {
			if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
				return 0, false, fmt.Errorf("rollup of account %s: %w", acc, err)
			}
		}
		if err := conversionRollup(ctx, tx, db.Dialect, acc, start, end); err != nil {
			return 0, false, err
		}
		// The days this chunk completes.
		for day := start / dayBucket * dayBucket; day+dayBucket <= end; day += dayBucket {
			if day+dayBucket <= start {
				continue
			}
			for _, clicks := range []bool{true, false} {
				if err := dayRollup(ctx, tx, db.Dialect, acc, day, clicks); err != nil {
					return 0, false, err
				}
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

// The sets of click rollup rows (see schema.ClickRollup).
const (
	clicksByUTM     = iota // per hour, property and UTM
	clicksByPage           // also per landing page
	clicksByQuarter        // per quarter hour and property
)

// clickRollupInsert rolls up one set of rows of the visits and outbound
// clicks of one account in [from, to); the hours must not be rolled up
// already.
func clickRollupInsert(d, accountID string, from, to time.Time, set int) stmt {
	b := &builder{dialect: d}
	acc := b.arg(accountID)
	f, t := b.arg(from), b.arg(to)
	page := func(col string) string { return b.page(col) }
	if set != clicksByPage {
		page = func(string) string { return "''" }
	}
	utm := func(col string) string { return "coalesce(c." + col + ", '')" }
	size, minutes := rollupBucket, "60"
	if set == clicksByQuarter {
		utm = func(string) string { return "''" }
		size, minutes = rawBucket, "15"
	}
	b.w("INSERT INTO click_rollups (id, account_id, hour, property_id, utm_source, utm_medium, utm_campaign, pages, minutes, landing_page, clicks, outbound_clicks)",
		" SELECT ", newID(d, "rlc"), ", ", acc, ", x.hour, x.property_id, x.utm_source, x.utm_medium, x.utm_campaign, ", b.arg(set == clicksByPage), ", ", minutes,
		", x.landing_page, sum(x.clicks), sum(x.outbound_clicks) FROM (",
		"SELECT ", b.bucket(b.epoch("c.created_at"), size), " AS hour, c.property_id, ", utm("utm_source"), " AS utm_source, ", utm("utm_medium"), " AS utm_medium,",
		" ", utm("utm_campaign"), " AS utm_campaign, ", page("c.landing_page"), " AS landing_page, 1 AS clicks, 0 AS outbound_clicks",
		" FROM clicks c WHERE c.account_id = ", acc, " AND c.bot = false AND c.created_at >= ", f, " AND c.created_at < ", t,
		" UNION ALL SELECT ", b.bucket(b.epoch("e.created_at"), size), ", e.property_id, ", utm("utm_source"), ", ", utm("utm_medium"), ",",
		" ", utm("utm_campaign"), ", ", page("c.landing_page"), ", 0, 1",
		" FROM track_events e LEFT JOIN clicks c ON c.account_id = ", acc, " AND c.click_id = e.click_id",
		" WHERE e.account_id = ", acc, " AND e.name = 'OutboundClick' AND e.bot = false AND e.created_at >= ", f, " AND e.created_at < ", t,
		") x GROUP BY x.hour, x.property_id, x.utm_source, x.utm_medium, x.utm_campaign, x.landing_page")
	return b.done()
}

// Levels of detail of the conversion rollups (see schema.ConversionRollup).
const (
	levelBasic = 0 // integration, event name, currency, destination
	levelUTM   = 1 // also property, UTM source, medium and campaign
	levelPage  = 2 // also landing page
	// levelQuarter is levelBasic per quarter hour, for the time zones
	// whose offset is not a whole number of hours.
	levelQuarter = 3
)

// dayBucket is the size of the day rows: for each complete UTC day, the
// sums of its hour rows (click rows of minutes 1440, conversion rows of
// levels 4 to 6 for levels 0 to 2, with the click's UTC day in
// click_hour), which reports without a time dimension read for the whole
// days of their range.
const dayBucket = 24 * 3600

// dayLevel is the level of the day rows of the hour rows of level.
func dayLevel(level int) int { return level + 4 }

// dayRollup (re)makes the day rows of the UTC day starting at day (unix
// seconds) from its hour rows, for clicks or conversions.
func dayRollup(ctx context.Context, tx *sql.Tx, d, accountID string, day int64, clicks bool) error {
	var stmts []stmt
	b := &builder{dialect: d}
	acc := b.arg(accountID)
	// Integers of our own: literals, as a parameter in a SELECT list has
	// no type on PostgreSQL.
	dayArg, endArg := strconv.FormatInt(day, 10), strconv.FormatInt(day+dayBucket, 10)
	if clicks {
		b.w("DELETE FROM click_rollups WHERE account_id = ", acc, " AND pages IN (", b.arg(false), ", ", b.arg(true), ") AND hour = ", dayArg, " AND minutes = 1440")
		stmts = append(stmts, b.done())
		b = &builder{dialect: d}
		acc = b.arg(accountID)
		b.w("INSERT INTO click_rollups (id, account_id, hour, property_id, utm_source, utm_medium, utm_campaign, pages, minutes, landing_page, clicks, outbound_clicks)",
			" SELECT ", newID(d, "rlc"), ", r.account_id, ", dayArg, ", r.property_id, r.utm_source, r.utm_medium, r.utm_campaign, r.pages, 1440, r.landing_page, sum(r.clicks), sum(r.outbound_clicks)",
			" FROM click_rollups r WHERE r.account_id = ", acc, " AND r.pages IN (", b.arg(false), ", ", b.arg(true), ") AND r.hour >= ", dayArg, " AND r.hour < ", endArg, " AND r.minutes = 60",
			" GROUP BY r.account_id, r.property_id, r.utm_source, r.utm_medium, r.utm_campaign, r.pages, r.landing_page")
		stmts = append(stmts, b.done())
	} else {
		b.w("DELETE FROM conversion_rollups WHERE account_id = ", acc, " AND level IN (4, 5, 6) AND hour = ", dayArg)
		stmts = append(stmts, b.done())
		b = &builder{dialect: d}
		acc = b.arg(accountID)
		clickDay := "CASE WHEN r.click_hour < 0 THEN -1 ELSE r.click_hour / " + strconv.Itoa(dayBucket) + " * " + strconv.Itoa(dayBucket) + " END"
		b.w("INSERT INTO conversion_rollups (id, account_id, level, hour, click_hour, integration_id, event_name, currency, property_id,",
			" utm_source, utm_medium, utm_campaign, landing_page, destination_id, conversions, leads, purchases, amount_micros, deliveries_sent, deliveries_failed)",
			" SELECT ", newID(d, "rlv"), ", r.account_id, r.level + 4, ", dayArg, ", ", clickDay, ", r.integration_id, r.event_name, r.currency, r.property_id,",
			" r.utm_source, r.utm_medium, r.utm_campaign, r.landing_page, r.destination_id, sum(r.conversions), sum(r.leads), sum(r.purchases), sum(r.amount_micros),",
			" sum(r.deliveries_sent), sum(r.deliveries_failed)",
			" FROM conversion_rollups r WHERE r.account_id = ", acc, " AND r.level IN (0, 1, 2) AND r.hour >= ", dayArg, " AND r.hour < ", endArg,
			" GROUP BY r.account_id, r.level, ", clickDay, ", r.integration_id, r.event_name, r.currency, r.property_id, r.utm_source, r.utm_medium, r.utm_campaign, r.landing_page, r.destination_id")
		stmts = append(stmts, b.done())
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("day rollup of account %s: %w", accountID, err)
		}
	}
	return nil
}

// conversionRollup (re)computes the conversion rollups of one account for
// the conversions received in the hours [from, to) (unix seconds): the rows
// of those hours are deleted and made again from the raw rows, so it is
// right whether or not the hours were rolled up before.
func conversionRollup(ctx context.Context, tx *sql.Tx, d, accountID string, from, to int64) error {
	del := &builder{dialect: d}
	del.w("DELETE FROM conversion_rollups WHERE account_id = ", del.arg(accountID), " AND level IN (0, 1, 2, 3) AND hour >= ", del.arg(from), " AND hour < ", del.arg(to))
	stmts := []stmt{del.done()}
	for level := levelBasic; level <= levelQuarter; level++ {
		stmts = append(stmts,
			conversionRollupInsert(d, accountID, from, to, level, false),
			conversionRollupInsert(d, accountID, from, to, level, true))
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("conversion rollup of account %s: %w", accountID, err)
		}
	}
	return nil
}

// conversionRollupInsert rolls up, at one level, the counted conversions of
// one account received in [from, to), or with deliveries their deliveries
// per destination.
func conversionRollupInsert(d, accountID string, from, to int64, level int, deliveries bool) stmt {
	b := &builder{dialect: d}
	acc := b.arg(accountID)
	q := &Query{Attribution: ClickTime}
	dims := conversionDims(b)
	size := rollupBucket
	if level == levelQuarter {
		size = rawBucket
	}
	dim := func(dd Dimension, min int) string {
		if level < min || level == levelQuarter {
			return "''"
		}
		return dims[dd]
	}
	property := "''"
	if level == levelUTM || level == levelPage {
		property = "coalesce(p.property_id, '')"
	}
	dest, sent, failed := "''", "0", "0"
	if deliveries {
		dest, sent, failed = "d.destination_id", "CASE WHEN d.status = 'SENT' THEN 1 ELSE 0 END", "CASE WHEN d.status = 'FAILED' THEN 1 ELSE 0 END"
	}
	b.w("INSERT INTO conversion_rollups (id, account_id, level, hour, click_hour, integration_id, event_name, currency, property_id,",
		" utm_source, utm_medium, utm_campaign, landing_page, destination_id, conversions, leads, purchases, amount_micros, deliveries_sent, deliveries_failed)",
		" SELECT ", newID(d, "rlv"), ", ", acc, ", ", strconv.Itoa(level), ", x.hour, x.click_hour, x.integration_id, x.event_name, x.currency, x.property_id,",
		" x.utm_source, x.utm_medium, x.utm_campaign, x.landing_page, x.destination_id, count(*), sum(x.lead), sum(x.purchase), sum(x.amount_micros), sum(x.sent), sum(x.failed) FROM (",
		"SELECT ", b.bucket(b.epoch("v.received_at"), size), " AS hour, coalesce(", b.bucket(conversionTime(b, q), size), ", -1) AS click_hour,",
		" v.integration_id, v.event_name, v.currency, ", property, " AS property_id, ",
		dim(UTMSource, levelUTM), " AS utm_source, ", dim(UTMMedium, levelUTM), " AS utm_medium, ", dim(UTMCampaign, levelUTM), " AS utm_campaign, ",
		dim(LandingPage, levelPage), " AS landing_page, ", dest, " AS destination_id,",
		" CASE WHEN v.kind = 'LEAD' THEN 1 ELSE 0 END AS lead, CASE WHEN v.kind = 'PURCHASE' THEN 1 ELSE 0 END AS purchase, v.amount_micros,",
		" ", sent, " AS sent, ", failed, " AS failed")
	if deliveries {
		b.w(" FROM deliveries d JOIN conversions v ON v.id = d.conversion_id AND v.account_id = d.account_id")
	} else {
		b.w(" FROM conversions v")
	}
	if level == levelUTM || level == levelPage {
		b.w(" LEFT JOIN clicks p ON p.id = v.visit_id AND p.account_id = ", acc)
	}
	b.w(" WHERE v.account_id = ", acc, " AND ", countedConversion,
		" AND v.received_at >= ", b.arg(time.Unix(from, 0).UTC()), " AND v.received_at < ", b.arg(time.Unix(to, 0).UTC()))
	if deliveries {
		b.w(" AND d.account_id = ", acc)
	}
	b.w(") x GROUP BY x.hour, x.click_hour, x.integration_id, x.event_name, x.currency, x.property_id, x.utm_source, x.utm_medium, x.utm_campaign, x.landing_page, x.destination_id")
	return b.done()
}

// rollupChanges recomputes the rolled-up hours of the conversions and
// deliveries updated since the last run (a late match or NO_MATCH, a
// delivery sent, failed or retried, a visit unlinked by retention). The
// look back starts RollupGrace before the previous run, as rows are
// stamped before they commit; recomputing an hour twice is harmless.
func rollupChanges(ctx context.Context, db DB, now time.Time) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rollup changes: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ph := func(n int) string { return placeholder(db.Dialect, n) }
	lock := ""
	if db.Dialect == dialect.Postgres {
		lock = " FOR UPDATE"
	}
	// The main state row first, always in this order, so that concurrent
	// runs queue rather than deadlock.
	var sealed, since int64
	if err := tx.QueryRowContext(ctx, "SELECT sealed_through FROM rollup_states WHERE name = "+ph(1)+lock, stateName).Scan(&sealed); err != nil {
		return fmt.Errorf("rollup state: %w", err)
	}
	err = tx.QueryRowContext(ctx, "SELECT sealed_through FROM rollup_states WHERE name = "+ph(1)+lock, changesName).Scan(&since)
	if errors.Is(err, sql.ErrNoRows) {
		// The first look: every row rolled up so far was read as it is.
		if _, err := tx.ExecContext(ctx, "INSERT INTO rollup_states (id, name, sealed_through) VALUES ("+ph(1)+", "+ph(2)+", "+ph(3)+")",
			"rls"+randomHex(), changesName, now.Add(-RollupGrace).Unix()); err != nil {
			return fmt.Errorf("rollup state: %w", err)
		}
		return tx.Commit()
	} else if err != nil {
		return fmt.Errorf("rollup state: %w", err)
	}
	next := now.Add(-RollupGrace).Unix()
	if next <= since {
		return nil
	}
	changed, err := changedHours(ctx, tx, db.Dialect, time.Unix(since, 0).UTC(), sealed)
	if err != nil {
		return err
	}
	var days []accountHour
	seen := map[accountHour]bool{}
	for _, ah := range changed {
		if err := conversionRollup(ctx, tx, db.Dialect, ah.account, ah.hour, ah.hour+3600); err != nil {
			return err
		}
		// The complete days of the hours, once all of them are done.
		day := accountHour{ah.account, ah.hour / dayBucket * dayBucket}
		if day.hour+dayBucket <= sealed && !seen[day] {
			seen[day] = true
			days = append(days, day)
		}
	}
	for _, day := range days {
		if err := dayRollup(ctx, tx, db.Dialect, day.account, day.hour, false); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE rollup_states SET sealed_through = "+ph(1)+" WHERE name = "+ph(2), next, changesName); err != nil {
		return fmt.Errorf("rollup state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rollup commit: %w", err)
	}
	return nil
}

// accountHour is an hour of an account's conversions.
type accountHour struct {
	account string
	hour    int64
}

// changedHours lists the rolled-up hours (before sealed) of the
// conversions updated since, or whose deliveries were. Conversions are
// looked up per account, on their (account_id, updated_at) index;
// deliveries in one statement for every account: that is one scan of them
// per run without an index on their updated_at.
func changedHours(ctx context.Context, tx *sql.Tx, d string, since time.Time, sealed int64) ([]accountHour, error) {
	accounts, err := accountIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	seen := map[accountHour]bool{}
	var out []accountHour
	read := func(s stmt) error {
		rs, err := tx.QueryContext(ctx, s.sql, s.args...)
		if err != nil {
			return fmt.Errorf("rollup changes: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var ah accountHour
			if err := rs.Scan(&ah.account, &ah.hour); err != nil {
				return err
			}
			if !seen[ah] {
				seen[ah] = true
				out = append(out, ah)
			}
		}
		return rs.Err()
	}
	for _, acc := range accounts {
		b := &builder{dialect: d}
		b.w("SELECT DISTINCT v.account_id, ", b.bucket(b.epoch("v.received_at"), rollupBucket), " FROM conversions v WHERE v.account_id = ", b.arg(acc),
			" AND v.updated_at >= ", b.arg(since), " AND v.received_at < ", b.arg(time.Unix(sealed, 0).UTC()))
		if err := read(b.done()); err != nil {
			return nil, err
		}
	}
	b := &builder{dialect: d}
	b.w("SELECT DISTINCT v.account_id, ", b.bucket(b.epoch("v.received_at"), rollupBucket),
		" FROM deliveries d JOIN conversions v ON v.id = d.conversion_id AND v.account_id = d.account_id",
		" WHERE d.updated_at >= ", b.arg(since), " AND v.received_at < ", b.arg(time.Unix(sealed, 0).UTC()))
	if err := read(b.done()); err != nil {
		return nil, err
	}
	return out, nil
}
