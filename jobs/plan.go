package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	entdest "github.com/clickback/clickback/ent/destination"
	"github.com/clickback/clickback/ent/schema/pulid"
)

// ForwardPlan is what the forward job of a matched batch sends: the
// deliveries of its conversions, named by conversion, destination and
// platform event rather than written as PENDING rows. Its first run writes
// each delivery once, with the outcome of the first attempt (SENT, SKIPPED,
// FAILED, or PENDING with the attempt and the job's retry holding it):
// inserting the PENDING rows at the match and then updating each with its
// outcome was two of the ten row writes per conversion on PostgreSQL, and
// no update of a delivery's status can be HOT (status and updated_at are
// indexed). The job is inserted in the match's transaction, so the plan is
// as durable as the rows were.
//
// A later run of the job (a retry after the first run failed, or River's
// rescue of a run that died) first writes the PENDING rows the first run
// did not (materialize), held by the job, and goes on as any job with rows.
//
// Until the first attempt the conversion's Events Log entry shows no
// delivery for the plan, for the time one request to each platform takes.
// Meanwhile a network's rejection or reversal reaches the job (it reads the
// conversion's status when it loads the plan: withdrawn) or, should it come
// while the job is sending, is applied to the rows the job writes (see
// recordPlan); and nothing else plans these deliveries (see loadPlan).
type ForwardPlan struct {
	// Conversions are the ids of the batch's conversions.
	Conversions []string `json:"conversions"`
	// Sends are, per destination and platform event, the indexes in
	// Conversions of the conversions to send there.
	Sends []PlannedSend `json:"sends"`
	// At is when the batch was matched: the deliveries' created_at.
	At time.Time `json:"at"`
}

// PlannedSend is a destination's share of a ForwardPlan.
type PlannedSend struct {
	Destination string `json:"destination"`
	Event       string `json:"event"`
	Conversions []int  `json:"conversions"`
}

// sendPlan is the first run of a plan's job: it sends the plan's
// deliveries, writes them with their outcomes, and returns the verdict.
func (w *ForwardWorker) sendPlan(ctx context.Context, job *river.Job[ForwardArgs]) error {
	batch, err := w.loadPlan(ctx, job.Args.AccountID, job.Args.Plan)
	if err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	outcomes := w.send(ctx, batch)
	now := w.clock()
	hold := holding{}
	if own := claimPrefix(job.JobRow); own != "" {
		hold = holding{claim: own + "retry", until: now.Add(w.retryIn(job.JobRow, outcomes) + w.claimFor())}
	}
	if err := w.recordPlan(ctx, job.Args.AccountID, batch, outcomes, hold, now); err != nil {
		return err
	}
	w.count(batch, outcomes)
	return w.verdict(batch, outcomes)
}

