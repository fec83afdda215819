package collect

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/metrics"
)

// scrapePostbacks reads clickback_postbacks_total by outcome from what
// /metrics serves.
func scrapePostbacks(t *testing.T) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `clickback_postbacks_total{outcome="`)
		if !ok {
			continue
		}
		outcome, value, ok := strings.Cut(rest, `"} `)
		require.True(t, ok, sc.Text())
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, sc.Text())
		out[outcome] = v
	}
	return out
}

// TestMetrics: every answered postback moves clickback_postbacks_total
// under its outcome. Other tests of the package run at the same time and
// may add to the counts, never take from them.
func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t, dialect.SQLite, Options{})
	before := scrapePostbacks(t)
	code, body := b.get(t, "c1", "metrics-t1")
	require.Equal(t, http.StatusOK, code, body)
	code, body = b.get(t, "c2", "metrics-t1")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "DUPLICATE")
	code, body = b.get(t, "", "metrics-t2")
	require.Equal(t, http.StatusBadRequest, code, body)
	resp, err := http.Get(strings.NewReplacer("{c}", "c3", "{t}", "t3", "{a}", "1", "secret=", "secret=wrong").Replace(b.url))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = http.Get(b.server.URL + "/nokey/collect/noslug")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	after := scrapePostbacks(t)
	for _, outcome := range []string{outcomeAccepted, outcomeDuplicate, outcomeMissingClickID, outcomeUnauthorized, outcomeNotFound} {
		require.GreaterOrEqual(t, after[outcome]-before[outcome], 1.0, outcome)
	}
}
