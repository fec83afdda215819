// Package eventlog streams the live Events Log: every new conversion and
// every change of one, per account, to the GraphQL subscriptions of this
// process; and computes the health of an integration.
//
// # Why polling, not LISTEN/NOTIFY
//
// Each process runs one poller (a Hub per ent client) that asks, for each
// account with at least one subscriber, for the conversions whose
// updated_at moved since its last look — one indexed query
// (account_id, updated_at) per subscribed account per PollInterval. It is
// chosen over PostgreSQL's LISTEN/NOTIFY because:
//
//   - it sees every change whatever wrote it — the collect endpoint's group
//     commit, the match and forward jobs, a bulk UPDATE, another replica —
//     without each of them having to remember a NOTIFY (or a trigger that
//     the SQLite build cannot have);
//   - it works the same on SQLite, where there is no notification channel
//     between processes, and on any number of PostgreSQL replicas, each
//     polling for its own subscribers only;
//   - its cost is bounded by the accounts being watched, not by the write
//     rate: a burst of 10,000 postbacks is one query per interval.
//
// The price is up to PollInterval of latency, and a rescan window: rows
// commit out of updated_at order (a transaction stamped before another may
// commit after it, and replicas' clocks differ a little), so each poll
// looks Overlap back and skips the versions it already sent.
package eventlog

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/viewer"
)

// Tuning of the poller.
const (
	PollInterval = 500 * time.Millisecond
	Overlap      = 5 * time.Second
	// pollLimit bounds the rows one poll reads per account; more wait for
	// the next poll.
	pollLimit = 1000
	// subscriberBuffer is how many events a slow subscriber may lag
	// behind before it is dropped (its subscription ends; the client
	// resubscribes).
	subscriberBuffer = 256
)

// Hub is the poller of one process for one database.
type Hub struct {
	client   *ent.Client
	interval time.Duration
	mu       sync.Mutex
	accounts map[string]*watch
	running  bool
}

// watch is the state of one subscribed account.
type watch struct {
	subs map[*subscriber]struct{}
	// since is where the next poll starts, Overlap before the newest
	// updated_at seen.
	since time.Time
	// sent holds the updated_at of each row sent within the overlap, so a
	// row is sent again only when it changed.
	sent map[string]time.Time
}

type subscriber struct {
	integrationID string
	ch            chan *ent.Conversion
}

var hubs sync.Map // *ent.Client → *Hub

// For returns the hub of client, made on first use.
func For(client *ent.Client) *Hub {
	h, _ := hubs.LoadOrStore(client, &Hub{client: client, interval: PollInterval, accounts: map[string]*watch{}})
	return h.(*Hub)
}

// Subscribe streams the conversions of accountID created or changed from
// now on (those of integrationID only, when not empty) until ctx ends,
// when the channel is closed. It is also closed if the subscriber falls
// too far behind.
func (h *Hub) Subscribe(ctx context.Context, accountID, integrationID string) <-chan *ent.Conversion {
	ch, _ := h.subscribe(ctx, accountID, integrationID, 0)
	return ch
}

// MaxSubscribersPerAccount bounds the live subscriptions of one account in
// one process: each holds a buffer and goroutines, and one client could
// otherwise open ten thousand on one websocket.
const MaxSubscribersPerAccount = 200

// ErrTooManySubscribers refuses a subscription past
// MaxSubscribersPerAccount.
var ErrTooManySubscribers = errors.New("too many live subscriptions for this account")

// SubscribeBounded is Subscribe, refused with ErrTooManySubscribers when
// the account already has MaxSubscribersPerAccount subscriptions here.
func (h *Hub) SubscribeBounded(ctx context.Context, accountID, integrationID string) (<-chan *ent.Conversion, error) {
	return h.subscribe(ctx, accountID, integrationID, MaxSubscribersPerAccount)
}

// subscribe adds a subscriber unless the account has limit already (0: no
// limit).
func (h *Hub) subscribe(ctx context.Context, accountID, integrationID string, limit int) (<-chan *ent.Conversion, error) {
	h.mu.Lock()
	w := h.accounts[accountID]
	if w != nil && limit > 0 && len(w.subs) >= limit {
		h.mu.Unlock()
		return nil, ErrTooManySubscribers
	}
	s := &subscriber{integrationID: integrationID, ch: make(chan *ent.Conversion, subscriberBuffer)}
	if w == nil {
		w = &watch{subs: map[*subscriber]struct{}{}, since: time.Now().Add(-time.Second), sent: map[string]time.Time{}}
		h.accounts[accountID] = w
	}
	w.subs[s] = struct{}{}
	if !h.running {
		h.running = true
		go h.run()
	}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.drop(accountID, s)
	}()
	return s.ch, nil
}

// drop removes s, closing its channel once.
func (h *Hub) drop(accountID string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.accounts[accountID]
	if w == nil {
		return
	}
	if _, ok := w.subs[s]; !ok {
		return
	}
	delete(w.subs, s)
	close(s.ch)
	if len(w.subs) == 0 {
		delete(h.accounts, accountID)
	}
}