// loadPlan returns the deliveries of plan with what sending them needs:
// those of conversions and destinations that still exist. It does not
// look for rows of them: nothing else writes a delivery a live plan
// covers (the status job plans none for a conversion that was
// forwardable when it was matched, and replayConversion leaves out what a
// plan still sends: planned), and on PostgreSQL such a look cost more than
// all the rest: without statistics on deliveries.conversion_id (a new
// table under load) the planner took a batch's ids for the whole table
// and read all of it. Should a row exist all the same, it stands
// (insertRows).
func (w *ForwardWorker) loadPlan(ctx context.Context, accountID string, plan *ForwardPlan) ([]*ent.Delivery, error) {
	postgres := w.DB.Dialect == dialect.Postgres
	convs, err := w.DB.Ent.Conversion.Query().
		Where(oneOf(postgres, conversion.FieldID, plan.Conversions)).
		Select(convColumns...).
		All(byID(ctx))
	if err != nil {
		return nil, fmt.Errorf("load planned conversions: %w", err)
	}
	byConv := make(map[string]*ent.Conversion, len(convs))
	var visitIDs []string
	for _, c := range convs {
		if c.AccountID != accountID {
			return nil, errors.New("a planned conversion belongs to another account")
		}
		byConv[c.ID] = c
		if c.VisitID != nil {
			visitIDs = append(visitIDs, *c.VisitID)
		}
	}
	// The visits' IP and user agent, which the platforms take (BuildEvent).
	if len(visitIDs) > 0 {
		visits, err := w.DB.Ent.Click.Query().
			Where(oneOf(postgres, click.FieldID, visitIDs)).
			Select(click.FieldID, click.FieldIP, click.FieldUserAgent).
			All(byID(ctx))
		if err != nil {
			return nil, fmt.Errorf("load visits of planned conversions: %w", err)
		}
		byVisit := make(map[string]*ent.Click, len(visits))
		for _, v := range visits {
			byVisit[v.ID] = v
		}
		for _, c := range convs {
			if c.VisitID != nil {
				c.Edges.Visit = byVisit[*c.VisitID]
			}
		}
	}
	var dstIDs []string
	for _, s := range plan.Sends {
		if !slices.Contains(dstIDs, s.Destination) {
			dstIDs = append(dstIDs, s.Destination)
		}
	}
	dests, err := w.DB.Ent.Destination.Query().Where(entdest.IDIn(dstIDs...)).All(byID(ctx)) // by id; the account is checked here
	if err != nil {
		return nil, fmt.Errorf("load planned destinations: %w", err)
	}
	byDest := make(map[string]*ent.Destination, len(dests))
	for _, d := range dests {
		if d.AccountID != accountID {
			return nil, errors.New("a planned destination belongs to another account")
		}
		byDest[d.ID] = d
	}
	var batch []*ent.Delivery
	for _, s := range plan.Sends {
		dst := byDest[s.Destination]
		if dst == nil {
			continue // deleted, with its deliveries
		}
		for _, i := range s.Conversions {
			if i < 0 || i >= len(plan.Conversions) {
				continue
			}
			conv := byConv[plan.Conversions[i]]
			if conv == nil {
				continue // deleted
			}
			batch = append(batch, &ent.Delivery{
				ID:            pulid.New("dlv"),
				CreatedAt:     plan.At,
				UpdatedAt:     plan.At,
				AccountID:     accountID,
				ConversionID:  conv.ID,
				DestinationID: dst.ID,
				Status:        delivery.StatusPENDING,
				EventID:       conv.ID, // see newDelivery
				EventName:     s.Event,
				Edges:         ent.DeliveryEdges{Conversion: conv, Destination: dst},
			})
		}
	}
	return batch, nil
}

// pair names a delivery by its conversion and destination.
type pair struct{ conv, dst string }

// existingPairs returns the deliveries of convs that have rows.
func existingPairs(ctx context.Context, client *ent.Client, convs []string) (map[pair]bool, error) {
	rows, err := client.Delivery.Query().
		Where(delivery.ConversionIDIn(convs...)).
		Select(delivery.FieldConversionID, delivery.FieldDestinationID).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load deliveries of planned conversions: %w", err)
	}
	out := make(map[pair]bool, len(rows))
	for _, d := range rows {
		out[pair{d.ConversionID, d.DestinationID}] = true
	}
	return out, nil
}

// materialize is the start of a later run of a plan's job: it writes the
// PENDING rows of the plan's deliveries that have none yet (the first run
// died before writing them, or could not), held by the job (own) so that
// it takes them like those its first run kept for it.
func (w *ForwardWorker) materialize(ctx context.Context, job *river.Job[ForwardArgs], own string) error {
	batch, err := w.loadPlan(ctx, job.Args.AccountID, job.Args.Plan)
	if err != nil || len(batch) == 0 {
		return err
	}
	now := w.clock()
	values := make([]recorded, len(batch))
	for i := range batch {
		values[i] = recorded{status: delivery.StatusPENDING}
		if own != "" {
			values[i].claim, values[i].until = own+"plan", now.Add(w.claimFor())
		}
	}
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin writing planned deliveries: %w", err)
	}
	if _, err := w.insertRows(ctx, tx, batch, values, nil, now); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit planned deliveries: %w", err)
	}
	return nil
}

// recordPlan writes the deliveries of batch (loadPlan's) with outcomes,
// in one transaction, skipping any that someone else wrote meanwhile. A
// conversion the network rejected or reversed while the job was sending
// (after loadPlan read it) gets a StatusArgs job to adjust the deliveries
// that went out, as the status job would have had they been written: the
// two transactions lock the conversion (lockConversions), so that one of
// them sees the other's write.
func (w *ForwardWorker) recordPlan(ctx context.Context, accountID string, batch []*ent.Delivery, outcomes []capi.Outcome, hold holding, now time.Time) error {
	if len(outcomes) != len(batch) {
		return fmt.Errorf("capi returned %d outcomes for %d events", len(outcomes), len(batch))
	}
	// The platform's answer must be recorded even if the job's context
	// ends now: the request went out.
	ctx = context.WithoutCancel(byID(ctx))
	values := make([]recorded, len(batch))
	for i, d := range batch {
		values[i] = outcomeValues(d, outcomes[i], hold, now)
	}
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin recording deliveries: %w", err)
	}
	convs := make([]string, len(batch))
	for i, d := range batch {
		convs[i] = d.ConversionID
	}
	slices.Sort(convs)
	convs = slices.Compact(convs)
	if err := lockConversions(ctx, w.DB.Dialect, tx.SQLTx(), convs, true); err != nil {
		_ = tx.Rollback()
		return err
	}
	written, err := w.insertRows(ctx, tx, batch, values, outcomes, now)
	if err == nil {
		err = w.readjust(ctx, tx, accountID, batch, values, written)
	}
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit deliveries: %w", err)
	}
	if n := len(batch) - len(written); n > 0 {
		w.log().WarnContext(ctx, "planned deliveries were written by someone else meanwhile; theirs stand", "deliveries", n)
	}
	return nil
}

