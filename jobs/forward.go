package jobs

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
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
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/ent/schema/schematype"
	"github.com/clickback/clickback/metrics"
	"github.com/clickback/clickback/viewer"
)

// ForwardArgs asks for Deliveries of one account to be sent: DeliveryID
// names one (retryDelivery, replay, a network's approval), DeliveryIDs
// many (those the sweep gives a new job), Plan those of a matched batch,
// not written yet (see ForwardPlan and MatchBatchWorker). It is inserted
// in the transaction that creates (or re-arms) the deliveries, or plans
// them.
//
// Destinations are the destinations of the deliveries (a matched batch's
// job carries those of every destination): a job run again takes back what
// an earlier run of it left with itself there (see claim). Jobs inserted
// before Destinations existed name their one destination in DestinationID;
// their EventName and Fill (the batch size of a fill since dropped) are no
// longer read.
//
// Claim is the claim the deliveries were created with by the version
// before plans, which wrote a matched batch's deliveries PENDING, claimed
// by its job for an hour: the job's first run sends them without claiming
// them, and its later runs take them back like those of its own claims.
type ForwardArgs struct {
	DeliveryID    string   `json:"delivery_id,omitempty"`
	DeliveryIDs   []string `json:"delivery_ids,omitempty"`
	AccountID     string   `json:"account_id"`
	Claim         string   `json:"claim,omitempty"`
	Destinations  []string `json:"destinations,omitempty"`
	DestinationID string   `json:"destination_id,omitempty"`
	EventName     string   `json:"event_name,omitempty"`
	Fill          int      `json:"fill,omitempty"`
	// Plan is the deliveries of a matched batch, not written yet (see
	// ForwardPlan); Destinations are its destinations.
	Plan *ForwardPlan `json:"plan,omitempty"`
}

// destinations are a's Destinations, with the one of an older job.
func (a ForwardArgs) destinations() []string {
	if a.DestinationID == "" || slices.Contains(a.Destinations, a.DestinationID) {
		return a.Destinations
	}
	return append([]string{a.DestinationID}, a.Destinations...)
}

// IDs are the deliveries the job sends.
func (a ForwardArgs) IDs() []string {
	if a.DeliveryID == "" {
		return a.DeliveryIDs
	}
	return append([]string{a.DeliveryID}, a.DeliveryIDs...)
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
// Batching: a matched batch's job carries the deliveries of all its
// conversions to every destination, and sends each destination's share at
// once, in requests of up to the platform's batch size
// (destination.MaxBatch). Jobs no longer top up their batch with other
// jobs' fresh deliveries: under TestForwardLoad the look for them (a walk
// over each destination's PENDING deliveries) found few, saved a tenth of
// the requests and cost 44% of the forwarding rate under a backlog; jobs
// of older versions may still hold deliveries so taken (see holding).
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
	wait := w.backoff(job.JobRow)
	wait += time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait)
}

