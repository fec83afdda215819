package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/report"
)

// RollupArgs asks for the report rollups to be brought up to date.
type RollupArgs struct{}

// Kind implements river.JobArgs.
func (RollupArgs) Kind() string { return "report_rollup" }

// InsertOpts keeps one rollup job queued at a time.
func (RollupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: RollupInterval}}
}

// RollupInterval is how often the rollups are brought up to date. Reports
// read the hours not rolled up yet from the raw tables, so it bounds cost,
// not freshness.
const RollupInterval = time.Minute

// RollupWorker rolls up the complete hours of every account and
// recomputes the rolled-up hours of the conversions and deliveries changed
// since its last run (see report.Rollup).
type RollupWorker struct {
	river.WorkerDefaults[RollupArgs]
	DB *database.DB
}

// Work implements river.Worker.
func (w *RollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	if _, err := report.Rollup(ctx, report.DB{SQL: w.DB.SQL, Dialect: w.DB.Dialect}, time.Now()); err != nil {
		return fmt.Errorf("report rollup: %w", err)
	}
	return nil
}
