package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// MatchBatchArgs asks for the RECEIVED conversions of one collect
// transaction to be matched: one job per committed batch instead of one per
// conversion, inserted in the transaction that stores them (see the collect
// package), so that rows and job still commit together. A River job costs a
// row and its indexes (two of them GIN over JSON): one job per conversion
// halved the collect endpoint's throughput on PostgreSQL.
type MatchBatchArgs struct {
	Conversions []MatchArgs `json:"conversions"`
}

// Kind implements river.JobArgs.
func (MatchBatchArgs) Kind() string { return "match_batch" }

// MatchBatchWorker works a MatchBatchArgs: each conversion as MatchWorker
// would. A conversion that must wait for its click (a snooze) or whose
// matching failed becomes a match job of its own, scheduled when its wait
// ends or at once, so that one slow or failing conversion neither holds up
// nor retries the others. Running twice is harmless: MatchWorker is
// idempotent, and a second round of follow-up jobs finds its conversions
// settled or waits alongside the first.
type MatchBatchWorker struct {
	river.WorkerDefaults[MatchBatchArgs]
	Match *MatchWorker
}

// Work implements river.Worker.
func (w *MatchBatchWorker) Work(ctx context.Context, job *river.Job[MatchBatchArgs]) error {
	var later []river.InsertManyParams
	now := time.Now()
	for i, a := range job.Args.Conversions {
		if ctx.Err() != nil {
			// Out of time: the rest go on as jobs of their own.
			for _, rest := range job.Args.Conversions[i:] {
				later = append(later, river.InsertManyParams{Args: rest})
			}
			break
		}
		err := w.Match.Work(ctx, &river.Job[MatchArgs]{JobRow: job.JobRow, Args: a})
		if err == nil {
			continue
		}
		var snooze *rivertype.JobSnoozeError
		if errors.As(err, &snooze) {
			later = append(later, river.InsertManyParams{Args: a, InsertOpts: &river.InsertOpts{ScheduledAt: now.Add(snooze.Duration)}})
			continue
		}
		later = append(later, river.InsertManyParams{Args: a})
	}
	if len(later) == 0 {
		return nil
	}
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return fmt.Errorf("hand over %d conversions: %w", len(later), err)
	}
	// Not ctx: the batch may have used up its time, and these inserts are
	// what lets it finish.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := client.InsertMany(ictx, later); err != nil {
		return fmt.Errorf("hand over %d conversions: %w", len(later), err)
	}
	return nil
}
