package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
)

// TestForwardMetrics: every delivery a forward job settles moves
// clickback_deliveries_total for its platform and outcome, as /metrics
// shows it. Not parallel at the top level, so that no other test's
// deliveries move the counters meanwhile (its two databases may run at
// once, which only adds).
func TestForwardMetrics(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardTenant(t, d, "metrics", allKinds...)
		s, a, key, in := f.s, f.a, f.key, f.in
		before := scrape(t, s.URL, "clickback_deliveries_total")

		recordVisit(t, s, key, "cb_metrics1")
		postback(t, s, in, map[string]string{"{c}": "cb_metrics1", "{p}": "12.50", "{t}": "order-m1", "{m}": "a@example.com", "{cc}": "US"})
		c := waitDeliveries(t, s, a.Token, "order-m1", allSettled(4))
		for kind, dl := range byKind(c) {
			require.Equal(t, "SENT", dl.Status, kind)
		}

		after := scrape(t, s.URL, "clickback_deliveries_total")
		for _, kind := range allKinds {
			require.GreaterOrEqual(t, after[kind+"|sent"]-before[kind+"|sent"], 1.0, "%s: sent deliveries counted", kind)
		}
	})
}
