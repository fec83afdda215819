package jobs

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/ent/schema/schematype"
	"github.com/clickback/clickback/viewer"
)

// ForwardArgs asks for one Delivery to be sent to its destination. It is
// inserted in the transaction that creates (or re-arms) the delivery.
type ForwardArgs struct {
	DeliveryID string `json:"delivery_id"`
	AccountID  string `json:"account_id"`
}

// Kind implements river.JobArgs.
func (ForwardArgs) Kind() string { return "forward" }

// InsertOpts implements river.JobArgsWithInsertOpts. River's own attempt
// bound is above the delivery's (MaxDeliveryAttempts): a delivery is
// FAILED by the worker when its platform attempts run out, and River's
// bound only catches a job failing for other reasons (the database) forever.
func (ForwardArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 2 * MaxDeliveryAttempts}
}

// Retry policy of deliveries. The first retry waits DefaultDeliveryRetryBase
// (Config.DeliveryRetryBase when set), each next one twice as long, up to
// maxRetryFactor times the base: 30 s, 1, 2, 4, 8, 16, 32 min, then hourly.
// After MaxDeliveryAttempts platform attempts (about seven hours of trying)
// the delivery is FAILED; retryDelivery starts a new series.
const (
	DefaultDeliveryRetryBase = 30 * time.Second
	MaxDeliveryAttempts      = 14
	maxRetryFactor           = 120
	// maxPlatformWait bounds a wait a platform asks for (Retry-After, or
	// Google Ads' six hours for TOO_RECENT_*).
	maxPlatformWait = 7 * time.Hour
	// maxAttemptLog bounds the attempts kept on a delivery; the count in
	// attempts goes on.
	maxAttemptLog = 20
	// maxLastError bounds Delivery.last_error (the column's limit).
	maxLastError = 2048
)

// ForwardWorker sends a PENDING Delivery to its destination through capi
// and records the attempt on it: SENT when the platform has the event (a
// Google Ads duplicate counts: an earlier upload landed), SKIPPED when the
// event does not apply to the platform, FAILED with the platform's message
// when it refused the event for good; when the failure may pass (network,
// timeout, 5xx, 429, the platforms' transient codes) the delivery stays
// PENDING and the job returns an error, so River retries it with the
// backoff of NextRetry, or snoozes for the wait the platform asked for.
//
// It never sends a delivery twice: a job finds its delivery SENT (a job
// rescued after it had finished, a repeat) and ends; and before sending it
// claims the delivery with a token the result is recorded against, so two
// jobs can never send the same delivery at the same time.
//
// Batching: when it sends, it also claims other PENDING deliveries of the
// same destination and event that were never attempted, up to the
// platform's batch size (destination.MaxBatch), and sends them in the same
// request. Under a backlog, one request then carries hundreds of
// conversions; their own jobs later find them SENT. Only fresh deliveries
// are taken so that a platform outage does not burn the retry budget of
// the deliveries already waiting out their backoff.
type ForwardWorker struct {
	river.WorkerDefaults[ForwardArgs]
	DB           *database.DB
	Config       config.Config
	Destinations *destination.Service
	Logger       *slog.Logger
	// now is the clock; nil means time.Now.
	now func() time.Time
	// failed holds the jobs whose Work just returned an error in this
	// process (see NextRetry).
	failedMu sync.Mutex
	failed   map[int64]time.Time
}

func (w *ForwardWorker) clock() time.Time {
	if w.now != nil {
		return w.now()
	}
	return time.Now()
}

func (w *ForwardWorker) retryBase() time.Duration {
	if w.Config.DeliveryRetryBase > 0 {
		return w.Config.DeliveryRetryBase
	}
	return DefaultDeliveryRetryBase
}

// rescuedError is the error River's rescuer records on a job it found
// running past RescueAfter, whose process died (river's
// internal/maintenance/job_rescuer.go).
const rescuedError = "Stuck job rescued by JobRescuer"

