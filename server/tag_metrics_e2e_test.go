package server_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/testserver"
)

// scrape reads the values of one metric family from the server's
// /metrics, keyed by its label values in order, joined by "|"
// (`family{platform="META",outcome="sent"} 3` is "META|sent": 3).
func scrape(t *testing.T, baseURL, family string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), family+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		require.True(t, ok, sc.Text())
		var key []string
		for pair := range strings.SplitSeq(labels, ",") {
			_, v, ok := strings.Cut(pair, "=")
			require.True(t, ok, sc.Text())
			key = append(key, strings.Trim(v, `"`))
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, sc.Text())
		out[strings.Join(key, "|")] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// TestTagMetrics: stored tag events move clickback_tag_events_total on
// /metrics, by class. Other tests in the process may add to the counts at
// the same time, never take from them.
func TestTagMetrics(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, dialect.SQLite)
	a := s.Signup(t, "tagmetrics")
	_, key := createProperty(t, s, a.Token, "shop")
	before := scrape(t, s.URL, "clickback_tag_events_total")
	body := `{"v":1,"events":[{"t":"pv","c":"cb_metrics1","u":"https://shop.example/"},{"t":"pv","c":"cb_metrics1","u":"https://shop.example/2"},` +
		`{"t":"tr","c":"cb_metrics1","u":"https://shop.example/2","n":"Signup"},` +
		`{"t":"oc","c":"cb_metrics1","u":"https://shop.example/2","l":"https://network.example/o"}]}`
	resp, _ := do(t, "POST", s.URL+"/t/"+key, body, map[string]string{"Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 Firefox/128.0"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	after := scrape(t, s.URL, "clickback_tag_events_total")
	require.GreaterOrEqual(t, after["PageView"]-before["PageView"], 2.0)
	require.GreaterOrEqual(t, after["custom"]-before["custom"], 1.0)
	require.GreaterOrEqual(t, after["OutboundClick"]-before["OutboundClick"], 1.0)
}
