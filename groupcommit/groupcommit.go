// Package groupcommit writes many requests' rows in one transaction.
//
// The hot paths (postbacks, tag events) hand each request's item to a
// Committer and wait. The committer gathers items for up to a few
// milliseconds or a batch size, writes them — rows and River jobs — in one
// transaction, and only then releases the waiting requests: an answer is
// never sent for an item that is not committed. One fsync then pays for a
// whole batch, which is where the throughput comes from.
//
// When a batch fails, its items are retried one transaction each, so that a
// single bad item fails alone.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/viewer"
)

// ErrClosed is returned by Submit once the committer is shutting down.
var ErrClosed = errors.New("committer is closed")

// WriteFunc writes items in tx. It may record results in the items (they
// are usually pointers): the submitters read them after Submit returns.
// It runs as the system viewer of every account; items carry their own
// account ids.
type WriteFunc[T any] func(ctx context.Context, tx *ent.Tx, items []T) error

// PgxWriteFunc is WriteFunc for a committer over a pgx pool (NewPgx): the
// rows go through pgx directly (COPY, binary arrays, River's pgx driver).
type PgxWriteFunc[T any] func(ctx context.Context, tx pgx.Tx, items []T) error

// Options tune a committer.
type Options struct {
	// MaxBatch is the most items written in one transaction.
	MaxBatch int
	// Window is how long a batch waits for more items once it has one.
	Window time.Duration
	// Writers is how many transactions run at once: 1 on SQLite, which
	// has one writer anyway; a few on PostgreSQL.
	Writers int
	// Timeout bounds one transaction.
	Timeout time.Duration
}

func (o *Options) defaults() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 500
	}
	if o.Window <= 0 {
		o.Window = time.Millisecond
	}
	if o.Writers <= 0 {
		o.Writers = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
}

type pending[T any] struct {
	item T
	done chan error
}

// Committer batches items into transactions. Create it with New, stop it
// with Close.
type Committer[T any] struct {
	// tx writes items in one transaction and commits it.
	tx    func(ctx context.Context, items []T) error
	opts  Options
	queue chan *pending[T]

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// New starts a committer writing through client with write.
func New[T any](client *ent.Client, write WriteFunc[T], opts Options) *Committer[T] {
	return start(func(ctx context.Context, items []T) (err error) {
		tx, err := client.Tx(ctx)
		if err != nil {
			return fmt.Errorf("begin batch: %w", err)
		}
		defer func() {
			if p := recover(); p != nil {
				_ = tx.Rollback()
				err = fmt.Errorf("write batch panicked: %v", p)
			}
		}()
		if err := write(ctx, tx, items); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit batch: %w", err)
		}
		return nil
	}, opts)
}

// NewPgx starts a committer writing through a pgx pool with write: the
// same batching and promises as New, with pgx's own transaction, so that
// write can use COPY and pgx's binary encoding, which database/sql does not
// offer.
func NewPgx[T any](pool *pgxpool.Pool, write PgxWriteFunc[T], opts Options) *Committer[T] {
	return start(func(ctx context.Context, items []T) (err error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin batch: %w", err)
		}
		defer func() {
			if p := recover(); p != nil {
				_ = tx.Rollback(context.WithoutCancel(ctx))
				err = fmt.Errorf("write batch panicked: %v", p)
			}
		}()
		if err := write(ctx, tx, items); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit batch: %w", err)
		}
		return nil
	}, opts)
}

// BatchFunc writes items durably: when it returns nil, they are
// committed; when it returns an error, none of them is.
type BatchFunc[T any] func(ctx context.Context, items []T) error

// NewFunc starts a committer writing batches with write, which makes its
// own transaction (a pgx pipeline, say). The batching and the fallback to
// one item a transaction are New's.
func NewFunc[T any](write BatchFunc[T], opts Options) *Committer[T] {
	return start(write, opts)
}

func start[T any](tx func(ctx context.Context, items []T) error, opts Options) *Committer[T] {
	opts.defaults()
	c := &Committer[T]{
		tx:    tx,
		opts:  opts,
		queue: make(chan *pending[T], opts.MaxBatch*opts.Writers*4),
	}
	for range opts.Writers {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

// Submit hands item to the committer and waits until it is committed (nil)
// or has failed. Once queued, an item is written even if ctx ends first:
// the caller merely stops waiting for it.
func (c *Committer[T]) Submit(ctx context.Context, item T) error {
	p := &pending[T]{item: item, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	select {
	case c.queue <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking items, writes every item already queued, and returns
// when they are all committed or failed.
func (c *Committer[T]) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Committer[T]) run() {
	defer c.wg.Done()
	batch := make([]*pending[T], 0, c.opts.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-c.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := c.gather(&batch, timer)
		c.commit(batch)
		if !open {
			return
		}
	}
}

// gather adds to batch what is queued now and what arrives within the
// window, up to MaxBatch. It reports false when the queue is closed.
func (c *Committer[T]) gather(batch *[]*pending[T], timer *time.Timer) bool {
	for len(*batch) < c.opts.MaxBatch {
		select {
		case p, ok := <-c.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, p)
			continue
		default:
		}
		break
	}
	if len(*batch) >= c.opts.MaxBatch {
		return true
	}
	timer.Reset(c.opts.Window)
	defer timer.Stop()
	for len(*batch) < c.opts.MaxBatch {
		select {
		case p, ok := <-c.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, p)
		case <-timer.C:
			return true
		}
	}
	return true
}

func (c *Committer[T]) commit(batch []*pending[T]) {
	items := make([]T, len(batch))
	for i, p := range batch {
		items[i] = p.item
	}
	err := c.write(items)
	if err == nil || len(batch) == 1 {
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	// One bad item must not fail the others: write each alone.
	for i, p := range batch {
		p.done <- c.write(items[i : i+1])
	}
}

// write runs one batch's transaction as the system viewer, bounded by
// Options.Timeout.
func (c *Committer[T]) write(items []T) (err error) {
	ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background(), ""), c.opts.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write batch panicked: %v", p)
		}
	}()
	return c.tx(ctx, items)
}
