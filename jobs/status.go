package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	entdest "github.com/clickback/clickback/ent/destination"
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
	// Readjust asks instead for the deliveries of the first conversion,
	// ConversionID, to be adjusted to the network status it has: a forward
	// job wrote them, sent, after the status job had found none (see
	// recordPlan).
	Readjust bool `json:"readjust,omitempty"`
}

// Kind implements river.JobArgs.
func (StatusArgs) Kind() string { return "conversion_status" }

// StatusWorker applies a repeat's network status to the first conversion
// of the transaction (the lifecycle rules are in the README):
//
//   - the first conversion's network status becomes the repeat's;
//   - if it is MATCHED and now forwardable (approved, or any word other than
//     pending, rejected, reversed) and was not before (pending, or
//     rejected), its deliveries are planned and their forward jobs
//     inserted — the ones it has already are left alone; one forwardable
//     before was planned when it was matched, so an approval after an
//     approval (or after no status) sends nothing twice;
//   - if it turns rejected or reversed, deliveries not sent yet (PENDING and
//     held by no job) become SKIPPED; those a job holds (created claimed by
//     their forward job, or kept for its retry) that job skips when it comes
//     to them, unless an attempt went out already (withdrawn); sent ones
//     (and ones being sent) stay SENT and are taken back where the
//     platform allows it (planAdjustments): Google Ads gets a retraction, or a restatement for
//     a reversal to a lower amount, sent by the retract job; Meta, GA4 and
//     TikTok have no way, and the delivery says NOT_RETRACTABLE;
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
	if job.Args.Readjust {
		return w.readjust(ctx, job.Args)
	}
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
			conversion.TransactionID(repeat.TransactionID),
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
	latest, err := w.latest(ctx, first, job.Args.DedupKey)
	if err != nil || latest == nil {
		return err
	}
	status := strings.ToUpper(latest.NetworkStatus)
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin status: %w", err)
	}
	if err := lockConversions(ctx, w.DB.Dialect, tx.SQLTx(), []string{first.ID}, false); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := w.apply(ctx, tx, repeat, first, latest, status); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// latest is the latest postback of first's transaction with dedup key
