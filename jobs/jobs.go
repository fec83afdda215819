// Package jobs holds clickback's River jobs and the client that runs them.
// Every job is written once, against *sql.Tx, and runs the same on SQLite
// and PostgreSQL.
package jobs

import (
	"cmp"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/destination"
)

// Deps is what the workers need.
type Deps struct {
	DB     *database.DB
	Config config.Config
	Logger *slog.Logger
}

// MaxWorkers is how many jobs one process runs at once; they mostly wait on
// the database and the ad platforms. FetchCooldown is how soon River looks
// for new jobs again after a fetch.
const (
	MaxWorkers    = 100
	FetchCooldown = 5 * time.Millisecond
)

// Timeouts of River's own machinery. A job running longer than JobTimeout
// is cancelled; one whose process died is rescued after RescueAfter, so an
// interrupted job runs again within minutes, not River's default hour.
// These are the defaults; CLICKBACK_JOB_TIMEOUT and CLICKBACK_JOB_RESCUE_AFTER
// (Config.JobTimeout, Config.JobRescueAfter) change them.
const (
	JobTimeout  = time.Minute
	RescueAfter = 2 * time.Minute
)

// NewClient returns a River client over the shared database, with every
// worker registered and the periodic maintenance scheduled. Start it to
// work jobs; an unstarted client only inserts.
func NewClient(d Deps) (*river.Client[*sql.Tx], error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &RetentionWorker{DB: d.DB}); err != nil {
		return nil, fmt.Errorf("register retention worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &RollupWorker{DB: d.DB}); err != nil {
		return nil, fmt.Errorf("register rollup worker: %w", err)
	}
	match := &MatchWorker{DB: d.DB, Config: d.Config}
	if err := river.AddWorkerSafely(workers, match); err != nil {
		return nil, fmt.Errorf("register match worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &MatchBatchWorker{Match: match}); err != nil {
		return nil, fmt.Errorf("register match batch worker: %w", err)
	}
	// config.Load guarantees a valid encryption key; a hand-built Config
	// without one (tools, tests of other parts) still gets a client, whose
	// forward jobs wait, retrying, until the process has a key.
	dests, err := destination.NewService(d.Config)
	if err != nil && d.Logger != nil {
		d.Logger.Warn("forwarding disabled: no valid encryption key", "err", err)
	}
	if err := river.AddWorkerSafely(workers, &ForwardWorker{DB: d.DB, Config: d.Config, Destinations: dests, Logger: d.Logger}); err != nil {
		return nil, fmt.Errorf("register forward worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &ForwardSweepWorker{DB: d.DB, Config: d.Config}); err != nil {
		return nil, fmt.Errorf("register forward sweep worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &StatusWorker{DB: d.DB}); err != nil {
		return nil, fmt.Errorf("register status worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &RetractWorker{DB: d.DB, Config: d.Config, Destinations: dests, Logger: d.Logger}); err != nil {
		return nil, fmt.Errorf("register retract worker: %w", err)
	}
	client, err := river.NewClient(d.DB.RiverDriver(), &river.Config{
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: MaxWorkers}},
		// River fetches at most once per FetchCooldown, so MaxWorkers per
		// cooldown caps the jobs run per second; its default (100 ms) would
		// cap matching and forwarding at a few hundred per second.
		FetchCooldown:        FetchCooldown,
		Workers:              workers,
		JobTimeout:           cmp.Or(d.Config.JobTimeout, JobTimeout),
		RescueStuckJobsAfter: max(cmp.Or(d.Config.JobRescueAfter, RescueAfter), cmp.Or(d.Config.JobTimeout, JobTimeout)),
		Middleware:           []rivertype.Middleware{&jobMetrics{}},
		Logger:               d.Logger,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "retention"}),
			river.NewPeriodicJob(river.PeriodicInterval(RollupInterval),
				func() (river.JobArgs, *river.InsertOpts) { return RollupArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "report_rollup"}),
			river.NewPeriodicJob(river.PeriodicInterval(SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return ForwardSweepArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "forward_sweep"}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return client, nil
}
