package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
// query for the destinations, one insert, and one forward job carrying all
// the new PENDING deliveries, of every destination (up to
// maxJobDeliveries each), instead of one job per delivery. The caller
// checks Forwardable first. The conversions have no deliveries yet: they
// were RECEIVED until now, and deliveries are planned only for MATCHED
// ones; should one have some all the same, the unique index on
// (account, conversion, destination) fails the transaction rather than
// let a conversion be sent twice.
func planBatch(ctx context.Context, client *ent.Client, postgres bool, accountID string, convs []*ent.Conversion) ([]river.InsertManyParams, error) {
	if len(convs) == 0 {
		return nil, nil
	}
	dests, err := client.Destination.Query().
		Where(entdest.AccountID(accountID), entdest.Enabled(true)).
		Order(ent.Asc(entdest.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	if len(dests) == 0 {
		return nil, nil
	}
	type group struct {
		dst   *ent.Destination
		event string
	}
	var (
		rows    []newRow
		order   []group
		pending = map[group][]int{} // indexes in rows
	)
	for _, conv := range convs {
		for _, dst := range dests {
			event, ok, why := mapEvent(conv, dst)
			r := newRow{id: pulid.New("dlv"), conv: conv.ID, dst: dst.ID, event: event, status: delivery.StatusPENDING}
			if !ok {
				r.status, r.lastError = delivery.StatusSKIPPED, why
			} else {
				g := group{dst, event}
				if _, seen := pending[g]; !seen {
					order = append(order, g)
				}
				pending[g] = append(pending[g], len(rows))
			}
			rows = append(rows, r)
		}
	}
	// One job for all destinations, up to maxJobDeliveries: it sends each
	// destination's share at the same time (see send). Its deliveries are
	// created claimed by it (preClaimFor), so it need not claim them.
	var (
		args []river.InsertManyParams
		job  ForwardArgs
	)
	for _, g := range order {
		for _, i := range pending[g] {
			if len(job.DeliveryIDs) == maxJobDeliveries {
				args = append(args, river.InsertManyParams{Args: job})
				job = ForwardArgs{}
			}
			if job.Claim == "" {
				job.Claim = newPreClaim()
			}
			if !slices.Contains(job.Destinations, g.dst.ID) {
				job.Destinations = append(job.Destinations, g.dst.ID)
			}
			job.AccountID = accountID
			job.DeliveryIDs = append(job.DeliveryIDs, rows[i].id)
			rows[i].claim = job.Claim
		}
	}
	if len(job.DeliveryIDs) > 0 {
		args = append(args, river.InsertManyParams{Args: job})
	}
	if err := insertDeliveries(ctx, client, postgres, accountID, rows, time.Now()); err != nil {
		return nil, err
	}
	return args, nil
}

// newRow is a delivery planBatch creates: PENDING and claimed by its job,
// or SKIPPED with lastError.
type newRow struct {
	id, conv, dst, event, lastError, claim string
	status                                 delivery.Status
}

// insertDeliveries creates rows for accountID in the transaction of
// client. On PostgreSQL that is one INSERT of arrays, a parameter per
// column: ent's bulk insert, a parameter per value (12 per delivery), cost
// a tenth of the process's CPU under load, and PostgreSQL as much again to
// parse it. Rows created here are a system job's: the tenancy and audit
// hooks of ent have nothing to check (the account is the batch's).
func insertDeliveries(ctx context.Context, client *ent.Client, postgres bool, accountID string, rows []newRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	until := now.Add(preClaimFor)
	if !postgres {
		creates := make([]*ent.DeliveryCreate, len(rows))
		for i, r := range rows {
			c := client.Delivery.Create().SetID(r.id).SetAccountID(accountID).SetConversionID(r.conv).
				SetDestinationID(r.dst).SetEventID(r.conv).SetEventName(r.event).SetStatus(r.status)
			if r.lastError != "" {
				c.SetLastError(r.lastError)
			}
			if r.claim != "" {
				c.SetClaim(r.claim).SetClaimedUntil(until)
			}
			creates[i] = c
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
	var (
		id, conv, dst, event, status, lastError, claim = make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	)
	for i, r := range rows {
		id[i], conv[i], dst[i], event[i], status[i], lastError[i], claim[i] = r.id, r.conv, r.dst, r.event, string(r.status), r.lastError, r.claim
	}
	// The event id is the conversion's id (see newDelivery).
	_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, created_at, updated_at, account_id, conversion_id, destination_id, event_id, event_name, status, last_error, claim, claimed_until)
		SELECT r.id, $1, $1, $2, r.conv, r.dst, r.conv, r.event, r.status, NULLIF(r.last_error, ''), NULLIF(r.claim, ''), CASE WHEN r.claim <> '' THEN $3::timestamptz END
		FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) AS r(id, conv, dst, event, status, last_error, claim)`,
		now, accountID, until, id, conv, dst, event, status, lastError, claim)
	if err != nil {
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
	args, err := PlanDeliveries(ctx, client, conv, true)
	if err != nil {
		return nil, err
	}
	if err := insertWith(ctx, client, rc, args); err != nil {
		return nil, err
	}
	return conv, nil
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