// key that carries a network status, or nil.
func (w *StatusWorker) latest(ctx context.Context, first *ent.Conversion, key string) (*ent.Conversion, error) {
	// The status that counts is the latest postback's, whichever job runs
	// last: jobs of postbacks sent in quick succession run concurrently.
	// Repeats are the transaction's DUPLICATEs with the first's dedup key
	// (collect's rule: the transaction id, plus the event name unless it
	// is the default one), so that a reversal without an amount, named
	// Lead by default, counts for a Purchase.
	repeats, err := w.DB.Ent.Conversion.Query().
		Where(
			conversion.AccountID(first.AccountID),
			conversion.IntegrationID(first.IntegrationID),
			conversion.TransactionID(first.TransactionID),
			conversion.StatusEQ(conversion.StatusDUPLICATE),
			conversion.NetworkStatusNEQ(""),
		).
		Order(ent.Desc(conversion.FieldReceivedAt), ent.Desc(conversion.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load latest status: %w", err)
	}
	for _, r := range repeats {
		if repeatKey(r) == key {
			return r, nil
		}
	}
	return nil, nil
}

// readjust is the work of a Readjust job: the adjustments of the
// deliveries of args.ConversionID (a first conversion) for the rejected
// or reversed network status it has.
func (w *StatusWorker) readjust(ctx context.Context, args StatusArgs) error {
	first, err := w.DB.Ent.Conversion.Get(ctx, args.ConversionID)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load conversion: %w", err)
	}
	status := strings.ToUpper(first.NetworkStatus)
	if first.Status != conversion.StatusMATCHED || (status != networkRejected && status != networkReversed) {
		return nil
	}
	latest, err := w.latest(ctx, first, args.DedupKey)
	if err != nil || latest == nil {
		return err
	}
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin readjust: %w", err)
	}
	if err := w.adjust(ctx, tx, first, latest, status); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (w *StatusWorker) apply(ctx context.Context, tx *ent.Tx, repeat, first, latest *ent.Conversion, status string) error {
	note := fmt.Sprintf("%s; its network status %s was applied to %s", repeat.Reason, strings.ToUpper(repeat.NetworkStatus), first.ID)
	if err := tx.Conversion.UpdateOne(repeat).SetReason(cutReason(note)).Exec(ctx); err != nil {
		return fmt.Errorf("note on repeat: %w", err)
	}
	if strings.EqualFold(first.NetworkStatus, status) {
		// A reversal repeated, perhaps with a new amount: the sent
		// deliveries' adjustments may still change (planAdjustments
		// sends nothing twice).
		if first.Status == conversion.StatusMATCHED && (status == networkRejected || status == networkReversed) {
			return w.adjust(ctx, tx, first, latest, status)
		}
		return nil
	}
	// Forwarded already: the match planned its deliveries (see below).
	was, _ := Forwardable(first)
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
		return w.adjust(ctx, tx, first, latest, status)
	}
	// A conversion forwardable before (no status, or another forwarding
	// word) was planned for its destinations when it was matched; its
	// deliveries may not be written yet (ForwardPlan), and planning them
	// again would send them twice. replayConversion adds destinations
	// created since.
	if ok, _ := Forwardable(first); !ok || was {
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

// adjust plans the adjustments of first's deliveries after the network
// rejected or reversed it, in tx, and inserts their retract jobs.
func (w *StatusWorker) adjust(ctx context.Context, tx *ent.Tx, first, latest *ent.Conversion, status string) error {
	args, err := planAdjustments(ctx, tx.Client(), first, latest, status)
	if err != nil {
		return err
	}
	return insertJobs(ctx, tx, args)
}

// planAdjustments decides, for each delivery of first that reached its
// platform or is being sent, how to take the conversion back after the
// network reported status (REJECTED or REVERSED) in postback latest, and
// returns the retract jobs to insert. The rules (README, lifecycle):
//
//   - rejected, or reversed without an amount or with the full one or
//     more: a RETRACTION; reversed with a lower positive amount: a
//     RESTATEMENT to that amount (a partial reversal);
//   - its time is the reversal postback's, fixed now and sent on every
//     attempt;
//   - Google Ads only: Meta, GA4 and TikTok deliveries become
//     NOT_RETRACTABLE, saying so;
//   - never twice: a delivery retracted or waiting for its retraction gets
//     nothing more; a restatement is replaced by a retraction, or by a
//     newer restatement to another amount; a FAILED adjustment is planned
//     again by a newer reversal.
func planAdjustments(ctx context.Context, client *ent.Client, first, latest *ent.Conversion, status string) ([]river.InsertManyParams, error) {
	want, value := delivery.AdjustmentRETRACTION_PENDING, int64(0)
	if status == networkReversed && latest.AmountMicros > 0 && latest.AmountMicros < first.AmountMicros {
		want, value = delivery.AdjustmentRESTATEMENT_PENDING, latest.AmountMicros
	}
	// Google reads adjustment times to the second and takes a second
	// restatement with the same time for a repeat: the time is whole
	// seconds, after the conversion, and after the delivery's previous
	// adjustment.
	base := latest.ReceivedAt.UTC().Truncate(time.Second)
	if floor := first.ReceivedAt.UTC().Truncate(time.Second).Add(time.Second); base.Before(floor) {
		base = floor
	}
	ds, err := client.Delivery.Query().
		Where(
			delivery.ConversionID(first.ID),
			delivery.StatusIn(delivery.StatusSENT, delivery.StatusPENDING),
		).
		WithDestination().
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list deliveries to adjust: %w", err)
	}
	var args []river.InsertManyParams
	for _, d := range ds {
		cur := d.Adjustment
		same := delivery.AdjustmentIsNil()
		if cur != nil {
			same = delivery.AdjustmentEQ(*cur)
		}
		upd := client.Delivery.Update().Where(delivery.ID(d.ID), same)
		if d.Edges.Destination == nil || d.Edges.Destination.Kind != destination.KindGoogleAds {
			if cur != nil {
				continue
			}
			kind := entdest.Kind("")
			if d.Edges.Destination != nil {
				kind = d.Edges.Destination.Kind
			}
			if err := upd.SetAdjustment(delivery.AdjustmentNOT_RETRACTABLE).
				SetAdjustmentResponse(cutNote(notRetractableNote(kind, status))).
				Exec(ctx); err != nil {
				return nil, fmt.Errorf("mark not retractable: %w", err)
			}
			continue
		}
		if !replans(d, want, value, latest.ReceivedAt) {
			continue
		}
		at := base
		if conv := capi.GoogleAdsConversionTime(BuildEvent(d, first)); !at.After(conv) {
			at = conv.Add(time.Second) // the upload moved it past the click
		}
		if d.AdjustmentTime != nil && !at.After(*d.AdjustmentTime) {
			at = d.AdjustmentTime.UTC().Truncate(time.Second).Add(time.Second)
		}
		n, err := upd.SetAdjustment(want).
			SetAdjustmentTime(at).
			SetAdjustmentValueMicros(value).
			SetAdjustmentAttempts(0).
			SetAdjustmentResponse("waiting to be sent to Google Ads").
			ClearAdjustedAt().
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan adjustment: %w", err)
		}
		if n == 1 {
			args = append(args, river.InsertManyParams{Args: RetractArgs{DeliveryID: d.ID, AccountID: d.AccountID}})
		}
	}
	return args, nil
}

// replans reports whether delivery d, with the adjustment it has, is to
// get adjustment want (of value) for a reversal received at.
func replans(d *ent.Delivery, want delivery.Adjustment, value int64, received time.Time) bool {
	if d.Adjustment == nil {
		return true
	}
	switch *d.Adjustment {
	case delivery.AdjustmentRETRACTION_PENDING, delivery.AdjustmentRETRACTED, delivery.AdjustmentNOT_RETRACTABLE:
		return false
	case delivery.AdjustmentRESTATEMENT_PENDING, delivery.AdjustmentRESTATED:
		return want == delivery.AdjustmentRETRACTION_PENDING || value != d.AdjustmentValueMicros
	case delivery.AdjustmentFAILED:
		// A newer reversal tries again; the one that failed does not.
		return d.AdjustmentTime == nil || received.After(*d.AdjustmentTime)
	}
	return false
}

// repeatKey is the dedup key collect gave postback c: the transaction id,
// plus the lower-cased event name unless it is the default of its kind.
func repeatKey(c *ent.Conversion) string {
	if c.EventName == "Lead" && c.Kind == conversion.KindLEAD || c.EventName == "Purchase" && c.Kind == conversion.KindPURCHASE {
		return c.TransactionID
	}
	return c.TransactionID + "|" + strings.ToLower(c.EventName)
}
