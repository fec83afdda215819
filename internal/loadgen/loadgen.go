// Package loadgen generates load against a running clickback and measures
// it: throughput, latency percentiles, and which requests were
// acknowledged, so that a test can check every acknowledged one was stored.
//
// Modes are added as the product grows; CollectConfig drives the postback
// endpoint.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CollectConfig describes a run against the collect endpoint.
type CollectConfig struct {
	// URL is a postback URL with the macros {click_id} and {transaction_id}
	// where the generator puts a fresh value for every postback; any other
	// macro is sent as it is.
	URL string
	// Concurrency is how many postbacks are in flight at once.
	Concurrency int
	// Duration is how long the run lasts; Requests, when positive, stops
	// it after that many postbacks instead.
	Duration time.Duration
	Requests int64
	// Rate, when positive, paces the run at that many postbacks per
	// second (open loop: a postback sent late counts its lateness in its
	// latency); otherwise it runs flat out.
	Rate float64
	// Keep records the transaction ids of acknowledged postbacks in the
	// Result (costs memory on long runs).
	Keep bool
}

// Result is what a run measured.
type Result struct {
	Sent     int64
	Acked    int64 // answered 2xx
	Refused  int64 // answered anything else
	Errors   int64 // no answer (connection errors, timeouts)
	Elapsed  time.Duration
	P50, P90 time.Duration
	P99      time.Duration
	Max      time.Duration
	// Codes counts the answers by status code.
	Codes map[int]int64
	// AckedTransactions are the transaction ids of acknowledged postbacks
	// (with CollectConfig.Keep).
	AckedTransactions []string
	// FirstError is the first transport error or unexpected answer, for
	// the report.
	FirstError string
}

// Throughput is acknowledged postbacks per second.
func (r Result) Throughput() float64 { return perSecond(r.Acked, r.Elapsed) }

func (r Result) String() string { return r.summary("postbacks") }

// summary is the run's counts, rate and latencies, its rate in what/s.
func (r Result) summary(what string) string {
	return fmt.Sprintf("sent %d, acked %d, refused %d, errors %d in %s: %.0f %s/s, p50 %s, p90 %s, p99 %s, max %s",
		r.Sent, r.Acked, r.Refused, r.Errors, r.Elapsed.Round(time.Millisecond), r.Throughput(), what,
		r.P50.Round(10*time.Microsecond), r.P90.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond))
}

// perSecond is n per second of d (0 for no time).
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Collect runs the postback load described by cfg until its duration or
// request count is reached, or ctx ends.
func Collect(ctx context.Context, cfg CollectConfig) (Result, error) {
	if !strings.Contains(cfg.URL, "{click_id}") || !strings.Contains(cfg.URL, "{transaction_id}") {
		return Result{}, errors.New("the URL needs the macros {click_id} and {transaction_id}")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		cfg.Duration = 10 * time.Second
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	base := baseOf(cfg.URL)
	r := runner{
		concurrency: cfg.Concurrency, duration: cfg.Duration, rate: cfg.Rate, units: cfg.Requests,
		client: func(int) doer {
			return newDoer(base, &net.Dialer{Timeout: 5 * time.Second}, func() *http.Transport {
				return &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
			})
		},
		unit: func(ctx context.Context, w *worker, n int64, due time.Time) bool {
			id := run + "-" + strconv.FormatInt(n, 36)
			u := strings.Replace(strings.Replace(cfg.URL, "{click_id}", "c"+id, 1), "{transaction_id}", "t"+id, 1)
			if w.send(http.MethodGet, u, collectHeader, nil, due) && cfg.Keep {
				w.acked = append(w.acked, "t"+id)
			}
			return true
		},
	}
	res, _ := r.run(ctx)
	return res, nil
}

// collectHeader is what a network's postback client sends besides Host.
var collectHeader = [][2]string{{"User-Agent", "Go-http-client/1.1"}, {"Accept-Encoding", "gzip"}}

// runner is the loop both loads share: concurrency workers taking
// numbered units of work (a postback; a visit's requests) flat out or
// paced at rate units per second, for duration or until a unit reports
// that the run is complete; then the workers' tallies summed.
type runner struct {
	concurrency int
	duration    time.Duration
	rate        float64
	// units, when positive, ends the run after that many units.
	units int64
	// client returns worker w's HTTP client (one connection).
	client func(w int) doer
	// unit sends unit n (from 1), due at due, through w; it returns false
	// when the worker is to stop.
	unit func(ctx context.Context, w *worker, n int64, due time.Time) bool
}

// worker is one worker's tally.
type worker struct {
	client                  doer
	lat                     []time.Duration
	codes                   map[int]int64
	sent, ok, refused, errs int64
	firstErr                string
	acked                   []string // transaction ids (collect)
	events, visits          int64    // acknowledged (tag)
}

// fail records a request that got no answer.
func (w *worker) fail(err error) {
	w.errs++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

// send does a request and records its answer and its latency from t0; it
// reports whether the answer was 2xx.
func (w *worker) send(method, url string, header [][2]string, body []byte, t0 time.Time) bool {
	code, answer, err := w.client.do(method, url, header, body)
	d := time.Since(t0)
	w.sent++
	if err != nil {
		w.fail(err)
		return false
	}
	w.codes[code]++
	w.lat = append(w.lat, d)
	if code/100 == 2 {
		w.ok++
		return true
	}
	w.refused++
	if w.firstErr == "" {
		w.firstErr = fmt.Sprintf("%d %s", code, answer)
	}
	return false
}

// run runs the load and returns the summed Result and every worker's
// tally.
func (r runner) run(ctx context.Context) (Result, []*worker) {
	if r.concurrency <= 0 {
		r.concurrency = 64
	}
	if r.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.duration)
		defer cancel()
	}
	// Requests already sent finish after the run's end: their answers count.
	reqCtx := context.WithoutCancel(ctx)
	var seq atomic.Int64
	workers := make([]*worker, r.concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{client: r.client(i), codes: map[int]int64{}}
		workers[i] = w
		wg.Go(func() {
			for ctx.Err() == nil {
				n := seq.Add(1)
				if r.units > 0 && n > r.units {
					return
				}
				due, onTime := pace(ctx, start, r.rate, n-1)
				if !onTime || !r.unit(reqCtx, w, n, due) {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, w := range workers {
		w.client.close()
	}
	res := Result{Codes: map[int]int64{}, Elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range workers {
		res.Sent += w.sent
		res.Acked += w.ok
		res.Refused += w.refused
		res.Errors += w.errs
		for c, k := range w.codes {
			res.Codes[c] += k
		}
		all = append(all, w.lat...)
		res.AckedTransactions = append(res.AckedTransactions, w.acked...)
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	res.percentiles(all)
	return res, workers
}

// percentiles sets the latency figures from all the latencies measured.
func (r *Result) percentiles(all []time.Duration) {
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	r.P50 = all[len(all)/2]
	r.P90 = all[min(len(all)-1, len(all)*90/100)]
	r.P99 = all[min(len(all)-1, len(all)*99/100)]
	r.Max = all[len(all)-1]
}

// pace waits until the i-th request (from 0) is due at rate per second
// after start and returns when it was due; with no rate it returns now at
// once. It reports false when ctx ends first.
func pace(ctx context.Context, start time.Time, rate float64, i int64) (time.Time, bool) {
	if rate <= 0 {
		return time.Now(), ctx.Err() == nil
	}
	due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return due, false
		}
	}
	return due, true
}
