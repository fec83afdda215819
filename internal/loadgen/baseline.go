package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Baseline is the bar clickback is measured against: a bare HTTP server
// that does nothing but store each request's raw text in one PostgreSQL
// table, group-committed (COPY of up to BaselineBatch rows per transaction,
// gathered for up to BaselineWindow), and answers 204 only after the commit.
// It keeps clickback's durability promise and does none of its work, so on
// the same machine, database and load, clickback ÷ baseline says how close
// to the hardware clickback is whatever else the machine is doing.
type Baseline struct {
	// URL is the server's base URL: any path answers, GET or POST.
	URL string

	pool  *pgxpool.Pool
	queue chan *baselineReq
	srv   *http.Server
	wg    sync.WaitGroup
	mu    sync.RWMutex
	done  bool
}

// Baseline's group commit: the definition of the bar.
const (
	BaselineBatch   = 500
	BaselineWindow  = time.Millisecond
	BaselineWriters = 4
	baselineTable   = "loadgen_baseline"
)

type baselineReq struct {
	raw  string
	at   time.Time
	done chan error
}

// StartBaseline creates the baseline's table in the PostgreSQL database at
// dbURL (dropping one left by an earlier run) and serves on a loopback port
// until Close.
func StartBaseline(ctx context.Context, dbURL string) (*Baseline, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	cfg.MaxConns = BaselineWriters + 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS `+baselineTable+`;
		CREATE TABLE `+baselineTable+` (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at timestamptz NOT NULL, raw text NOT NULL)`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("baseline: create table: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("baseline: %w", err)
	}
	b := &Baseline{
		URL:   "http://" + ln.Addr().String(),
		pool:  pool,
		queue: make(chan *baselineReq, BaselineBatch*BaselineWriters*4),
	}
	for range BaselineWriters {
		b.wg.Go(b.run)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *Baseline) serve(w http.ResponseWriter, r *http.Request) {
	raw := r.Method + " " + r.URL.RequestURI()
	if r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > 0 {
			raw += "\n" + string(body)
		}
	}
	req := &baselineReq{raw: raw, at: time.Now(), done: make(chan error, 1)}
	b.mu.RLock()
	if b.done {
		b.mu.RUnlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	b.queue <- req
	b.mu.RUnlock()
	if err := <-req.done; err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *Baseline) run() {
	batch := make([]*baselineReq, 0, BaselineBatch)
	rows := make([][]any, 0, BaselineBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		timer.Reset(BaselineWindow)
	gather:
		for len(batch) < BaselineBatch {
			select {
			case r, ok := <-b.queue:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		rows = rows[:0]
		for _, r := range batch {
			rows = append(rows, []any{r.at, r.raw})
		}
		err := b.copy(rows)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (b *Baseline) copy(rows [][]any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{baselineTable}, []string{"received_at", "raw"}, pgx.CopyFromRows(rows))
		return err
	})
}

// Stored counts the rows the baseline holds.
func (b *Baseline) Stored(ctx context.Context) (int64, error) {
	var n int64
	err := b.pool.QueryRow(ctx, `SELECT count(*) FROM `+baselineTable).Scan(&n)
	return n, err
}

// Close stops serving, commits what is queued, drops the table and closes
// the pool.
func (b *Baseline) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	b.mu.Lock()
	if !b.done {
		b.done = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
	if _, derr := b.pool.Exec(ctx, `DROP TABLE IF EXISTS `+baselineTable); derr != nil {
		err = errors.Join(err, derr)
	}
	b.pool.Close()
	return err
}
