package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	entdest "github.com/clickback/clickback/ent/destination"
	"github.com/clickback/clickback/viewer"
)

// RetractArgs asks for the pending adjustment of a Delivery (a Google Ads
// retraction or restatement) to be sent. The status job inserts it in the
// transaction that plans the adjustment.
type RetractArgs struct {
	DeliveryID string `json:"delivery_id"`
	AccountID  string `json:"account_id"`
}

// Kind implements river.JobArgs.
func (RetractArgs) Kind() string { return "retract" }

// InsertOpts implements river.JobArgsWithInsertOpts: the worker bounds the
// platform attempts itself (maxAdjustmentAttempts); River's bound catches a
// job failing for other reasons forever.
func (RetractArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 2 * maxAdjustmentAttempts}
}

// Retry policy of adjustments: as deliveries', 30 s doubling up to an hour,
// and FAILED after maxAdjustmentAttempts platform attempts. A wait the
// platform asks for (TOO_RECENT_CONVERSION: a day) is honoured up to
// maxAdjustmentWait.
const (
	adjustmentRetryBase      = 30 * time.Second
	maxAdjustmentRetryFactor = 120
	maxAdjustmentAttempts    = 14
	maxAdjustmentWait        = 25 * time.Hour
	// maxAdjustmentResponse is adjustment_response's column limit.
	maxAdjustmentResponse = 2048
)

// Notes written to adjustment_response.
const (
	neverDeliveredNote = "the conversion never reached the platform: there is nothing to take back"
)

// notRetractableNote says why a platform's conversion stays counted.
func notRetractableNote(kind entdest.Kind, status string) string {
	name := map[entdest.Kind]string{
		destination.KindMeta: "Meta", destination.KindGA4: "GA4", destination.KindTikTok: "TikTok",
	}[kind]
	if name == "" {
		name = string(kind)
	}
	return fmt.Sprintf("not retractable on this platform: %s has no way to take back a conversion it received; the network's %s is recorded on the conversion only",
		name, strings.ToLower(status))
}

// RetractWorker sends a delivery's pending adjustment to Google Ads
// (capi.GoogleAds.Adjust) and records each attempt on the delivery:
// adjustment_attempts, the platform's answer in adjustment_response, and
// RETRACTED/RESTATED with adjusted_at once Google has it. Transient errors
// (network, 429, 5xx, Google's internal and "too recent" or "not found
// yet" rows) are retried with backoff, or after the wait Google asks for;
// permanent ones end FAILED with Google's message.
//
// Exactly once: the adjustment's time is fixed when it is planned and sent
// on every attempt, so a repeat that reaches Google (an answer lost to a
// timeout, a rescued job) comes back CONVERSION_ALREADY_RETRACTED or
// RESTATEMENT_ALREADY_EXISTS, which counts as done. Results are written
// only if the delivery still waits for the adjustment the job sent: a
// newer one planned meanwhile has its own job.
//
// A delivery still being sent when the network reversed the conversion is
// waited for: once SENT it is adjusted; if it never reached the platform,
// there is nothing to take back.
type RetractWorker struct {
	river.WorkerDefaults[RetractArgs]
	DB           *database.DB
	Config       config.Config
	Destinations *destination.Service
	Logger       *slog.Logger
}

// NextRetry implements river.Worker: exponential from the delivery retry
// base, capped at an hour, with ±10% jitter.
func (w *RetractWorker) NextRetry(job *river.Job[RetractArgs]) time.Time {
	base := w.Config.DeliveryRetryBase
	if base <= 0 {
		base = adjustmentRetryBase
	}
	wait := min(base*time.Duration(1<<min(max(job.Attempt-1, 0), 7)), base*maxAdjustmentRetryFactor)
	wait += time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait)
}

