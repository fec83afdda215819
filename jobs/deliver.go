package jobs

import (
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

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	entdest "github.com/clickback/clickback/ent/destination"
	"github.com/clickback/clickback/ent/schema/pulid"
)

// Network statuses (postback.Status), as the collect endpoint stores them
// in Conversion.network_status.
const (
	networkPending  = "PENDING"
	networkRejected = "REJECTED"
	networkReversed = "REVERSED"
)

// Forwardable reports whether a conversion is to be forwarded now, and if
// not, why. Only MATCHED conversions are; of those, the ones the network
// marked pending wait for a later postback approving them, and rejected or
// reversed ones are never forwarded. Any other status word (approved, an
// unknown word, none at all) forwards: most networks only ever send
// approved conversions and say nothing.
func Forwardable(c *ent.Conversion) (bool, string) {
	if c.Status != conversion.StatusMATCHED {
		return false, fmt.Sprintf("only MATCHED conversions are forwarded; this one is %s", c.Status)
	}
	switch strings.ToUpper(c.NetworkStatus) {
	case networkPending:
		return false, "the network reported it pending: it is forwarded once a postback approves it"
	case networkRejected, networkReversed:
		return false, fmt.Sprintf("the network reported it %s: it is not forwarded", strings.ToLower(c.NetworkStatus))
	}
	return true, ""
}

// PlanDeliveries writes, with client (a transaction's client), one
// Delivery per enabled destination of conv's account that conv has none
// for yet — PENDING when the destination's event mapping covers conv's
// event, SKIPPED with why otherwise — and returns one forward job per
// PENDING delivery, for the caller to insert in the same transaction.
//
// With retry, deliveries that already exist and are FAILED or SKIPPED go
// back to PENDING with a new job and a new series of attempts (the attempt
// log goes on), unless the mapping still skips them. SENT and PENDING deliveries are
// never touched: nothing is sent twice, and a PENDING one has its job.
//
// The caller checks Forwardable first.
func PlanDeliveries(ctx context.Context, client *ent.Client, conv *ent.Conversion, retry bool) ([]river.InsertManyParams, error) {
	return planDeliveries(ctx, client, conv, retry, nil)
}

