package metrics

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCounterAndHistogramText(t *testing.T) {
	t.Parallel()
	c := NewCounter("test_things_total", "Things.", "kind", "outcome")
	c.Inc("a", `quo"te`)
	c.Add(2.5, "a", `quo"te`)
	c.Add(-1, "a", `quo"te`)
	c.Inc("b", "ok")
	require.Equal(t, 3.5, c.Value("a", `quo"te`))
	h := NewHistogram("test_seconds", "Seconds.", []float64{0.1, 1}, "kind")
	h.Observe(0.05, "x")
	h.Observe(0.5, "x")
	h.Observe(5, "x")
	require.Equal(t, uint64(3), h.Count("x"))

	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	require.Contains(t, rec.Header().Get("Content-Type"), "text/plain; version=0.0.4")
	require.Contains(t, body, "# TYPE test_things_total counter\n")
	require.Contains(t, body, `test_things_total{kind="a",outcome="quo\"te"} 3.5`+"\n")
	require.Contains(t, body, `test_things_total{kind="b",outcome="ok"} 1`+"\n")
	require.Contains(t, body, `test_seconds_bucket{kind="x",le="0.1"} 1`+"\n")
	require.Contains(t, body, `test_seconds_bucket{kind="x",le="1"} 2`+"\n")
	require.Contains(t, body, `test_seconds_bucket{kind="x",le="+Inf"} 3`+"\n")
	require.Contains(t, body, `test_seconds_count{kind="x"} 3`+"\n")
	require.Contains(t, body, "# TYPE clickback_deliveries_total counter")
}

func TestSeriesCap(t *testing.T) {
	t.Parallel()
	c := NewCounter("test_capped_total", "Capped.", "v")
	for i := range maxSeries + 10 {
		c.Inc(fmt.Sprint(i))
	}
	require.Equal(t, 10.0, c.Value(overflow))
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, maxSeries+1, strings.Count(rec.Body.String(), "test_capped_total{"))
}

func TestWrongLabelCountPanics(t *testing.T) {
	t.Parallel()
	c := NewCounter("test_labels_total", "Labels.", "a")
	require.Panics(t, func() { c.Inc() })
}