// insertRows writes the rows of batch with values (and attempt times now
// when outcomes are given) in tx, leaving out those whose conversion and
// destination have a delivery already or whose destination is gone, and
// returns the ids of those it wrote.
func (w *ForwardWorker) insertRows(ctx context.Context, tx *ent.Tx, batch []*ent.Delivery, values []recorded, outcomes []capi.Outcome, now time.Time) (map[string]bool, error) {
	n := len(batch)
	written := make(map[string]bool, n)
	if w.DB.Dialect != dialect.Postgres {
		// One writer at a time: what exists now stays so until commit.
		convs := make([]string, n)
		for i, d := range batch {
			convs[i] = d.ConversionID
		}
		existing, err := existingPairs(ctx, tx.Client(), convs)
		if err != nil {
			return nil, err
		}
		dests, err := tx.Destination.Query().Where(entdest.IDIn(destinationsOf(batch)...)).IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("load destinations: %w", err)
		}
		var creates []*ent.DeliveryCreate
		for i, d := range batch {
			if existing[pair{d.ConversionID, d.DestinationID}] || !slices.Contains(dests, d.DestinationID) {
				continue
			}
			v := values[i]
			c := tx.Delivery.Create().SetID(d.ID).SetCreatedAt(d.CreatedAt).SetUpdatedAt(now).
				SetAccountID(d.AccountID).SetConversionID(d.ConversionID).SetDestinationID(d.DestinationID).
				SetEventID(d.EventID).SetEventName(d.EventName).SetStatus(v.status).SetAttempts(v.attempts)
			if outcomes != nil {
				c.SetAttemptLog(v.log).SetLastAttemptAt(now)
			}
			if v.sent {
				c.SetSentAt(now)
			}
			if v.lastError != nil {
				c.SetLastError(*v.lastError)
			}
			if v.claim != "" {
				c.SetClaim(v.claim).SetClaimedUntil(v.until)
			}
			creates = append(creates, c)
			written[d.ID] = true
		}
		for from := 0; from < len(creates); from += maxJobDeliveries {
			if err := tx.Delivery.CreateBulk(creates[from:min(from+maxJobDeliveries, len(creates))]...).Exec(ctx); err != nil {
				return nil, fmt.Errorf("write deliveries: %w", err)
			}
		}
		return written, nil
	}
	var (
		ids, convs, dsts, events, statuses, logs, errs, claims = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, until                                         = make([]time.Time, n), make([]time.Time, n)
		attempts                                               = make([]int64, n)
		sent, hasErr                                           = make([]bool, n), make([]bool, n)
	)
	for i, d := range batch {
		v := values[i]
		ids[i], convs[i], dsts[i], events[i], statuses[i], created[i] = d.ID, d.ConversionID, d.DestinationID, d.EventName, string(v.status), d.CreatedAt
		attempts[i], sent[i] = int64(v.attempts), v.sent
		logs[i] = "null"
		if outcomes != nil {
			b, err := json.Marshal(v.log)
			if err != nil {
				return nil, fmt.Errorf("encode attempt log: %w", err)
			}
			logs[i] = string(b)
		}
		if v.lastError != nil {
			errs[i], hasErr[i] = *v.lastError, true
		}
		claims[i], until[i] = v.claim, cmp.Or(v.until, now)
	}
	// The account is batch's (loadPlan checked it); the event id is the
	// conversion's id (see newDelivery).
	rows, err := tx.SQLTx().QueryContext(ctx, `INSERT INTO deliveries (id, created_at, updated_at, account_id, conversion_id, destination_id,
			event_id, event_name, status, attempts, attempt_log, last_attempt_at, sent_at, last_error, claim, claimed_until)
		SELECT r.id, r.created, $1, $2, r.conv, r.dst, r.conv, r.event, r.status, r.attempts, r.log::jsonb,
			CASE WHEN $3 THEN $1::timestamptz END, CASE WHEN r.sent THEN $1::timestamptz END,
			CASE WHEN r.has_err THEN r.err END, NULLIF(r.claim, ''), CASE WHEN r.claim <> '' THEN r.until END
		FROM unnest($4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[],
			$12::bool[], $13::text[], $14::bool[], $15::text[], $16::timestamptz[])
			AS r(id, created, conv, dst, event, status, attempts, log, sent, err, has_err, claim, until)
		WHERE EXISTS (SELECT 1 FROM destinations WHERE destinations.id = r.dst)
		ON CONFLICT (conversion_id, destination_id) DO NOTHING
		RETURNING id`,
		now, batch[0].AccountID, outcomes != nil, ids, created, convs, dsts, events, statuses, attempts, logs, sent, errs, hasErr, claims, until)
	if err == nil {
		written, err = returnedIDs(rows)
	}
	if err != nil {
		return nil, fmt.Errorf("write deliveries: %w", err)
	}
	return written, nil
}

