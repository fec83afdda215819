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