// NextRetry implements river.Worker. River asks it in two cases: after Work
// returned an error in this process, and when its rescuer rescues a job
// whose process died. A rescued job runs again at once: the crash was not
// the platform's failure, and its deliveries have waited long enough. A
// failed one waits exponentially from the retry base, counting its failures
// but not its rescues, capped, with ±10% jitter so a recovered platform is
// not hit by every waiting job in the same second.
func (w *ForwardWorker) NextRetry(job *river.Job[ForwardArgs]) time.Time {
	if !w.takeFailed(job.ID) {
		return time.Now()
	}
	failures := 1
	for _, e := range job.Errors {
		if e.Error != rescuedError {
			failures++
		}
	}
	base := w.retryBase()
	wait := base * time.Duration(1<<min(failures-1, 7))
	wait = min(wait, base*maxRetryFactor)
	wait += time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait)
}

// noteFailed records that job's Work returned an error here; NextRetry
// takes the note. Notes River never asks about (a job discarded after its
// last attempt) are dropped after an hour.
func (w *ForwardWorker) noteFailed(id int64) {
	w.failedMu.Lock()
	defer w.failedMu.Unlock()
	now := time.Now()
	if w.failed == nil {
		w.failed = map[int64]time.Time{}
	}
	if len(w.failed) > 1000 {
		for k, at := range w.failed {
			if now.Sub(at) > time.Hour {
				delete(w.failed, k)
			}
		}
	}
	w.failed[id] = now
}

func (w *ForwardWorker) takeFailed(id int64) bool {
	w.failedMu.Lock()
	defer w.failedMu.Unlock()
	_, ok := w.failed[id]
	delete(w.failed, id)
	return ok
}

// Work implements river.Worker.
func (w *ForwardWorker) Work(ctx context.Context, job *river.Job[ForwardArgs]) error {
	err := w.work(ctx, job)
	var snooze *rivertype.JobSnoozeError
	if err != nil && !errors.As(err, &snooze) {
		w.noteFailed(job.ID)
	}
	return err
}

func (w *ForwardWorker) work(ctx context.Context, job *river.Job[ForwardArgs]) error {
	if w.Destinations == nil {
		return errors.New("forwarding is disabled: the process has no valid encryption key")
	}
	ctx = viewer.SystemContext(ctx, job.Args.AccountID)
	now := w.clock()
	d, err := w.DB.Ent.Delivery.Query().
		Where(delivery.ID(job.Args.DeliveryID)).
		WithDestination().
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil // deleted with its destination or integration
	}
	if err != nil {
		return fmt.Errorf("load delivery: %w", err)
	}
	if d.Status != delivery.StatusPENDING {
		return nil // sent in a batch, by an earlier run, or settled otherwise
	}
	dst := d.Edges.Destination
	token, own := newClaimToken(job.JobRow), claimPrefix(job.JobRow)
	batch, err := w.claimBatch(ctx, d, dst, token, own, now)
	if err != nil {
		return err
	}
	if batch == nil {
		return w.awaitOther(ctx, d)
	}
	if !dst.Enabled {
		return w.settleAll(ctx, token, batch, skippedOutcome("", "the destination is disabled"), now)
	}
	convs, err := w.conversions(ctx, batch)
	if err != nil {
		w.release(ctx, token)
		return err
	}
	creds, err := w.Destinations.Open(dst)
	if err != nil {
		return w.settleAll(ctx, token, batch, failedOutcome(err.Error()), now)
	}
	if w.Destinations.Stale(dst) {
		if err := w.Destinations.Reseal(ctx, w.DB.Ent, dst); err != nil {
			w.log().WarnContext(ctx, "could not seal destination credentials with the current key", "destination", dst.ID, "err", err)
		}
	}
	if dst.Kind == destination.KindGoogleAds && digitsOnly(d.EventName) {
		creds.GoogleAds.ConversionActionID = d.EventName
	}
	events := make([]capi.Event, len(batch))
	for i, dl := range batch {
		events[i] = BuildEvent(dl, convs[dl.ConversionID])
	}
	res := w.Destinations.Clients.Send(ctx, creds, events)
	mine, err := w.record(ctx, token, batch, res.Outcomes, w.clock())
	if err != nil {
		return err
	}
	return w.verdict(mine, d)
}