// returnedIDs reads the ids of a statement's RETURNING id, and closes rows.
func returnedIDs(rows *sql.Rows) (map[string]bool, error) {
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

func destinationsOf(batch []*ent.Delivery) []string {
	var out []string
	for _, d := range batch {
		if !slices.Contains(out, d.DestinationID) {
			out = append(out, d.DestinationID)
		}
	}
	return out
}

// readjust inserts, in tx, a StatusArgs job (Readjust) for each
// conversion of the deliveries written (written) that went out to their
// platform (SENT, or PENDING after an attempt) whose network status turned
// rejected or reversed after loadPlan read it.
func (w *ForwardWorker) readjust(ctx context.Context, tx *ent.Tx, accountID string, batch []*ent.Delivery, values []recorded, written map[string]bool) error {
	out := map[string]*ent.Conversion{}
	var ids []string
	for i, d := range batch {
		if !written[d.ID] || values[i].withdrawn || (values[i].status != delivery.StatusSENT && values[i].status != delivery.StatusPENDING) {
			continue
		}
		if _, ok := out[d.ConversionID]; !ok {
			out[d.ConversionID] = d.Edges.Conversion
			ids = append(ids, d.ConversionID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	fresh, err := tx.Conversion.Query().
		Where(oneOf(w.DB.Dialect == dialect.Postgres, conversion.FieldID, ids)).
		Select(conversion.FieldID, conversion.FieldNetworkStatus, conversion.FieldDedupKey).
		All(ctx)
	if err != nil {
		return fmt.Errorf("reload network statuses: %w", err)
	}
	var args []river.InsertManyParams
	for _, c := range fresh {
		was := out[c.ID]
		s := strings.ToUpper(c.NetworkStatus)
		if (s != networkRejected && s != networkReversed) || was == nil || strings.EqualFold(was.NetworkStatus, c.NetworkStatus) {
			continue
		}
		args = append(args, river.InsertManyParams{Args: StatusArgs{ConversionID: c.ID, AccountID: accountID, DedupKey: deref(c.DedupKey), Readjust: true}})
	}
	return insertJobs(ctx, tx, args)
}

// Conversion locks, on PostgreSQL: a forward job writing deliveries of a
// plan holds its conversions' locks shared, the status job the lock of the
// conversion it changes exclusively; so either the job sees the new
// network status or the status job sees the job's rows (see recordPlan).
// They are advisory transaction locks, in lockBuckets buckets of
// conversion ids: held in memory, with no row written, and bounded in
// number per transaction. SQLite has one writer at a time.
const (
	lockClass   = 0x636b // "ck"
	lockBuckets = 64
)

// lockConversions takes the locks of convs in tx, on a database of
// dialect d, shared or not.
func lockConversions(ctx context.Context, d string, tx *sql.Tx, convs []string, shared bool) error {
	if d != dialect.Postgres || len(convs) == 0 {
		return nil
	}
	fn := "pg_advisory_xact_lock"
	if shared {
		fn = "pg_advisory_xact_lock_shared"
	}
	_, err := tx.ExecContext(ctx, `SELECT `+fn+`($1, b) FROM (SELECT DISTINCT hashtext(id) & $2 AS b FROM unnest($3::text[]) AS id ORDER BY 1) s`,
		lockClass, lockBuckets-1, convs)
	if err != nil {
		return fmt.Errorf("lock conversions: %w", err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
