package jobs

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/viewer"
)

// ForwardSweepArgs asks for orphaned deliveries to get a new forward job.
type ForwardSweepArgs struct{}

// Kind implements river.JobArgs.
func (ForwardSweepArgs) Kind() string { return "forward_sweep" }

// SweepInterval is how often the sweep runs.
const SweepInterval = time.Minute

// maxSwept bounds the deliveries of one destination one sweep takes.
const maxSwept = 5000

// ForwardSweepWorker finds PENDING deliveries whose claim lapsed long ago:
// the job that claimed them died while sending, and had it been rescued and
// run again it would have taken them over by now (a rescue comes within
// RescueAfter and the rescuer's 30 s interval). Their job may be gone (River
// gave it up after its attempts), so each gets a new forward job, one per
// destination and event, inserted with the claims cleared in one
// transaction; should the old job run after all, the claims keep the two
// from sending at once and the later one finds them SENT.
type ForwardSweepWorker struct {
	river.WorkerDefaults[ForwardSweepArgs]
	DB     *database.DB
	Config config.Config
}

// Work implements river.Worker.
func (w *ForwardSweepWorker) Work(ctx context.Context, _ *river.Job[ForwardSweepArgs]) error {
	timeout := cmp.Or(w.Config.JobTimeout, JobTimeout)
	rescue := max(cmp.Or(w.Config.JobRescueAfter, RescueAfter), timeout)
	before := time.Now().Add(-rescue - time.Minute)
	sys := viewer.SystemContext(ctx, "")
	dsts, err := w.DB.Ent.Destination.Query().IDs(sys)
	if err != nil {
		return fmt.Errorf("list destinations: %w", err)
	}
	for _, dst := range dsts {
		// By destination: the (destination_id, status, created_at) index
		// finds its few PENDING deliveries.
		lost, err := w.DB.Ent.Delivery.Query().
			Where(delivery.DestinationID(dst), delivery.StatusEQ(delivery.StatusPENDING), delivery.ClaimedUntilLT(before)).
			Select(delivery.FieldID, delivery.FieldAccountID, delivery.FieldEventName).
			Limit(maxSwept).
			All(sys)
		if err != nil {
			return fmt.Errorf("look for orphaned deliveries: %w", err)
		}
		if len(lost) == 0 {
			continue
		}
		if err := w.rearm(sys, lost, before); err != nil {
			return err
		}
	}
	return nil
}

// rearm clears the lapsed claims of deliveries and inserts their jobs.
func (w *ForwardSweepWorker) rearm(ctx context.Context, deliveries []*ent.Delivery, before time.Time) error {
	type group struct{ account, event string }
	var order []group
	ids := map[group][]string{}
	all := make([]string, len(deliveries))
	for i, d := range deliveries {
		g := group{d.AccountID, d.EventName}
		if _, ok := ids[g]; !ok {
			order = append(order, g)
		}
		ids[g] = append(ids[g], d.ID)
		all[i] = d.ID
	}
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin sweep: %w", err)
	}
	if _, err := tx.Delivery.Update().
		Where(delivery.IDIn(all...), delivery.StatusEQ(delivery.StatusPENDING), delivery.ClaimedUntilLT(before)).
		ClearClaim().
		ClearClaimedUntil().
		Save(ctx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("clear lapsed claims: %w", err)
	}
	var args []river.InsertManyParams
	for _, g := range order {
		for from := 0; from < len(ids[g]); from += maxJobDeliveries {
			args = append(args, river.InsertManyParams{Args: ForwardArgs{DeliveryIDs: ids[g][from:min(from+maxJobDeliveries, len(ids[g]))], AccountID: g.account}})
		}
	}
	if err := insertJobs(ctx, tx, args); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit sweep: %w", err)
	}
	return nil
}