// verdict turns the outcome of the job's own delivery into River's terms.
func (w *ForwardWorker) verdict(o capi.Outcome, d *ent.Delivery) error {
	if o.Delivered() || o.Err == nil || !o.Err.Retryable || d.Attempts+1 >= MaxDeliveryAttempts {
		return nil
	}
	if wait := min(o.Err.RetryAfter, maxPlatformWait); wait > 0 {
		return river.JobSnooze(wait)
	}
	return fmt.Errorf("delivery %s: %w", d.ID, o.Err)
}

// claimFor is how long a forward job owns the deliveries it sends: the job
// timeout (Config.JobTimeout), after which River has cancelled the job's
// context and with it any request in flight, plus claimMargin for the
// recording of an answer that came in just before; so a live job never
// loses them, and those of a job that died are free again as soon as that
// is safe.
func (w *ForwardWorker) claimFor() time.Duration {
	return cmp.Or(w.Config.JobTimeout, JobTimeout) + claimMargin
}

const claimMargin = 10 * time.Second

// claimBatch claims d and, when the platform takes batches, up to
// MaxBatch-1 other fresh PENDING deliveries of its destination and event,
// oldest first, in one UPDATE (one commit). It returns the claimed
// deliveries with d first, or nil when d itself was not free (another job
// is sending it); the others are then released.
func (w *ForwardWorker) claimBatch(ctx context.Context, d *ent.Delivery, dst *ent.Destination, token, own string, now time.Time) ([]*ent.Delivery, error) {
	ids := []string{d.ID}
	if n := destination.MaxBatch(dst.Kind); n > 1 && dst.Enabled {
		more, err := w.DB.Ent.Delivery.Query().
			Where(
				delivery.DestinationID(d.DestinationID),
				delivery.StatusEQ(delivery.StatusPENDING),
				delivery.Attempts(0),
				delivery.EventName(d.EventName),
				delivery.IDNEQ(d.ID),
				delivery.Or(delivery.ClaimedUntilIsNil(), delivery.ClaimedUntilLT(now)),
			).
			Order(ent.Asc(delivery.FieldCreatedAt)).
			Limit(n - 1).
			IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("look for a batch: %w", err)
		}
		ids = append(ids, more...)
	}
	n, err := w.claim(ctx, d.AccountID, ids, token, own, now)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	claimed, err := w.DB.Ent.Delivery.Query().Where(delivery.Claim(token)).All(ctx)
	if err != nil {
		w.release(ctx, token)
		return nil, fmt.Errorf("load claimed deliveries: %w", err)
	}
	batch := make([]*ent.Delivery, 0, len(claimed))
	for _, c := range claimed {
		if c.ID == d.ID {
			batch = append([]*ent.Delivery{c}, batch...)
		} else {
			batch = append(batch, c)
		}
	}
	if len(batch) == 0 || batch[0].ID != d.ID {
		w.release(ctx, token)
		return nil, nil
	}
	return batch, nil
}