// backoff is the wait before the retry of job after a failure: twice as
// long after each failure (rescues do not count), capped.
func (w *ForwardWorker) backoff(job *rivertype.JobRow) time.Duration {
	failures := 1
	for _, e := range job.Errors {
		if e.Error != rescuedError {
			failures++
		}
	}
	base := w.retryBase()
	return min(base*time.Duration(1<<min(failures-1, 7)), base*maxRetryFactor)
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
	token, own, pre := newClaimToken(job.JobRow), claimPrefix(job.JobRow), job.Args.Claim
	// A job run before may have left deliveries it took from others with
	// itself (see holding); take them back.
	var reclaim []string
	if job.Attempt > 1 || bytes.Contains(job.Metadata, []byte(`"snoozes"`)) {
		reclaim = job.Args.destinations()
	}
	if job.Args.Plan != nil {
		if reclaim == nil {
			return w.sendPlan(ctx, job)
		}
		// A later run: the deliveries are rows now, held by the job.
		if err := w.materialize(ctx, job, own); err != nil {
			return err
		}
	}
	ids := job.Args.IDs()
	if len(ids) == 0 && reclaim == nil {
		return nil
	}
	var (
		batch []*ent.Delivery
		err   error
	)
	if pre != "" && reclaim == nil {
		// A first run, of deliveries created claimed by it: no claim to
		// write, unless their claim would lapse before this run ends.
		batch, err = w.load(ctx, job.Args.AccountID, ids, pre)
		if err != nil {
			return err
		}
		lapses := w.clock().Add(w.claimFor())
		if slices.ContainsFunc(batch, func(d *ent.Delivery) bool {
			return d.Status != delivery.StatusPENDING || d.ClaimedUntil == nil || !d.ClaimedUntil.After(lapses)
		}) {
			batch = nil
		} else {
			token = pre
		}
	}
	if len(batch) == 0 {
		taken, err := w.claim(ctx, job.Args.AccountID, ids, token, own, pre, reclaim, w.clock())
		if err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		if len(taken) == 0 {
			return w.awaitOthers(ctx, ids, own, pre)
		}
		if batch, err = w.load(ctx, job.Args.AccountID, taken, token); err != nil {
			w.release(ctx, token, own)
			return err
		}
	}
	outcomes := w.send(ctx, batch)
	now := w.clock()
	// The deliveries to try again stay with this job (the claim keeps its
	// prefix) until its retry, which takes them back (see claim): some
	// may be other jobs', taken by an older version's fill, and those jobs
	// may have ended.
	hold := holding{claim: own + "retry", until: now.Add(w.retryIn(job.JobRow, outcomes) + w.claimFor())}
	if own == "" {
		hold = holding{}
	}
	if err := w.record(byID(ctx), token, batch, outcomes, hold, now); err != nil {
		return err
	}
	if err := w.verdict(batch, outcomes); err != nil {
		return err
	}
	claimed := make(map[string]bool, len(batch))
	for _, d := range batch {
		claimed[d.ID] = true
	}
	for _, id := range ids {
		if !claimed[id] {
			return w.awaitOthers(ctx, ids, own, pre)
		}
	}
	return nil
}

// load reads the deliveries ids that hold claim token, with what sending
// them needs. By id, not by claim: no index leads to a claim, and under a
// backlog a scan of the deliveries per job was most of the database's
// work. And by id alone (byID), checking the account here.
func (w *ForwardWorker) load(ctx context.Context, accountID string, ids []string, token string) ([]*ent.Delivery, error) {
	batch, err := w.DB.Ent.Delivery.Query().
		Where(delivery.IDIn(ids...), delivery.Claim(token)).
		WithDestination().
		WithConversion(func(q *ent.ConversionQuery) {
			q.Select(convColumns...).WithVisit(func(q *ent.ClickQuery) { q.Select(click.FieldIP, click.FieldUserAgent) })
		}).
		Order(ent.Asc(delivery.FieldID)).
		All(byID(ctx))
	if err == nil && slices.ContainsFunc(batch, func(d *ent.Delivery) bool { return d.AccountID != accountID }) {
		err = errors.New("a claimed delivery belongs to another account")
	}
	if err != nil {
		return nil, fmt.Errorf("load claimed deliveries: %w", err)
	}
	return batch, nil
}

// convColumns are the columns of a conversion but the raw request, which
// may be as long as a postback body (64 KiB) and serves the Events Log
// only.
var convColumns = slices.DeleteFunc(slices.Clone(conversion.Columns), func(c string) bool { return c == conversion.FieldRawRequest })

// byID is ctx for queries that name their rows by primary key (and a
// claim token) and read or write nothing else: without the viewer's
// account condition, which the tenancy rules would add. Beside a list of
// ids, that condition tempted the planner into pairing the primary key
// with an index that leads with the account — all of its rows — whenever
// its statistics were thin (a new table: the first minute of a load),
// and that read ~100,000 index entries per statement.
func byID(ctx context.Context) context.Context {
	return viewer.SystemContext(ctx, "")
}