// Work implements river.Worker.
func (w *RetractWorker) Work(ctx context.Context, job *river.Job[RetractArgs]) error {
	if w.Destinations == nil {
		return errors.New("adjustments are disabled: the process has no valid encryption key")
	}
	ctx = viewer.SystemContext(ctx, job.Args.AccountID)
	d, err := w.DB.Ent.Delivery.Query().
		Where(delivery.ID(job.Args.DeliveryID)).
		WithDestination().
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load delivery: %w", err)
	}
	if d.Adjustment == nil || d.AdjustmentTime == nil ||
		(*d.Adjustment != delivery.AdjustmentRETRACTION_PENDING && *d.Adjustment != delivery.AdjustmentRESTATEMENT_PENDING) {
		return nil // done, superseded, or settled otherwise
	}
	switch d.Status {
	case delivery.StatusPENDING:
		// Being sent right now: adjust it once the send is settled.
		wait := time.Second
		if d.ClaimedUntil != nil {
			wait = max(wait, time.Until(*d.ClaimedUntil)+time.Second)
		}
		return river.JobSnooze(wait)
	case delivery.StatusSENT:
	default:
		return w.settle(ctx, d, nil, neverDeliveredNote, false)
	}
	dst := d.Edges.Destination
	if dst.Kind != destination.KindGoogleAds {
		return w.settle(ctx, d, ptr(delivery.AdjustmentNOT_RETRACTABLE), notRetractableNote(dst.Kind, "reversal"), false)
	}
	creds, err := w.Destinations.Open(dst)
	if err != nil {
		return w.settle(ctx, d, ptr(delivery.AdjustmentFAILED), err.Error(), true)
	}
	if action := strings.TrimSpace(d.EventName); action != "" && strings.Trim(action, "0123456789") == "" {
		creds.GoogleAds.ConversionActionID = action // the mapping's conversion action, as the upload used
	}
	conv, err := w.DB.Ent.Conversion.Query().Where(conversion.ID(d.ConversionID)).WithVisit().Only(ctx)
	if err != nil {
		return fmt.Errorf("load conversion: %w", err)
	}
	adj := capi.Adjustment{Type: capi.Retraction, Event: BuildEvent(d, conv), At: *d.AdjustmentTime}
	if *d.Adjustment == delivery.AdjustmentRESTATEMENT_PENDING {
		adj.Type, adj.Value = capi.Restatement, d.AdjustmentValueMicros
	}
	res := w.Destinations.Clients.GoogleAds.Adjust(ctx, creds.GoogleAds, []capi.Adjustment{adj})
	if len(res.Outcomes) != 1 {
		return fmt.Errorf("capi returned %d outcomes for one adjustment", len(res.Outcomes))
	}
	o := res.Outcomes[0]
	attempts := d.AdjustmentAttempts + 1
	var (
		state *delivery.Adjustment
		note  string
		retry error
	)
	switch {
	case o.Delivered():
		done := delivery.AdjustmentRETRACTED
		verb := "retracted the conversion"
		if adj.Type == capi.Restatement {
			done, verb = delivery.AdjustmentRESTATED, fmt.Sprintf("restated the conversion's value to %s", formatMicros(adj.Value))
		}
		state = &done
		note = fmt.Sprintf("Google Ads %s (HTTP %d): %s", verb, o.StatusCode, o.Response)
		if o.Duplicate {
			note = "Google Ads had this adjustment already (an earlier attempt landed): counted as done"
		}
	case errors.Is(o.Err, capi.ErrSkipped):
		state, note = ptr(delivery.AdjustmentNOT_RETRACTABLE), "not retractable: "+o.Err.Message
	case o.Err.Retryable && attempts < maxAdjustmentAttempts:
		note = o.Err.Error()
		retry = fmt.Errorf("adjust delivery %s: %w", d.ID, o.Err)
		if wait := min(o.Err.RetryAfter, maxAdjustmentWait); wait > 0 {
			retry = river.JobSnooze(wait)
		}
	case o.Err.Retryable:
		state, note = ptr(delivery.AdjustmentFAILED), fmt.Sprintf("gave up after %d attempts: %s", attempts, o.Err.Error())
	default:
		state, note = ptr(delivery.AdjustmentFAILED), o.Err.Error()
	}
	if err := w.record(ctx, d, state, note, attempts, o.Delivered()); err != nil {
		return err
	}
	return retry
}

// settle records an outcome reached without an attempt (nil state clears
// the adjustment).
func (w *RetractWorker) settle(ctx context.Context, d *ent.Delivery, state *delivery.Adjustment, note string, attempted bool) error {
	attempts := d.AdjustmentAttempts
	if attempted {
		attempts++
	}
	return w.record(ctx, d, state, note, attempts, false)
}

// record writes an attempt's outcome, if d still waits for the adjustment
// it was loaded with: a nil state keeps it pending (a retry follows).
func (w *RetractWorker) record(ctx context.Context, d *ent.Delivery, state *delivery.Adjustment, note string, attempts int, done bool) error {
	ctx = context.WithoutCancel(ctx) // the platform answered: keep it
	upd := w.DB.Ent.Delivery.Update().
		Where(
			delivery.ID(d.ID),
			delivery.AdjustmentEQ(*d.Adjustment),
			delivery.AdjustmentTimeEQ(*d.AdjustmentTime),
		).
		SetAdjustmentAttempts(attempts).
		SetAdjustmentResponse(cutNote(note))
	switch {
	case state == nil && d.Status != delivery.StatusSENT:
		upd.ClearAdjustment().ClearAdjustmentTime()
	case state != nil:
		upd.SetAdjustment(*state)
	}
	if done {
		upd.SetAdjustedAt(time.Now())
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return fmt.Errorf("record adjustment: %w", err)
	}
	if n == 0 {
		w.log().InfoContext(ctx, "a newer adjustment was planned while this one was sent", "delivery", d.ID)
	}
	return nil
}

func (w *RetractWorker) log() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

func ptr[T any](v T) *T { return &v }

// formatMicros writes an amount in micros as a decimal number.
func formatMicros(m int64) string {
	s := fmt.Sprintf("%d.%06d", m/1_000_000, m%1_000_000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// cutNote bounds a note to adjustment_response's column.
func cutNote(s string) string {
	if len(s) > maxAdjustmentResponse {
		s = s[:maxAdjustmentResponse-3] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