// claim marks the deliveries ids that are PENDING and not claimed by a live
// job with token, and returns how many it took. A claim is dead when it
// lapsed, or when it starts with own (claimPrefix): the job's own earlier
// attempt, which died. On PostgreSQL, jobs claim
// concurrently: the rows are locked in id order and rows another
// transaction holds are skipped (FOR UPDATE SKIP LOCKED), so claimers never
// wait on each other or deadlock. SQLite has one writer at a time.
func (w *ForwardWorker) claim(ctx context.Context, accountID string, ids []string, token, own string, now time.Time) (int, error) {
	until := now.Add(w.claimFor())
	free := delivery.Or(delivery.ClaimedUntilIsNil(), delivery.ClaimedUntilLT(now))
	if own != "" {
		free = delivery.Or(free, delivery.ClaimHasPrefix(own))
	} else {
		own = "-" // no token starts with it
	}
	if w.DB.Dialect != dialect.Postgres {
		return w.DB.Ent.Delivery.Update().
			Where(
				delivery.IDIn(ids...),
				delivery.StatusEQ(delivery.StatusPENDING),
				free,
			).
			SetClaim(token).
			SetClaimedUntil(until).
			Save(ctx)
	}
	args := []any{token, until, accountID, now, own}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = "$" + strconv.Itoa(len(args))
	}
	res, err := w.DB.SQL.ExecContext(ctx, `UPDATE deliveries SET claim = $1, claimed_until = $2
		WHERE id IN (SELECT id FROM deliveries
			WHERE account_id = $3 AND id IN (`+strings.Join(marks, ",")+`)
			AND status = 'PENDING' AND (claimed_until IS NULL OR claimed_until < $4 OR starts_with(claim, $5))
			ORDER BY id FOR UPDATE SKIP LOCKED)`, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// awaitOther is what a job does when another job holds its delivery (a
// batch in flight, or a job that died while sending): it snoozes until the
// other's claim lapses, which does not hold a worker meanwhile. By then the
// delivery is almost always settled and the job ends after one read; if the
// other job died, the claim has lapsed and this job sends the delivery; if
// the batch's attempt failed and may pass, this is its retry, a couple of
// minutes later.
func (w *ForwardWorker) awaitOther(ctx context.Context, d *ent.Delivery) error {
	cur, err := w.DB.Ent.Delivery.Get(ctx, d.ID)
	switch {
	case ent.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("load delivery: %w", err)
	case cur.Status != delivery.StatusPENDING:
		return nil
	}
	wait := time.Second
	if cur.ClaimedUntil != nil {
		wait = max(wait, time.Until(*cur.ClaimedUntil)+time.Second)
	}
	return river.JobSnooze(wait)
}

// release gives up the claim of token without recording an attempt.
func (w *ForwardWorker) release(ctx context.Context, token string) {
	if err := w.DB.Ent.Delivery.Update().
		Where(delivery.Claim(token)).
		ClearClaim().
		ClearClaimedUntil().
		Exec(context.WithoutCancel(ctx)); err != nil {
		w.log().WarnContext(ctx, "could not release deliveries; they return when the claim lapses", "err", err)
	}
}

// conversions loads the conversions of batch with their visits.
func (w *ForwardWorker) conversions(ctx context.Context, batch []*ent.Delivery) (map[string]*ent.Conversion, error) {
	ids := make([]string, 0, len(batch))
	for _, d := range batch {
		ids = append(ids, d.ConversionID)
	}
	convs, err := w.DB.Ent.Conversion.Query().
		Where(conversion.IDIn(ids...)).
		WithVisit().
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load conversions: %w", err)
	}
	out := make(map[string]*ent.Conversion, len(convs))
	for _, c := range convs {
		out[c.ID] = c
	}
	return out, nil
}

// settleAll records the same outcome for every delivery of batch.
func (w *ForwardWorker) settleAll(ctx context.Context, token string, batch []*ent.Delivery, o capi.Outcome, now time.Time) error {
	outcomes := make([]capi.Outcome, len(batch))
	for i, d := range batch {
		outcomes[i] = o
		outcomes[i].EventID = d.EventID
	}
	_, err := w.record(ctx, token, batch, outcomes, now)
	return err
}

// record writes each outcome to its delivery, in one transaction, and
// releases the claim. It returns the outcome of batch[0], the job's own.
// The writes are conditional on the claim: a job that lost it (it ran past
// claimFor) records nothing and says so.
func (w *ForwardWorker) record(ctx context.Context, token string, batch []*ent.Delivery, outcomes []capi.Outcome, now time.Time) (capi.Outcome, error) {
	if len(outcomes) != len(batch) {
		return capi.Outcome{}, fmt.Errorf("capi returned %d outcomes for %d events", len(outcomes), len(batch))
	}
	// The platform's answer must be recorded even if the job's context
	// ends now: the request went out.
	ctx = context.WithoutCancel(ctx)
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return capi.Outcome{}, fmt.Errorf("begin recording deliveries: %w", err)
	}
	// Deliveries never attempted before with the same outcome get the same
	// values (the events of one request share its answer), so they are
	// written with one UPDATE per outcome: a batch of 500 costs a few
	// statements, not 500.
	type group struct {
		first *ent.Delivery
		o     capi.Outcome
		ids   []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, d := range batch {
		o := outcomes[i]
		if d.Attempts != 0 || len(d.AttemptLog) != 0 {
			groups = append(groups, &group{first: d, o: o, ids: []string{d.ID}})
			continue
		}
		key := fmt.Sprintf("%t|%t|%d|%s", o.Delivered(), o.Duplicate, o.StatusCode, o.Response)
		if o.Err != nil {
			key += fmt.Sprintf("|%t|%t|%s", o.Err.Retryable, errors.Is(o.Err, capi.ErrSkipped), o.Err.Error())
		}
		if g := byKey[key]; g != nil {
			g.ids = append(g.ids, d.ID)
			continue
		}
		g := &group{first: d, o: o, ids: []string{d.ID}}
		byKey[key] = g
		groups = append(groups, g)
	}
	for _, g := range groups {
		upd := applyOutcome(tx.Delivery.Update().Where(delivery.IDIn(g.ids...), delivery.Claim(token)), g.first, g.o, now)
		n, err := upd.Save(ctx)
		if err != nil {
			_ = tx.Rollback()
			return capi.Outcome{}, fmt.Errorf("record deliveries: %w", err)
		}
		if n != len(g.ids) {
			w.log().WarnContext(ctx, "delivery claims lapsed before their results were recorded", "deliveries", len(g.ids)-n)
		}
	}
	if err := tx.Commit(); err != nil {
		return capi.Outcome{}, fmt.Errorf("commit deliveries: %w", err)
	}
	return outcomes[0], nil
}