// holding is the claim a delivery to try again keeps after an attempt:
// its job's prefix, until a while after its retry is due; empty to clear.
type holding struct {
	claim string
	until time.Time
}

// retryIn is about when River runs job again after outcomes (see NextRetry
// and verdict).
func (w *ForwardWorker) retryIn(job *rivertype.JobRow, outcomes []capi.Outcome) time.Duration {
	wait := w.backoff(job) * 11 / 10
	for _, o := range outcomes {
		if o.Err != nil && o.Err.Retryable {
			wait = max(wait, min(o.Err.RetryAfter, maxPlatformWait))
		}
	}
	return wait
}

// send sends batch, grouped by destination and event, in requests of at
// most destination.MaxBatch events, and returns each delivery's outcome.
// The groups go out at the same time, each group's requests one after the
// other.
func (w *ForwardWorker) send(ctx context.Context, batch []*ent.Delivery) []capi.Outcome {
	outcomes := make([]capi.Outcome, len(batch))
	type key struct{ dst, event string }
	groups := map[key][]int{}
	var order []key
	for i, d := range batch {
		if why := withdrawn(d); why != "" {
			outcomes[i] = skippedOutcome(d.EventID, why)
			outcomes[i].Err.Code = withdrawnCode
			continue
		}
		k := key{d.DestinationID, d.EventName}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var wg sync.WaitGroup
	for _, k := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.sendGroup(ctx, batch, groups[k], k.event, outcomes)
		}()
	}
	wg.Wait()
	return outcomes
}

// withdrawn says why d is no longer to be sent: the network rejected or
// reversed its conversion before any attempt. The status job skips the
// deliveries nobody holds; those a job holds (created claimed by it, or
// waiting for its retry) the job skips when it comes to send them, and
// drops the adjustment the status job planned for them, as they never
// reached the platform. Once an attempt went out (it may have landed
// without an answer), the delivery is sent and adjusted
// (planAdjustments). A network's "pending" after an approval does not stop
// a delivery under way: a later approval plans only deliveries that do not
// exist yet.
func withdrawn(d *ent.Delivery) string {
	conv := d.Edges.Conversion
	if conv == nil || d.Attempts != 0 || len(d.AttemptLog) != 0 {
		return ""
	}
	switch s := strings.ToUpper(conv.NetworkStatus); s {
	case networkRejected, networkReversed:
		return fmt.Sprintf("the network reported the conversion %s before it was forwarded", strings.ToLower(s))
	}
	return ""
}

// sendGroup sends the deliveries batch[idx], all of one destination and
// event, and writes their outcomes at the same indexes of outcomes.
func (w *ForwardWorker) sendGroup(ctx context.Context, batch []*ent.Delivery, idx []int, event string, outcomes []capi.Outcome) {
	settle := func(idx []int, o capi.Outcome) {
		for _, i := range idx {
			outcomes[i] = o
			outcomes[i].EventID = batch[i].EventID
		}
	}
	dst := batch[idx[0]].Edges.Destination
	if dst == nil || !dst.Enabled {
		settle(idx, skippedOutcome("", "the destination is disabled"))
		return
	}
	creds, err := w.Destinations.Open(dst)
	if err != nil {
		settle(idx, failedOutcome(err.Error()))
		return
	}
	if w.Destinations.Stale(dst) {
		if err := w.Destinations.Reseal(ctx, w.DB.Ent, dst); err != nil {
			w.log().WarnContext(ctx, "could not seal destination credentials with the current key", "destination", dst.ID, "err", err)
		}
	}
	if dst.Kind == destination.KindGoogleAds && digitsOnly(event) {
		creds.GoogleAds.ConversionActionID = event
	}
	size := max(destination.MaxBatch(dst.Kind), 1)
	for from := 0; from < len(idx); from += size {
		chunk := idx[from:min(from+size, len(idx))]
		events := make([]capi.Event, len(chunk))
		for j, i := range chunk {
			events[j] = BuildEvent(batch[i], batch[i].Edges.Conversion)
		}
		res := w.Destinations.Clients.Send(ctx, creds, events)
		if len(res.Outcomes) != len(chunk) {
			settle(chunk, capi.Outcome{Err: &capi.Error{Code: "internal", Retryable: true,
				Message: fmt.Sprintf("capi returned %d outcomes for %d events", len(res.Outcomes), len(chunk))}})
			continue
		}
		for j, i := range chunk {
			outcomes[i] = res.Outcomes[j]
		}
	}
}

