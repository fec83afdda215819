package report

import "context"

// RunRaw is Run reading the raw tables only, as before any rollup: what
// the rollups must agree with.
func RunRaw(ctx context.Context, db DB, q Query, rates Rates) (*Report, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return run(ctx, db, q, rates, 0)
}

// Explain returns the plan, with EXPLAIN ANALYZE on PostgreSQL, of each
// statement that Run would run for q.
func Explain(ctx context.Context, db DB, q Query) ([]string, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	sealed, err := sealedThrough(ctx, db)
	if err != nil {
		return nil, err
	}
	p := plan(&q, sealed)
	if db.Dialect == "postgres" && p.fromRollups(&q) {
		// As run does.
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
			return nil, err
		}
		db.tx = tx
	}
	if q.Attribution == ClickTime && sealed > 0 {
		if err := p.resolveReceived(ctx, db, &q, sealed); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, s := range p.statements(&q, db.Dialect) {
		rs, err := db.query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+s.sql, s.args...)
		if err != nil {
			return nil, err
		}
		text := s.sql + "\n"
		for rs.Next() {
			var line string
			if err := rs.Scan(&line); err != nil {
				rs.Close()
				return nil, err
			}
			text += line + "\n"
		}
		rs.Close()
		out = append(out, text)
	}
	return out, nil
}
