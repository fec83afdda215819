package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/clickback/clickback/metrics"
)

// jobMetrics is River worker middleware that records every job's run time
// (metrics.JobDuration, by kind and outcome) and how long it waited past
// its due time (metrics.JobQueueWait).
type jobMetrics struct {
	river.MiddlewareDefaults
}

var _ rivertype.WorkerMiddleware = (*jobMetrics)(nil)

// Work implements rivertype.WorkerMiddleware.
func (*jobMetrics) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	began := time.Now()
	if job.AttemptedAt != nil && !job.ScheduledAt.IsZero() {
		metrics.JobQueueWait.Observe(max(0, job.AttemptedAt.Sub(job.ScheduledAt).Seconds()), job.Kind)
	}
	err := doInner(ctx)
	outcome := "completed"
	if err != nil {
		outcome = "failed"
	}
	metrics.JobDuration.Observe(time.Since(began).Seconds(), job.Kind, outcome)
	return err
}
