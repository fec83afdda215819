package collect

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/viewer"
)

// rejectFlushDelay is how long rejected calls are counted in memory before
// they are added to their integrations: a flood of wrong secrets costs one
// UPDATE per integration and second, not one per request.
const rejectFlushDelay = time.Second

// rejectCounter batches the rejected-call counts of integrations. Counts
// still in memory when the process dies are lost: they are statistics, not
// conversions.
type rejectCounter struct {
	client *ent.Client
	logger *slog.Logger

	mu        sync.Mutex
	pending   map[string]*rejectCount
	scheduled bool
}

type rejectCount struct {
	accountID string
	n         int64
	last      time.Time
}

func newRejectCounter(client *ent.Client, logger *slog.Logger) *rejectCounter {
	return &rejectCounter{client: client, logger: logger, pending: make(map[string]*rejectCount)}
}

// add counts one rejected call of the integration.
func (r *rejectCounter) add(accountID, integrationID string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[integrationID]
	if p == nil {
		p = &rejectCount{accountID: accountID}
		r.pending[integrationID] = p
	}
	p.n++
	p.last = now
	if !r.scheduled {
		r.scheduled = true
		time.AfterFunc(rejectFlushDelay, r.flush)
	}
}

// flush adds the pending counts to their integrations.
func (r *rejectCounter) flush() {
	r.mu.Lock()
	pending := r.pending
	r.pending = make(map[string]*rejectCount)
	r.scheduled = false
	r.mu.Unlock()
	for id, p := range pending {
		ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background(), p.accountID), 10*time.Second)
		err := r.client.Integration.UpdateOneID(id).
			AddRejectedCalls(p.n).
			SetLastRejectedAt(p.last).
			Exec(ctx)
		cancel()
		if err != nil && !ent.IsNotFound(err) {
			r.logger.Error("counting rejected postbacks failed", "integration_id", id, "count", p.n, "err", err)
		}
	}
}