// planDeliveries is PlanDeliveries, leaving out the destinations of
// onTheirWay, to which a forward job's plan is sending conv (see planned).
func planDeliveries(ctx context.Context, client *ent.Client, conv *ent.Conversion, retry bool, onTheirWay map[string]bool) ([]river.InsertManyParams, error) {
	dests, err := client.Destination.Query().
		Where(entdest.AccountID(conv.AccountID), entdest.Enabled(true)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	if len(dests) == 0 {
		return nil, nil
	}
	existing, err := client.Delivery.Query().
		Where(delivery.AccountID(conv.AccountID), delivery.ConversionID(conv.ID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	byDest := make(map[string]*ent.Delivery, len(existing))
	for _, d := range existing {
		byDest[d.DestinationID] = d
	}
	var (
		creates []*ent.DeliveryCreate
		args    []river.InsertManyParams
	)
	for _, dst := range dests {
		platformEvent, ok, why := mapEvent(conv, dst)
		old := byDest[dst.ID]
		switch {
		case old == nil && onTheirWay[dst.ID]:
		case old == nil:
			id, c := newDelivery(client, conv, dst, platformEvent, ok, why)
			if ok {
				args = append(args, river.InsertManyParams{Args: ForwardArgs{DeliveryID: id, AccountID: conv.AccountID}})
			}
			creates = append(creates, c)
		case !retry || old.Status == delivery.StatusSENT || old.Status == delivery.StatusPENDING:
		case !ok:
			if err := client.Delivery.UpdateOne(old).SetStatus(delivery.StatusSKIPPED).SetLastError(why).Exec(ctx); err != nil {
				return nil, fmt.Errorf("skip delivery: %w", err)
			}
		default:
			if err := client.Delivery.UpdateOne(old).
				SetStatus(delivery.StatusPENDING).
				SetEventName(platformEvent).
				SetAttempts(0).
				ClearLastError().
				ClearClaim().
				ClearClaimedUntil().
				Exec(ctx); err != nil {
				return nil, fmt.Errorf("retry delivery: %w", err)
			}
			args = append(args, river.InsertManyParams{Args: ForwardArgs{DeliveryID: old.ID, AccountID: conv.AccountID}})
		}
	}
	if len(creates) > 0 {
		if err := client.Delivery.CreateBulk(creates...).Exec(ctx); err != nil {
			return nil, fmt.Errorf("create deliveries: %w", err)
		}
	}
	return args, nil
}

// mapEvent is the event conv is sent to dst as, or why it is not.
func mapEvent(conv *ent.Conversion, dst *ent.Destination) (event string, ok bool, why string) {
	event, ok, why = destination.Map(dst.Kind, dst.EventMapping, conv.EventName)
	if conv.Test {
		ok, why = false, "a test postback is not forwarded to the ad platforms"
	}
	return event, ok, why
}

// newDelivery is the creation of conv's delivery to dst: PENDING, or
// SKIPPED with why when !ok.
func newDelivery(client *ent.Client, conv *ent.Conversion, dst *ent.Destination, event string, ok bool, why string) (string, *ent.DeliveryCreate) {
	id := pulid.New("dlv")
	c := client.Delivery.Create().
		SetID(id).
		SetAccountID(conv.AccountID).
		SetConversionID(conv.ID).
		SetDestinationID(dst.ID).
		SetEventID(conv.ID).
		SetEventName(event)
	if !ok {
		c.SetStatus(delivery.StatusSKIPPED).SetLastError(why)
	}
	return id, c
}

// maxJobDeliveries bounds the deliveries one forward job carries.
const maxJobDeliveries = 1000

// planBatch is PlanDeliveries (without retry) for many conversions of one
// account that the caller's transaction (client's) has just matched: one
// query for the destinations, and forward jobs carrying a ForwardPlan of
// every destination's share (PlanForwards); the deliveries the event
// mapping skips are written here. The caller checks Forwardable first. The
// conversions have no deliveries yet: they were RECEIVED until now, and
// deliveries are planned only for MATCHED ones.
func planBatch(ctx context.Context, client *ent.Client, postgres bool, accountID string, convs []*ent.Conversion, now time.Time) ([]river.InsertManyParams, error) {
	f, err := PlanForwards(ctx, client, accountID, convs, now)
	if err != nil {
		return nil, err
	}
	if err := f.InsertSkipped(ctx, client, postgres); err != nil {
		return nil, err
	}
	return f.Jobs, nil
}

// Forwards is what forwarding a batch of matched conversions of one
// account takes: the forward jobs, each with a ForwardPlan of up to
// maxJobDeliveries deliveries of every destination (written once, by the
// job's first run), and the deliveries the event mapping skips, written
// SKIPPED with why in the same transaction as the jobs (SkippedSQL).
type Forwards struct {
	Jobs      []river.InsertManyParams
	accountID string
	now       time.Time
	skipped   []newRow
}

// PlanForwards plans the forwarding of convs (MATCHED and forwardable
// conversions of account accountID, matched at now) to the account's
// enabled destinations, read with client.
func PlanForwards(ctx context.Context, client *ent.Client, accountID string, convs []*ent.Conversion, now time.Time) (*Forwards, error) {
	f := &Forwards{accountID: accountID, now: now}
	if len(convs) == 0 {
		return f, nil
	}
	dests, err := client.Destination.Query().
		Where(entdest.AccountID(accountID), entdest.Enabled(true)).
		Order(ent.Asc(entdest.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	type send struct{ dst, event string }
	var (
		job   *ForwardArgs
		sends map[send]int // index in job.Plan.Sends
		size  int          // deliveries in job
	)
	flush := func() {
		if job != nil {
			f.Jobs = append(f.Jobs, river.InsertManyParams{Args: *job})
		}
		job, sends, size = nil, nil, 0
	}
	for _, conv := range convs {
		var mine []send
		for _, dst := range dests {
			event, ok, why := mapEvent(conv, dst)
			if !ok {
				f.skipped = append(f.skipped, newRow{id: pulid.New("dlv"), conv: conv.ID, dst: dst.ID, event: event, lastError: why})
				continue
			}
			mine = append(mine, send{dst.ID, event})
		}
		if len(mine) == 0 {
			continue
		}
		if job != nil && size+len(mine) > maxJobDeliveries {
			flush()
		}
		if job == nil {
			job = &ForwardArgs{AccountID: accountID, Plan: &ForwardPlan{At: now}}
			sends = map[send]int{}
		}
		at := len(job.Plan.Conversions)
		job.Plan.Conversions = append(job.Plan.Conversions, conv.ID)
		for _, s := range mine {
			i, ok := sends[s]
			if !ok {
				i = len(job.Plan.Sends)
				sends[s] = i
				job.Plan.Sends = append(job.Plan.Sends, PlannedSend{Destination: s.dst, Event: s.event})
				if !slices.Contains(job.Destinations, s.dst) {
					job.Destinations = append(job.Destinations, s.dst)
				}
			}
			job.Plan.Sends[i].Conversions = append(job.Plan.Sends[i].Conversions, at)
		}
		size += len(mine)
	}
	flush()
	return f, nil
}

// newRow is a SKIPPED delivery PlanForwards plans, with why in lastError.
type newRow struct {
	id, conv, dst, event, lastError string
}

// SkippedSQL is the statement, for PostgreSQL, that writes the skipped
// deliveries of f, with its arguments; "" when there are none. It is one
// INSERT of arrays, a parameter per column: ent's bulk insert, a parameter
// per value, cost a tenth of the process's CPU under load, and PostgreSQL
// as much again to parse it. The rows are a system job's: the tenancy and
// audit hooks of ent have nothing to check (the account is the batch's).
func (f *Forwards) SkippedSQL() (string, []any) {
	n := len(f.skipped)
	if n == 0 {
		return "", nil
	}
	id, conv, dst, event, lastError := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range f.skipped {
		id[i], conv[i], dst[i], event[i], lastError[i] = r.id, r.conv, r.dst, r.event, r.lastError
	}
	// The event id is the conversion's id (see newDelivery).
	return `INSERT INTO deliveries (id, created_at, updated_at, account_id, conversion_id, destination_id, event_id, event_name, status, last_error)
		SELECT r.id, $1, $1, $2, r.conv, r.dst, r.conv, r.event, 'SKIPPED', r.last_error
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS r(id, conv, dst, event, last_error)`,
		[]any{f.now, f.accountID, id, conv, dst, event, lastError}
}

// InsertSkipped writes the skipped deliveries of f in the transaction of
// client.
func (f *Forwards) InsertSkipped(ctx context.Context, client *ent.Client, postgres bool) error {
	if len(f.skipped) == 0 {
		return nil
	}
	if !postgres {
		creates := make([]*ent.DeliveryCreate, len(f.skipped))
		for i, r := range f.skipped {
			creates[i] = client.Delivery.Create().SetID(r.id).SetAccountID(f.accountID).SetConversionID(r.conv).
				SetDestinationID(r.dst).SetEventID(r.conv).SetEventName(r.event).
				SetStatus(delivery.StatusSKIPPED).SetLastError(r.lastError).SetCreatedAt(f.now).SetUpdatedAt(f.now)
		}
		for from := 0; from < len(creates); from += maxJobDeliveries {
			if err := client.Delivery.CreateBulk(creates[from:min(from+maxJobDeliveries, len(creates))]...).Exec(ctx); err != nil {
				return fmt.Errorf("create deliveries: %w", err)
			}
		}
		return nil
	}
	tx, ok := client.SQLTx()
	if !ok {
		return errors.New("deliveries must be created in a transaction")
	}
	query, args := f.SkippedSQL()
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("create deliveries: %w", err)
	}
	return nil
}

// RetryDelivery sends a FAILED delivery again, as a new series of
// attempts, with a forward job inserted through rc in the transaction of
// client (the API's mutation transaction). Other statuses are refused: a
// SENT delivery is never sent twice, a PENDING one is on its way, and a
// SKIPPED one is replayed with its conversion (ReplayConversion), which
// looks at the event mapping again.
func RetryDelivery(ctx context.Context, client *ent.Client, rc *river.Client[*sql.Tx], id string) (*ent.Delivery, error) {
	d, err := client.Delivery.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Status != delivery.StatusFAILED {
		return nil, &auth.InputError{Msg: fmt.Sprintf("only FAILED deliveries can be retried; this one is %s", d.Status)}
	}
	conv, err := client.Conversion.Get(ctx, d.ConversionID)
	if err != nil {
		return nil, err
	}
	if ok, why := Forwardable(conv); !ok {
		return nil, &auth.InputError{Msg: "the conversion is not forwarded: " + why}
	}
	n, err := client.Delivery.Update().
		Where(delivery.ID(d.ID), delivery.StatusEQ(delivery.StatusFAILED)).
		SetStatus(delivery.StatusPENDING).
		SetAttempts(0).
		ClearLastError().
		ClearClaim().
		ClearClaimedUntil().
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("retry delivery: %w", err)
	}
	if n == 0 {
		return nil, &auth.InputError{Msg: "the delivery changed meanwhile; reload it"}
	}
	if err := insertWith(ctx, client, rc, []river.InsertManyParams{{Args: ForwardArgs{DeliveryID: d.ID, AccountID: d.AccountID}}}); err != nil {
		return nil, err
	}
	return client.Delivery.Get(ctx, d.ID)
}

// ReplayConversion forwards a conversion again (see PlanDeliveries with
// retry): FAILED and SKIPPED deliveries are tried again and destinations
// added since its match get one; SENT ones are left alone. The conversion
// must be forwardable: MATCHED, and not pending, rejected or reversed.
func ReplayConversion(ctx context.Context, client *ent.Client, rc *river.Client[*sql.Tx], id string) (*ent.Conversion, error) {
	conv, err := client.Conversion.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, why := Forwardable(conv); !ok {
		return nil, &auth.InputError{Msg: "the conversion is not forwarded: " + why}
	}
	onTheirWay, err := planned(ctx, client, conv.ID)
	if err != nil {
		return nil, err
	}
	args, err := planDeliveries(ctx, client, conv, true, onTheirWay)
	if err != nil {
		return nil, err
	}
	if err := insertWith(ctx, client, rc, args); err != nil {
		return nil, err
	}
	return conv, nil
}

// planned returns the destinations to which conversion id is on its way
// in the plan of a forward job not finished yet (ForwardPlan): their
// deliveries may have no rows yet, and must not be planned again, which
// would send the conversion twice (Meta and TikTok count both). It reads
// River's jobs in the transaction of client: on PostgreSQL through the
// GIN index River keeps on their args.
func planned(ctx context.Context, client *ent.Client, id string) (map[string]bool, error) {
	tx, ok := client.SQLTx()
	if !ok {
		return nil, errors.New("a replay must run in a transaction")
	}
	query := `SELECT args FROM river_job WHERE kind = 'forward' AND finalized_at IS NULL
		AND args @> jsonb_build_object('plan', jsonb_build_object('conversions', jsonb_build_array($1::text)))`
	if client.Dialect() != dialect.Postgres {
		query = `SELECT json(args) FROM river_job WHERE kind = 'forward' AND finalized_at IS NULL AND instr(json(args), ?) > 0`
	}
	rows, err := tx.QueryContext(ctx, query, id)
	if err != nil {
		return nil, fmt.Errorf("look for forward plans: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("look for forward plans: %w", err)
		}
		var args ForwardArgs
		if err := json.Unmarshal(raw, &args); err != nil || args.Plan == nil {
			continue
		}
		i := slices.Index(args.Plan.Conversions, id)
		if i < 0 {
			continue
		}
		for _, s := range args.Plan.Sends {
			if slices.Contains(s.Conversions, i) {
				out[s.Destination] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look for forward plans: %w", err)
	}
	return out, nil
}

// insertWith inserts jobs through rc in the transaction of client.
func insertWith(ctx context.Context, client *ent.Client, rc *river.Client[*sql.Tx], args []river.InsertManyParams) error {
	if len(args) == 0 {
		return nil
	}
	tx, ok := client.SQLTx()
	if !ok {
		return errors.New("forward jobs must be inserted in a transaction")
	}
	if _, err := rc.InsertManyFastTx(ctx, tx, args); err != nil {
		return fmt.Errorf("insert forward jobs: %w", err)
	}
	return nil
}
