package server_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// TestForwardMetrics: every delivery a forward job settles moves
// clickback_deliveries_total for its platform and outcome, as /metrics
// shows it. Not parallel at the top level, so that no other test's
// deliveries move the counters meanwhile (its two databases may run at
// once, which only adds).
func TestForwardMetrics(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d string) {
		p := startPlatforms(t)
		s := testserver.Start(t, d, p.option())
		a := s.Signup(t, "metrics")
		_, key := createProperty(t, s, a.Token, "shop")
		createDestinations(t, s, a.Token, allKinds...)
		in := forwardIntegration(t, s, a.Token)
		before := scrapeDeliveries(t, s.URL)

		recordVisit(t, s, key, "cb_metrics1")
		postback(t, s, in, map[string]string{"{c}": "cb_metrics1", "{p}": "12.50", "{t}": "order-m1", "{m}": "a@example.com", "{cc}": "US"})
		c := waitDeliveries(t, s, a.Token, "order-m1", allSettled(4))
		for kind, dl := range byKind(c) {
			require.Equal(t, "SENT", dl.Status, kind)
		}

		after := scrapeDeliveries(t, s.URL)
		for _, kind := range allKinds {
			require.GreaterOrEqual(t, after[kind+"|sent"]-before[kind+"|sent"], 1.0, "%s: sent deliveries counted", kind)
		}
	})
}

// scrapeDeliveries reads clickback_deliveries_total from /metrics, keyed
// "PLATFORM|outcome".
func scrapeDeliveries(t *testing.T, baseURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `clickback_deliveries_total{platform="`)
		if !ok {
			continue
		}
		platform, rest, ok1 := strings.Cut(rest, `",outcome="`)
		outcome, value, ok2 := strings.Cut(rest, `"} `)
		require.True(t, ok1 && ok2, sc.Text())
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, sc.Text())
		out[platform+"|"+outcome] = v
	}
	require.NoError(t, sc.Err())
	return out
}
