package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent/account"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/trackevent"
	"github.com/clickback/clickback/viewer"
)

// RetentionArgs asks for visits and tag events past each account's
// retention period to be deleted.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts keeps one retention job queued at a time.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 30 * time.Minute}}
}

// RetentionWorker deletes what accounts asked not to keep. Conversions
// keep their attribution snapshot, so only their link to the deleted visit
// is cleared.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	DB  *database.DB
	now func() time.Time
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	sys := viewer.SystemContext(ctx, "")
	accounts, err := w.DB.Ent.Account.Query().Where(account.RetentionDaysGT(0)).All(sys)
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	for _, a := range accounts {
		cutoff := now().AddDate(0, 0, -a.RetentionDays)
		if err := w.purge(viewer.SystemContext(ctx, a.ID), a.ID, cutoff); err != nil {
			return fmt.Errorf("retention of account %s: %w", a.ID, err)
		}
	}
	return nil
}

func (w *RetentionWorker) purge(ctx context.Context, accountID string, cutoff time.Time) error {
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Conversion.Update().
		Where(conversion.AccountID(accountID), conversion.HasVisitWith(click.CreatedAtLT(cutoff))).
		ClearVisit().
		Save(ctx); err != nil {
		return fmt.Errorf("unlink old visits: %w", err)
	}
	if _, err := tx.Click.Delete().Where(click.AccountID(accountID), click.CreatedAtLT(cutoff)).Exec(ctx); err != nil {
		return fmt.Errorf("delete old visits: %w", err)
	}
	if _, err := tx.TrackEvent.Delete().Where(trackevent.AccountID(accountID), trackevent.CreatedAtLT(cutoff)).Exec(ctx); err != nil {
		return fmt.Errorf("delete old tag events: %w", err)
	}
	return tx.Commit()
}