// verdict turns the outcomes of batch into River's terms: done, unless a
// delivery failed in a way that may pass and has attempts left; then the
// job is retried with NextRetry's backoff, or snoozes for the longest wait
// a platform asked for.
func (w *ForwardWorker) verdict(batch []*ent.Delivery, outcomes []capi.Outcome) error {
	var (
		retry *capi.Error
		id    string
		wait  time.Duration
	)
	for i, o := range outcomes {
		if o.Delivered() || o.Err == nil || !o.Err.Retryable || batch[i].Attempts+1 >= MaxDeliveryAttempts {
			continue
		}
		if retry == nil {
			retry, id = o.Err, batch[i].ID
		}
		wait = max(wait, min(o.Err.RetryAfter, maxPlatformWait))
	}
	switch {
	case retry == nil:
		return nil
	case wait > 0:
		return river.JobSnooze(wait)
	default:
		return fmt.Errorf("delivery %s: %w", id, retry)
	}
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

// claim marks the deliveries ids that are PENDING and not claimed by a live
// job with token, and returns the ids of those it took. A claim is dead when it
// lapsed, or when it starts with own (claimPrefix): the job's own earlier
// attempt, which died or left them to its retry (see holding). With
// reclaim (destinations), the job also takes back every delivery of them
// that holds its prefix: those its earlier attempts took from other jobs
// (an older version's fill), which have ended since. On PostgreSQL, jobs claim
// concurrently: the rows are locked in id order and rows another
// transaction holds are skipped (FOR UPDATE SKIP LOCKED), so claimers never
// wait on each other or deadlock. SQLite has one writer at a time.
func (w *ForwardWorker) claim(ctx context.Context, accountID string, ids []string, token, own, pre string, reclaim []string, now time.Time) ([]string, error) {
	until := now.Add(w.claimFor())
	free := delivery.Or(delivery.ClaimedUntilIsNil(), delivery.ClaimedUntilLT(now))
	if pre != "" {
		free = delivery.Or(free, delivery.Claim(pre))
	} else {
		pre = "-" // no token is "-"
	}
	if own != "" {
		free = delivery.Or(free, delivery.ClaimHasPrefix(own))
	} else {
		own, reclaim = "-", nil // no token starts with "-"
	}
	if w.DB.Dialect != dialect.Postgres {
		which := delivery.And(delivery.IDIn(ids...), free)
		if len(reclaim) > 0 {
			which = delivery.Or(which, delivery.And(delivery.DestinationIDIn(reclaim...), delivery.ClaimHasPrefix(own)))
		}
		n, err := w.DB.Ent.Delivery.Update().
			Where(delivery.AccountID(accountID), delivery.StatusEQ(delivery.StatusPENDING), which).
			SetClaim(token).
			SetClaimedUntil(until).
			Save(ctx)
		if err != nil || n == 0 {
			return nil, err
		}
		// One writer at a time: what holds token now is what this took.
		q := w.DB.Ent.Delivery.Query().Where(delivery.AccountID(accountID), delivery.Claim(token))
		if len(reclaim) == 0 {
			q.Where(delivery.IDIn(ids...))
		}
		return q.IDs(ctx)
	}
	args := []any{token, until, accountID, now, own, ids, pre}
	// The deliveries are found by id alone: OFFSET 0 keeps the other
	// conditions out of the scan, so that the planner cannot pair the
	// primary key with the (account, status) index, whose PENDING range is
	// the whole backlog — it did, whenever its statistics said PENDING was
	// rare (a new table, a burst): a bitmap AND read ~20,000 index entries
	// per claim. Rows are locked as found and filtered on their locked
	// version.
	query := `UPDATE deliveries SET claim = $1, claimed_until = $2
		WHERE id IN (SELECT id FROM (SELECT id, account_id, status, claim, claimed_until FROM deliveries WHERE id = ANY($6::text[]) OFFSET 0) d
			WHERE account_id = $3 AND status = 'PENDING' AND (claimed_until IS NULL OR claimed_until < $4 OR starts_with(claim, $5) OR claim = $7)
			ORDER BY id FOR UPDATE SKIP LOCKED)
		RETURNING id`
	if len(reclaim) > 0 {
		// A retry: rare, and it must look by destination anyway.
		args = append(args, reclaim)
		query = `UPDATE deliveries SET claim = $1, claimed_until = $2
		WHERE id IN (SELECT id FROM deliveries
			WHERE account_id = $3 AND status = 'PENDING' AND ((id = ANY($6::text[]) AND (claimed_until IS NULL OR claimed_until < $4 OR starts_with(claim, $5) OR claim = $7))
				OR (destination_id = ANY($8::text[]) AND starts_with(claim, $5)))
			ORDER BY id FOR UPDATE SKIP LOCKED)
		RETURNING id`
	}
	rows, err := w.DB.SQL.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var taken []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		taken = append(taken, id)
	}
	return taken, rows.Err()
}

