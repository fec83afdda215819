// Package metrics counts what operators watch — ingest rates, job latency,
// delivery outcomes per platform — and serves it at /metrics in the
// Prometheus text format (version 0.0.4), without a dependency.
//
// The counters are package variables, safe for concurrent use, so any
// package increments them without wiring:
//
//	metrics.Postbacks.Inc("accepted")           // collect: accepted, duplicate, rejected, invalid, missing_click_id, unauthorized, not_found
//	metrics.TagEvents.Add(float64(n), "PageView")
//	metrics.Deliveries.Inc("META", "sent")       // forward: sent, failed, skipped, retried
//	metrics.JobDuration.Observe(seconds, "match", "completed")
//
// Label values are free text chosen by the caller, never tenant data (no
// account ids, no URLs): each distinct value is a series kept forever, and
// a series set is capped at maxSeries so a bug cannot grow it without end.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The metrics of clickback.
var (
	Postbacks = NewCounter("clickback_postbacks_total",
		"Postbacks that reached a collect endpoint, by outcome.", "outcome")
	TagEvents = NewCounter("clickback_tag_events_total",
		"Tag events stored, by event name class (PageView, OutboundClick, custom).", "name")
	Deliveries = NewCounter("clickback_deliveries_total",
		"Delivery attempts to ad platforms, by platform and outcome.", "platform", "outcome")
	JobDuration = NewHistogram("clickback_job_duration_seconds",
		"Time River jobs took to work, by kind and outcome.",
		[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}, "kind", "outcome")
	JobQueueWait = NewHistogram("clickback_job_queue_wait_seconds",
		"Time River jobs waited between being due and being worked, by kind.",
		[]float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}, "kind")
	Reports = NewHistogram("clickback_report_duration_seconds",
		"Time GraphQL reports took to compute.",
		[]float64{0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5})
)

// all are the registered metrics, in registration order.
var (
	mu  sync.Mutex
	all []metric
)

type metric interface {
	write(w io.Writer)
}

// maxSeries caps the label combinations of one metric.
const maxSeries = 1000

// overflow is the label value that stands for every combination past
// maxSeries.
const overflow = "_other"

// family holds the label handling common to counters and histograms.
type family struct {
	name, help string
	labels     []string
}

func (f *family) key(values []string) string {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", f.name, len(f.labels), len(values)))
	}
	return strings.Join(values, "\xff")
}

func (f *family) labelText(key string, extra ...string) string {
	var parts []string
	if len(f.labels) > 0 {
		for i, v := range strings.Split(key, "\xff") {
			parts = append(parts, f.labels[i]+"="+strconv.Quote(v))
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		parts = append(parts, extra[i]+"="+strconv.Quote(extra[i+1]))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Counter is a monotonically increasing count per label values.
type Counter struct {
	family
	mu     sync.Mutex
	values map[string]float64
}

// NewCounter registers a counter named name (which should end in _total)
// with the given label names.
func NewCounter(name, help string, labels ...string) *Counter {
	c := &Counter{family: family{name, help, labels}, values: map[string]float64{}}
	register(c)
	return c
}

// Inc adds 1 for the label values, given in the order of the labels.
func (c *Counter) Inc(values ...string) { c.Add(1, values...) }

// Add adds v (negative or NaN values are ignored: counters only grow).
func (c *Counter) Add(v float64, values ...string) {
	if !(v > 0) || math.IsInf(v, 0) {
		return
	}
	k := c.key(values)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.values[k]; !ok && len(c.values) >= maxSeries {
		k = c.key(repeat(overflow, len(values)))
	}
	c.values[k] += v
}

// Value returns the count for the label values (for tests).
func (c *Counter) Value(values ...string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values[c.key(values)]
}

func (c *Counter) write(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	for _, k := range sortedKeys(c.values) {
		fmt.Fprintf(w, "%s%s %s\n", c.name, c.labelText(k), formatFloat(c.values[k]))
	}
}

// Histogram counts observations into cumulative buckets per label values.
type Histogram struct {
	family
	buckets []float64
	mu      sync.Mutex
	series  map[string]*histSeries
}

type histSeries struct {
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

// NewHistogram registers a histogram with the given upper bounds (sorted
// ascending; +Inf is implicit).
func NewHistogram(name, help string, buckets []float64, labels ...string) *Histogram {
	h := &Histogram{family: family{name, help, labels}, buckets: buckets, series: map[string]*histSeries{}}
	register(h)
	return h
}

// Observe records one value for the label values. NaN is ignored.
func (h *Histogram) Observe(v float64, values ...string) {
	if math.IsNaN(v) {
		return
	}
	k := h.key(values)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[k]
	if s == nil {
		if len(h.series) >= maxSeries {
			k = h.key(repeat(overflow, len(values)))
			s = h.series[k]
		}
		if s == nil {
			s = &histSeries{counts: make([]uint64, len(h.buckets))}
			h.series[k] = s
		}
	}
	if i := sort.SearchFloat64s(h.buckets, v); i < len(h.buckets) {
		s.counts[i]++
	}
	s.count++
	s.sum += v
}

// Count returns the number of observations for the label values (for
// tests).
func (h *Histogram) Count(values ...string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.series[h.key(values)]; s != nil {
		return s.count
	}
	return 0
}

func (h *Histogram) write(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	keys := make([]string, 0, len(h.series))
	for k := range h.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := h.series[k]
		var cum uint64
		for i, b := range h.buckets {
			cum += s.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, h.labelText(k, "le", formatFloat(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, h.labelText(k, "le", "+Inf"), s.count)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.name, h.labelText(k), formatFloat(s.sum))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, h.labelText(k), s.count)
	}
}

func register(m metric) {
	mu.Lock()
	defer mu.Unlock()
	all = append(all, m)
}

// Write writes every metric in the Prometheus text format.
func Write(w io.Writer) {
	mu.Lock()
	ms := append([]metric(nil), all...)
	mu.Unlock()
	for _, m := range ms {
		m.write(w)
	}
}

// Handler serves the metrics. They are operational, never tenant data, but
// an operator who does not want them public should restrict /metrics at
// the proxy in front of clickback.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		Write(w)
	})
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