// run polls until nobody is subscribed.
func (h *Hub) run() {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for range t.C {
		h.mu.Lock()
		if len(h.accounts) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		ids := make([]string, 0, len(h.accounts))
		for id := range h.accounts {
			ids = append(ids, id)
		}
		h.mu.Unlock()
		for _, id := range ids {
			h.poll(id)
		}
	}
}

// poll reads one account's changed conversions and sends them on.
func (h *Hub) poll(accountID string) {
	h.mu.Lock()
	w := h.accounts[accountID]
	if w == nil {
		h.mu.Unlock()
		return
	}
	since := w.since
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background(), accountID), 10*time.Second)
	defer cancel()
	rows, err := h.client.Conversion.Query().
		Where(conversion.AccountID(accountID), conversion.UpdatedAtGTE(since)).
		Order(ent.Asc(conversion.FieldUpdatedAt), ent.Asc(conversion.FieldID)).
		Limit(pollLimit).
		All(ctx)
	if err != nil {
		return // the next poll tries again from the same point
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	w = h.accounts[accountID]
	if w == nil {
		return
	}
	newest := since
	for _, c := range rows {
		if c.UpdatedAt.After(newest) {
			newest = c.UpdatedAt
		}
		if prev, ok := w.sent[c.ID]; ok && prev.Equal(c.UpdatedAt) {
			continue
		}
		w.sent[c.ID] = c.UpdatedAt
		for s := range w.subs {
			if s.integrationID != "" && s.integrationID != c.IntegrationID {
				continue
			}
			select {
			case s.ch <- c:
			default:
				delete(w.subs, s)
				close(s.ch)
			}
		}
	}
	if len(rows) == pollLimit {
		// More are waiting: continue right after the last one read.
		w.since = newest
	} else if start := newest.Add(-Overlap); start.After(w.since) {
		w.since = start
	}
	for id, at := range w.sent {
		if at.Before(w.since) {
			delete(w.sent, id)
		}
	}
	if len(w.subs) == 0 {
		delete(h.accounts, accountID)
	}
}

// Health is how an integration is doing.
type Health struct {
	LastConversionAt *time.Time
	// StatusCounts are the conversions received in the last 24 hours per
	// status, in the order of the statuses' declaration.
	StatusCounts    []StatusCount
	TopFailure      string
	TopFailureCount int
}

// StatusCount is a number of conversions of one status.
type StatusCount struct {
	Status conversion.Status
	Count  int
}

// failed are the statuses of conversions that did not go through, whose
// reasons health reports.
var failed = []conversion.Status{conversion.StatusMISSING_CLICK_ID, conversion.StatusNO_MATCH, conversion.StatusINVALID}

// IntegrationHealth computes the health of integration id as of now, with
// the viewer's client (so within the viewer's account).
func IntegrationHealth(ctx context.Context, client *ent.Client, id string, now time.Time) (*Health, error) {
	h := &Health{}
	last, err := client.Conversion.Query().
		Where(conversion.IntegrationID(id)).
		Order(ent.Desc(conversion.FieldReceivedAt)).
		First(ctx)
	switch {
	case ent.IsNotFound(err):
		return h, nil
	case err != nil:
		return nil, err
	}
	h.LastConversionAt = &last.ReceivedAt
	day := now.Add(-24 * time.Hour)
	var counts []struct {
		Status conversion.Status `json:"status"`
		Count  int               `json:"count"`
	}
	err = client.Conversion.Query().
		Where(conversion.IntegrationID(id), conversion.ReceivedAtGTE(day)).
		GroupBy(conversion.FieldStatus).
		Aggregate(ent.Count()).
		Scan(ctx, &counts)
	if err != nil {
		return nil, err
	}
	byStatus := map[conversion.Status]int{}
	for _, c := range counts {
		byStatus[c.Status] = c.Count
	}
	for _, s := range []conversion.Status{conversion.StatusRECEIVED, conversion.StatusMATCHED, conversion.StatusMISSING_CLICK_ID, conversion.StatusNO_MATCH, conversion.StatusDUPLICATE, conversion.StatusINVALID} {
		if n := byStatus[s]; n > 0 {
			h.StatusCounts = append(h.StatusCounts, StatusCount{Status: s, Count: n})
		}
	}
	var reasons []struct {
		Reason string `json:"reason"`
		Count  int    `json:"count"`
	}
	err = client.Conversion.Query().
		Where(conversion.IntegrationID(id), conversion.ReceivedAtGTE(day), conversion.StatusIn(failed...), conversion.ReasonNEQ("")).
		GroupBy(conversion.FieldReason).
		Aggregate(ent.Count()).
		Scan(ctx, &reasons)
	if err != nil {
		return nil, err
	}
	for _, r := range reasons {
		if r.Count > h.TopFailureCount || (r.Count == h.TopFailureCount && r.Reason < h.TopFailure) {
			h.TopFailure, h.TopFailureCount = r.Reason, r.Count
		}
	}
	return h, nil
}