// applyOutcome sets on upd what outcome o means for delivery d.
func applyOutcome(upd *ent.DeliveryUpdate, d *ent.Delivery, o capi.Outcome, now time.Time) *ent.DeliveryUpdate {
	attempt := schematype.Attempt{At: now, StatusCode: o.StatusCode, Response: o.Response}
	if o.Err != nil {
		attempt.Error = o.Err.Error()
		if attempt.StatusCode == 0 {
			attempt.StatusCode = o.Err.StatusCode
		}
		if attempt.Response == "" {
			attempt.Response = o.Err.Response
		}
	}
	attempts := d.Attempts + 1
	log := append(d.AttemptLog, attempt)
	if len(log) > maxAttemptLog {
		log = log[len(log)-maxAttemptLog:]
	}
	upd.SetAttempts(attempts).SetAttemptLog(log).SetLastAttemptAt(now).ClearClaim().ClearClaimedUntil()
	switch {
	case o.Delivered():
		upd.SetStatus(delivery.StatusSENT).SetSentAt(now)
		if o.Duplicate {
			upd.SetLastError("the platform already had this conversion (an earlier upload landed): counted as sent")
		} else {
			upd.ClearLastError()
		}
	case errors.Is(o.Err, capi.ErrSkipped):
		upd.SetStatus(delivery.StatusSKIPPED).SetLastError(cutError(o.Err.Message))
	case o.Err.Retryable && attempts < MaxDeliveryAttempts:
		upd.SetLastError(cutError(o.Err.Error()))
	case o.Err.Retryable:
		upd.SetStatus(delivery.StatusFAILED).SetLastError(cutError(fmt.Sprintf("gave up after %d attempts: %s", attempts, o.Err.Error())))
	default:
		upd.SetStatus(delivery.StatusFAILED).SetLastError(cutError(o.Err.Error()))
	}
	return upd
}

func skippedOutcome(eventID, why string) capi.Outcome {
	return capi.Outcome{EventID: eventID, Err: &capi.Error{Code: "skipped", Message: why, Err: capi.ErrSkipped}}
}

func failedOutcome(why string) capi.Outcome {
	return capi.Outcome{Err: &capi.Error{Code: "credentials", Message: why, Err: capi.ErrCredentials}}
}

func (w *ForwardWorker) log() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// newClaimToken is a fresh claim token for an attempt of job: its id, then
// a random part. A job's earlier attempts have ended when a later one runs
// (it failed, or River rescued it after its timeout), so a claim starting
// with the job's own id is a dead one that the job takes over (see claim).
func newClaimToken(job *rivertype.JobRow) string {
	b := make([]byte, 12)
	_, _ = crand.Read(b)
	return claimPrefix(job) + hex.EncodeToString(b)
}

func claimPrefix(job *rivertype.JobRow) string {
	if job == nil || job.ID == 0 {
		return ""
	}
	return "j" + strconv.FormatInt(job.ID, 10) + "."
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func cutError(s string) string {
	if len(s) > maxLastError {
		s = s[:maxLastError-3]
	}
	return strings.ToValidUTF8(s, "?")
}
