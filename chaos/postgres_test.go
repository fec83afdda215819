//go:build chaos

package chaos

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/pgtest"
)

// TestPostgresRestart stops the server's PostgreSQL under tag and postback
// load, twice (a fast shutdown, then an immediate one, which crashes every
// backend), keeps it down for seconds each time, and starts it again. While
// it is down, every request is answered 503 (or not at all), never 2xx, and
// /readyz says not ready; after, clickback is ready again and acknowledges
// postbacks without a restart of its own; every acknowledged tag batch and
// postback is stored once and every job completes.
func TestPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := pgtest.NewPrivate(t)
	penv, fakes := platforms(t)
	s := store{url: pg.URL()}
	n := newNode(t, append(append([]string{"CLICKBACK_DATA_DIR=" + t.TempDir(), "DATABASE_URL=" + pg.URL()}, penv...), jobEnv...)...)
	n.start()
	tr := newTraffic(setUpTenant(t, n.url, "Acme", true), n.url)
	down := newOutage()
	tr.observe = down.observe

	ctx, cancel := context.WithCancel(context.Background())
	probes := probeReady(ctx, n.url, 100*time.Millisecond)
	wait := tr.start(ctx, 6)
	const downFor = 4 * time.Second
	var restarts []time.Time
	for _, immediate := range []bool{false, true} {
		time.Sleep(3 * time.Second)
		require.NoError(t, pg.Stop(immediate))
		down.begin()
		time.Sleep(downFor)
		down.end()
		restarts = append(restarts, time.Now())
		require.NoError(t, pg.Start())
	}
	time.Sleep(5 * time.Second)
	cancel()
	wait()
	all := probes()

	inside := down.requireNoFalseAck(t)
	notReady := 0
	for _, p := range all {
		if down.during(p.sent, p.answered) {
			require.Equal(t, http.StatusServiceUnavailable, p.code, "/readyz while PostgreSQL is down")
			notReady++
		}
	}
	require.Positive(t, notReady, "no /readyz probe fell inside an outage")
	var ready, acked []time.Duration
	for _, at := range restarts {
		r, a := readyAfter(all, at), down.firstAckAfter(at)
		require.GreaterOrEqual(t, r, time.Duration(0), "/readyz never said ready after the restart at %s", at)
		require.GreaterOrEqual(t, a, time.Duration(0), "no postback acknowledged after the restart at %s", at)
		ready, acked = append(ready, r.Round(10*time.Millisecond)), append(acked, a.Round(10*time.Millisecond))
	}
	require.Equal(t, http.StatusOK, all[len(all)-1].code, "/readyz at the end")
	require.Equal(t, 1, n.Starts, "clickback recovered without a restart")

	took := waitJobsDone(t, s, 2*time.Minute)
	// An outage, like a kill, can strike between a platform's answer and
	// the commit that records it: the event is sent again with its event
	// id. verify bounds such re-sends by the number of outages.
	o := verify(t, s, tr, fakes, len(restarts))
	f := tr.figures()
	require.Positive(t, f.PostbacksAcked)
	require.Positive(t, o.Matched)
	t.Logf("FIGURES pgrestart: 2 outages of %s (fast, immediate); answers inside them %v; /readyz probes inside %d, all 503; ready again after start %v, first postback acknowledged after start %v; all jobs done %s after the load; %s; conversions stored %d, matched %d, deliveries %d; lost %d, duplicates %d, re-sent (same event id) %d",
		downFor, inside, notReady, ready, acked, took.Round(time.Second), f, o.Conversions, o.Matched, o.Deliveries, o.Lost, o.Duplicates, o.Resent)
	n.stop()
}