// awaitOthers is what a job does about those of its deliveries it could
// not claim. Those another job holds are that job's now: it is sending
// them, or took them in its batch (an older version's fill) and keeps them until they are
// settled (see holding), or died and takes them back when River rescues it
// (see claim); should it be gone for good, the sweep gives them a new job.
// Those nobody holds (a concurrent claim skipped them, or the holder's
// claim lapsed) the job takes on its next run, shortly.
func (w *ForwardWorker) awaitOthers(ctx context.Context, ids []string, own, pre string) error {
	pending, err := w.DB.Ent.Delivery.Query().
		Where(delivery.IDIn(ids...), delivery.StatusEQ(delivery.StatusPENDING)).
		Select(delivery.FieldID, delivery.FieldClaim, delivery.FieldClaimedUntil).
		All(byID(ctx)) // its own ids
	if err != nil {
		return fmt.Errorf("load deliveries: %w", err)
	}
	now := w.clock()
	for _, d := range pending {
		mine := (own != "" && strings.HasPrefix(d.Claim, own)) || (pre != "" && d.Claim == pre)
		held := d.Claim != "" && d.ClaimedUntil != nil && d.ClaimedUntil.After(now) && !mine
		if !held {
			return river.JobSnooze(retake)
		}
	}
	return nil
}

// retake is how soon a job tries again to claim deliveries nobody holds.
const retake = 200 * time.Millisecond

// release gives up the claim of token without recording an attempt. The
// deliveries stay with the job (own) for a little while, for its retry to
// take them back (see claim); then anyone may.
func (w *ForwardWorker) release(ctx context.Context, token, own string) {
	upd := w.DB.Ent.Delivery.Update().Where(delivery.Claim(token))
	if own != "" {
		upd.SetClaim(own + "released").SetClaimedUntil(w.clock().Add(w.claimFor()))
	} else {
		upd.ClearClaim().ClearClaimedUntil()
	}
	if err := upd.Exec(context.WithoutCancel(ctx)); err != nil {
		w.log().WarnContext(ctx, "could not release deliveries; they return when the claim lapses", "err", err)
	}
}

