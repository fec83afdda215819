package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/viewer"
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

// MatchBatchWorker works a MatchBatchArgs. The conversions whose Click ID
// names a click in their attribution window are matched together, per
// account, in one transaction: one query for the clicks, one conditional
// update per conversion, bulk inserts of their deliveries and one forward
// job for all of them (planBatch). The others
// go through MatchWorker one by one (external id, email, waiting for a
// late click, NO_MATCH); one that must wait for its click (a snooze) or
// whose matching failed becomes a match job of its own, scheduled when its
// wait ends or at once, so that one slow or failing conversion neither
// holds up nor retries the others. Running twice is harmless: only
// RECEIVED conversions are matched, with conditional updates, and a second
// round of follow-up jobs finds its conversions settled or waits alongside
// the first.
type MatchBatchWorker struct {
	river.WorkerDefaults[MatchBatchArgs]
	Match *MatchWorker
}

// Work implements river.Worker.
func (w *MatchBatchWorker) Work(ctx context.Context, job *river.Job[MatchBatchArgs]) error {
	var (
		accounts []string
		byAcc    = map[string][]MatchArgs{}
	)
	for _, a := range job.Args.Conversions {
		if _, ok := byAcc[a.AccountID]; !ok {
			accounts = append(accounts, a.AccountID)
		}
		byAcc[a.AccountID] = append(byAcc[a.AccountID], a)
	}
	var rest []MatchArgs
	for _, acc := range accounts {
		left, err := w.matchByClickID(ctx, acc, byAcc[acc])
		if err != nil {
			return err
		}
		rest = append(rest, left...)
	}
	var later []river.InsertManyParams
	now := time.Now()
	for i, a := range rest {
		if ctx.Err() != nil {
			// Out of time: the rest go on as jobs of their own.
			for _, r := range rest[i:] {
				later = append(later, river.InsertManyParams{Args: r})
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

// matchByClickID matches, in one transaction, the RECEIVED conversions of
// args (all of account accountID) whose Click ID names a click inside the
// attribution window, and returns the others, still RECEIVED, for
// MatchWorker.
func (w *MatchBatchWorker) matchByClickID(ctx context.Context, accountID string, args []MatchArgs) ([]MatchArgs, error) {
	ctx = viewer.SystemContext(ctx, accountID)
	now := time.Now()
	if w.Match.now != nil {
		now = w.Match.now()
	}
	ids := make([]string, len(args))
	for i, a := range args {
		ids[i] = a.ConversionID
	}
	db := w.Match.DB.Ent
	// By id alone (see byID); account and status are checked here: the
	// (account, status) index beside the ids read the whole RECEIVED
	// backlog per batch whenever the statistics were thin.
	loaded, err := db.Conversion.Query().Where(oneOf(w.Match.DB.Dialect == dialect.Postgres, conversion.FieldID, ids)).Select(convColumns...).All(byID(ctx))
	if err != nil {
		return nil, fmt.Errorf("load conversions: %w", err)
	}
	convs := slices.DeleteFunc(loaded, func(c *ent.Conversion) bool {
		return c.AccountID != accountID || c.Status != conversion.StatusRECEIVED
	})
	if len(convs) == 0 {
		return nil, nil // settled by an earlier run, or deleted
	}
	found, err := ClicksFor(ctx, db, accountID, convs)
	if err != nil {
		return nil, err
	}
	type pair struct {
		conv *ent.Conversion
		clk  *ent.Click
	}
	var (
		pairs []pair
		rest  []MatchArgs
	)
	for i, conv := range convs {
		if found[i] == nil {
			rest = append(rest, MatchArgs{ConversionID: conv.ID, AccountID: accountID})
			continue
		}
		pairs = append(pairs, pair{conv, found[i]})
	}
	if len(pairs) == 0 {
		return rest, nil
	}
	tx, err := db.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin match: %w", err)
	}
	convs, clks := make([]*ent.Conversion, len(pairs)), make([]*ent.Click, len(pairs))
	for i, p := range pairs {
		convs[i], clks[i] = p.conv, p.clk
	}
	done, err := w.markAllMatched(ctx, tx, accountID, convs, clks, now)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	forward := make([]*ent.Conversion, 0, len(pairs))
	for _, c := range convs {
		if !done[c.ID] {
			continue // settled by another run meanwhile
		}
		m := *c
		m.Status = conversion.StatusMATCHED
		if fwd, _ := Forwardable(&m); fwd {
			forward = append(forward, &m)
		}
	}
	jobs, err := planBatch(ctx, tx.Client(), w.Match.DB.Dialect == dialect.Postgres, accountID, forward, now)
	if err == nil {
		err = insertJobs(ctx, tx, jobs)
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit match: %w", err)
	}
	return rest, nil
}

// markAllMatched marks each of convs MATCHED with the click of the same
// index, as markMatched does, and returns the ids of those it marked (the
// others were no longer RECEIVED). On PostgreSQL that is one statement.
func (w *MatchBatchWorker) markAllMatched(ctx context.Context, tx *ent.Tx, accountID string, convs []*ent.Conversion, clks []*ent.Click, now time.Time) (map[string]bool, error) {
	done := make(map[string]bool, len(convs))
	if w.Match.DB.Dialect != dialect.Postgres {
		for i, c := range convs {
			ok, err := markMatched(ctx, tx, c, clks[i], now)
			if err != nil {
				return nil, err
			}
			done[c.ID] = ok
		}
		return done, nil
	}
	ids, visits, attrs := make([]string, len(convs)), make([]string, len(convs)), make([]string, len(convs))
	for i, c := range convs {
		b, err := json.Marshal(Attribution(clks[i]))
		if err != nil {
			return nil, fmt.Errorf("encode attribution: %w", err)
		}
		ids[i], visits[i], attrs[i] = c.ID, clks[i].ID, string(b)
	}
	// By id alone, like the load above: account and status are checked on
	// each row, in a form no index can serve (both columns are NOT NULL,
	// so it means =). Written as =, they let the planner scan the
	// (account, status) index — the whole RECEIVED backlog — and hash it
	// against the ids, per batch.
	rows, err := tx.SQLTx().QueryContext(ctx, `UPDATE conversions AS c
		SET status = 'MATCHED', visit_id = v.visit_id, matched_at = $2, attribution = v.attribution::jsonb, reason = NULL, updated_at = $2
		FROM unnest($3::text[], $4::text[], $5::text[]) AS v(id, visit_id, attribution)
		WHERE c.id = v.id AND (c.account_id, c.status) IS NOT DISTINCT FROM ($1, 'RECEIVED')
		RETURNING c.id`, accountID, now, ids, visits, attrs)
	if err == nil {
		done, err = returnedIDs(rows)
	}
	if err != nil {
		return nil, fmt.Errorf("mark conversions matched: %w", err)
	}
	return done, nil
}

// ClicksFor returns, at the index of each of convs (conversions of
// account accountID), the click its Click ID names within the attribution
// window, or nil: one query for all their clicks. The collect endpoint
// matches with it as it stores postbacks, and MatchBatchWorker the
// conversions stored before their click was recorded.
func ClicksFor(ctx context.Context, client *ent.Client, accountID string, convs []*ent.Conversion) ([]*ent.Click, error) {
	out := make([]*ent.Click, len(convs))
	clickIDs := make([]string, 0, len(convs))
	for _, c := range convs {
		if c.ClickID != "" {
			clickIDs = append(clickIDs, c.ClickID)
		}
	}
	if len(clickIDs) == 0 {
		return out, nil
	}
	found, err := client.Click.Query().
		Where(click.AccountID(accountID), oneOf(client.Dialect() == dialect.Postgres, click.FieldClickID, clickIDs)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("look up clicks: %w", err)
	}
	if len(found) == 0 {
		return out, nil
	}
	clicks := make(map[string][]*ent.Click, len(found))
	for _, c := range found {
		clicks[c.ClickID] = append(clicks[c.ClickID], c)
	}
	sc, err := loadScope(ctx, client, accountID)
	if err != nil {
		return nil, err
	}
	for i, conv := range convs {
		for _, c := range clicks[conv.ClickID] {
			if sc.inWindow(conv, c) {
				out[i] = c
				break
			}
		}
	}
	return out, nil
}
