package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/viewer"
)

// StatusArgs asks for the network status of a repeated postback to be
// applied to the first conversion of its transaction. The collect endpoint
// inserts it with the repeat (stored DUPLICATE) when the repeat carries a
// status: networks report a sale pending, then approved or rejected, under
// one transaction id.
type StatusArgs struct {
	// ConversionID is the repeat's id.
	ConversionID string `json:"conversion_id"`
	AccountID    string `json:"account_id"`
	// DedupKey is the transaction's key, which the first conversion holds.
	DedupKey string `json:"dedup_key"`
}

// Kind implements river.JobArgs.
func (StatusArgs) Kind() string { return "conversion_status" }

// StatusWorker applies a repeat's network status to the first conversion
// of the transaction (the lifecycle rules are in the README):
//
//   - the first conversion's network status becomes the repeat's;
//   - if it is MATCHED and now forwardable (approved, or any word other than
//     pending, rejected, reversed), its deliveries are planned and their
//     forward jobs inserted — the ones it has already are left alone, so an
//     approval after an approval sends nothing twice;
//   - if it turns rejected or reversed, deliveries not sent yet (PENDING and
//     not being sent right now) become SKIPPED; sent ones stay SENT: the
//     platforms have no way to take a conversion back except Google Ads'
//     conversion adjustments, which clickback does not send yet;
//   - a conversion not matched yet just keeps the status, and the match job
//     reads it when it matches.
//
// Whatever order the jobs run in, the status applied is that of the latest
// postback of the transaction, so pending → approved → reversed sent in
// quick succession ends reversed (and, if the reversal came first, never
// forwarded).
type StatusWorker struct {
	river.WorkerDefaults[StatusArgs]
	DB *database.DB
}

// Work implements river.Worker.
func (w *StatusWorker) Work(ctx context.Context, job *river.Job[StatusArgs]) error {
	ctx = viewer.SystemContext(ctx, job.Args.AccountID)
	repeat, err := w.DB.Ent.Conversion.Get(ctx, job.Args.ConversionID)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load repeat: %w", err)
	}
	if repeat.NetworkStatus == "" || job.Args.DedupKey == "" {
		return nil
	}
	first, err := w.DB.Ent.Conversion.Query().
		Where(
			conversion.AccountID(job.Args.AccountID),
			conversion.IntegrationID(repeat.IntegrationID),
			conversion.DedupKey(job.Args.DedupKey),
		).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load first conversion: %w", err)
	}
	// The status that counts is the latest postback's, whichever job runs
	// last: jobs of postbacks sent in quick succession run concurrently.
	latest, err := w.DB.Ent.Conversion.Query().
		Where(
			conversion.AccountID(job.Args.AccountID),
			conversion.IntegrationID(first.IntegrationID),
			conversion.TransactionID(first.TransactionID),
			conversion.EventNameEqualFold(first.EventName),
			conversion.StatusEQ(conversion.StatusDUPLICATE),
			conversion.NetworkStatusNEQ(""),
		).
		Order(ent.Desc(conversion.FieldReceivedAt), ent.Desc(conversion.FieldID)).
		First(ctx)
	if err != nil {
		return fmt.Errorf("load latest status: %w", err)
	}
	status := strings.ToUpper(latest.NetworkStatus)
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin status: %w", err)
	}
	if err := w.apply(ctx, tx, repeat, first, status); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (w *StatusWorker) apply(ctx context.Context, tx *ent.Tx, repeat, first *ent.Conversion, status string) error {
	note := fmt.Sprintf("%s; its network status %s was applied to %s", repeat.Reason, strings.ToUpper(repeat.NetworkStatus), first.ID)
	if err := tx.Conversion.UpdateOne(repeat).SetReason(cutReason(note)).Exec(ctx); err != nil {
		return fmt.Errorf("note on repeat: %w", err)
	}
	if strings.EqualFold(first.NetworkStatus, status) {
		return nil
	}
	first, err := tx.Conversion.UpdateOne(first).SetNetworkStatus(status).Save(ctx)
	if err != nil {
		return fmt.Errorf("update network status: %w", err)
	}
	if first.Status != conversion.StatusMATCHED {
		return nil
	}
	if status == networkRejected || status == networkReversed {
		now := time.Now()
		_, err := tx.Delivery.Update().
			Where(
				delivery.ConversionID(first.ID),
				delivery.StatusEQ(delivery.StatusPENDING),
				delivery.Or(delivery.ClaimedUntilIsNil(), delivery.ClaimedUntilLT(now)),
			).
			SetStatus(delivery.StatusSKIPPED).
			SetLastError(fmt.Sprintf("the network reported the conversion %s before it was forwarded", strings.ToLower(status))).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("skip deliveries: %w", err)
		}
		return nil
	}
	if ok, _ := Forwardable(first); !ok {
		return nil
	}
	args, err := PlanDeliveries(ctx, tx.Client(), first, false)
	if err != nil {
		return err
	}
	return insertJobs(ctx, tx, args)
}

// insertJobs inserts args in tx with the River client of the running job.
func insertJobs(ctx context.Context, tx *ent.Tx, args []river.InsertManyParams) error {
	if len(args) == 0 {
		return nil
	}
	rc, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	if _, err := rc.InsertManyFastTx(ctx, tx.SQLTx(), args); err != nil {
		return fmt.Errorf("insert forward jobs: %w", err)
	}
	return nil
}

func cutReason(s string) string {
	if len(s) > 1024 {
		s = s[:1021]
	}
	return strings.ToValidUTF8(s, "?")
}
