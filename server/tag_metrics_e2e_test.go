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

// scrape reads the values of one metric family by its single label from
// the server's /metrics.
func scrape(t *testing.T, baseURL, family, label string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), family+`{`+label+`="`)
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(rest, `"} `)
		require.True(t, ok, sc.Text())
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, sc.Text())
		out[name] = v
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
	before := scrape(t, s.URL, "clickback_tag_events_total", "name")
	body := `{"v":1,"events":[{"t":"pv","c":"cb_metrics1","u":"https://shop.example/"},{"t":"pv","c":"cb_metrics1","u":"https://shop.example/2"},` +
		`{"t":"tr","c":"cb_metrics1","u":"https://shop.example/2","n":"Signup"},` +
		`{"t":"oc","c":"cb_metrics1","u":"https://shop.example/2","l":"https://network.example/o"}]}`
	resp, _ := do(t, "POST", s.URL+"/t/"+key, body, map[string]string{"Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 Firefox/128.0"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	after := scrape(t, s.URL, "clickback_tag_events_total", "name")
	require.GreaterOrEqual(t, after["PageView"]-before["PageView"], 2.0)
	require.GreaterOrEqual(t, after["custom"]-before["custom"], 1.0)
	require.GreaterOrEqual(t, after["OutboundClick"]-before["OutboundClick"], 1.0)
}