// record writes each outcome to its delivery, in one transaction, and
// releases the claim, and counts the outcomes in metrics.Deliveries.
// The writes are conditional on the claim: a job that lost it (it ran past
// claimFor) records nothing and says so.
func (w *ForwardWorker) record(ctx context.Context, token string, batch []*ent.Delivery, outcomes []capi.Outcome, hold holding, now time.Time) error {
	if len(outcomes) != len(batch) {
		return fmt.Errorf("capi returned %d outcomes for %d events", len(outcomes), len(batch))
	}
	// The platform's answer must be recorded even if the job's context
	// ends now: the request went out.
	ctx = context.WithoutCancel(ctx)
	if w.DB.Dialect == dialect.Postgres {
		if err := w.recordRows(ctx, token, batch, outcomes, hold, now); err != nil {
			return err
		}
		w.count(batch, outcomes)
		return nil
	}
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin recording deliveries: %w", err)
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
		upd := applyOutcome(tx.Delivery.Update().Where(delivery.IDIn(g.ids...), delivery.Claim(token)), g.first, g.o, hold, now)
		n, err := upd.Save(ctx)
		if err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("record deliveries: %w", err)
		}
		if n != len(g.ids) {
			w.log().WarnContext(ctx, "delivery claims lapsed before their results were recorded", "deliveries", len(g.ids)-n)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit deliveries: %w", err)
	}
	w.count(batch, outcomes)
	return nil
}

// recordRows is record on PostgreSQL: every delivery's values in one
// UPDATE of arrays, instead of an UPDATE per outcome (one per destination
// at least: each platform's answer differs), which was a fifth of the
// statements under load.
func (w *ForwardWorker) recordRows(ctx context.Context, token string, batch []*ent.Delivery, outcomes []capi.Outcome, hold holding, now time.Time) error {
	n := len(batch)
	var (
		ids, statuses, logs, errs, claims = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts                          = make([]int64, n)
		sent, hasErr, withdrawn           = make([]bool, n), make([]bool, n), make([]bool, n)
		until                             = make([]time.Time, n)
	)
	for i, d := range batch {
		v := outcomeValues(d, outcomes[i], hold, now)
		log, err := json.Marshal(v.log)
		if err != nil {
			return fmt.Errorf("encode attempt log: %w", err)
		}
		ids[i], statuses[i], logs[i], attempts[i], sent[i], withdrawn[i] = d.ID, string(v.status), string(log), int64(v.attempts), v.sent, v.withdrawn
		if v.lastError != nil {
			errs[i], hasErr[i] = *v.lastError, true
		}
		claims[i], until[i] = v.claim, cmp.Or(v.until, now)
	}
	res, err := w.DB.SQL.ExecContext(ctx, `UPDATE deliveries AS d SET
			status = v.status, attempts = v.attempts, attempt_log = v.log::jsonb, last_attempt_at = $2, updated_at = $2,
			sent_at = CASE WHEN v.sent THEN $2 ELSE d.sent_at END,
			last_error = CASE WHEN v.has_err THEN v.err END,
			claim = NULLIF(v.claim, ''), claimed_until = CASE WHEN v.claim <> '' THEN v.until END,
			adjustment = CASE WHEN v.withdrawn THEN NULL ELSE d.adjustment END,
			adjustment_time = CASE WHEN v.withdrawn THEN NULL ELSE d.adjustment_time END,
			adjustment_response = CASE WHEN v.withdrawn THEN NULL ELSE d.adjustment_response END,
			adjusted_at = CASE WHEN v.withdrawn THEN NULL ELSE d.adjusted_at END
		FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::bool[], $8::text[], $9::bool[], $10::text[], $11::timestamptz[], $12::bool[])
			AS v(id, status, attempts, log, sent, err, has_err, claim, until, withdrawn)
		WHERE d.id = v.id AND d.claim = $1`,
		token, now, ids, statuses, attempts, logs, sent, errs, hasErr, claims, until, withdrawn)
	if err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	if got, err := res.RowsAffected(); err == nil && got != int64(n) {
		w.log().WarnContext(ctx, "delivery claims lapsed before their results were recorded", "deliveries", int64(n)-got)
	}
	return nil
}

// count counts the outcomes of batch in metrics.Deliveries.
func (w *ForwardWorker) count(batch []*ent.Delivery, outcomes []capi.Outcome) {
	for i, d := range batch {
		platform := "unknown"
		if d.Edges.Destination != nil {
			platform = string(d.Edges.Destination.Kind)
		}
		metrics.Deliveries.Inc(platform, outcomeName(outcomes[i], d.Attempts+1))
	}
}

// outcomeName is the metrics.Deliveries label of outcome o of a
// delivery's attempt-th attempt.
func outcomeName(o capi.Outcome, attempt int) string {
	switch {
	case o.Delivered():
		return "sent"
	case errors.Is(o.Err, capi.ErrSkipped):
		return "skipped"
	case o.Err.Retryable && attempt < MaxDeliveryAttempts:
		return "retried"
	default:
		return "failed"
	}
}

// applyOutcome sets on upd what outcome o means for delivery d.
func applyOutcome(upd *ent.DeliveryUpdate, d *ent.Delivery, o capi.Outcome, hold holding, now time.Time) *ent.DeliveryUpdate {
	v := outcomeValues(d, o, hold, now)
	upd.SetStatus(v.status).SetAttempts(v.attempts).SetAttemptLog(v.log).SetLastAttemptAt(now)
	if v.sent {
		upd.SetSentAt(now)
	}
	if v.lastError != nil {
		upd.SetLastError(*v.lastError)
	} else {
		upd.ClearLastError()
	}
	if v.withdrawn {
		upd.ClearAdjustment().ClearAdjustmentTime().ClearAdjustmentResponse().ClearAdjustedAt()
	}
	if v.claim != "" {
		upd.SetClaim(v.claim).SetClaimedUntil(v.until)
	} else {
		upd.ClearClaim().ClearClaimedUntil()
	}
	return upd
}

// recorded is what an outcome writes on its delivery (besides the
// attempt's time).
type recorded struct {
	status    delivery.Status
	attempts  int
	log       []schematype.Attempt
	sent      bool    // sent_at becomes the attempt's time
	lastError *string // nil clears it
	withdrawn bool    // the planned adjustment is dropped (see withdrawn)
	claim     string  // kept with until; "" clears the claim
	until     time.Time
}

// outcomeValues is what outcome o means for delivery d.
func outcomeValues(d *ent.Delivery, o capi.Outcome, hold holding, now time.Time) recorded {
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
	v := recorded{status: d.Status, attempts: d.Attempts + 1}
	v.log = append(slices.Clip(d.AttemptLog), attempt)
	if len(v.log) > maxAttemptLog {
		v.log = v.log[len(v.log)-maxAttemptLog:]
	}
	text := func(s string) *string { return &s }
	keep := false
	switch {
	case o.Delivered():
		v.status, v.sent = delivery.StatusSENT, true
		if o.Duplicate {
			v.lastError = text("the platform already had this conversion (an earlier upload landed): counted as sent")
		}
	case errors.Is(o.Err, capi.ErrSkipped):
		v.status, v.lastError = delivery.StatusSKIPPED, text(cutError(o.Err.Message))
		v.withdrawn = o.Err.Code == withdrawnCode
	case o.Err.Retryable && v.attempts < MaxDeliveryAttempts:
		v.lastError = text(cutError(o.Err.Error()))
		keep = hold.claim != ""
	case o.Err.Retryable:
		v.status, v.lastError = delivery.StatusFAILED, text(cutError(fmt.Sprintf("gave up after %d attempts: %s", v.attempts, o.Err.Error())))
	default:
		v.status, v.lastError = delivery.StatusFAILED, text(cutError(o.Err.Error()))
	}
	if keep {
		v.claim, v.until = hold.claim, hold.until
	}
	return v
}

// withdrawnCode marks the skipped outcome of a delivery whose conversion
// the network withdrew (see withdrawn).
const withdrawnCode = "withdrawn"

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
