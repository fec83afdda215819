//go:build chaos

package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/pgtest"
)

// TestReplicas runs three clickback processes on one PostgreSQL database,
// with load spread over all three, and SIGKILLs one of them mid-load
// (which is not restarted: its jobs are rescued by the others). Every
// acknowledged tag batch and postback is stored once, each conversion is
// matched once and has one delivery per destination, and each platform
// receives each event once (a re-send of the same event id is allowed
// only as TestKill9 allows it: at most once, for the one kill).
func TestReplicas(t *testing.T) {
	t.Parallel()
	penv, fakes := platforms(t)
	url := pgtest.URL(t)
	s := store{url: url}
	// The replicas share the secrets a single process would generate.
	secret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	shared := append(append([]string{"DATABASE_URL=" + url, "CLICKBACK_JWT_SECRET=" + secret(), "CLICKBACK_ENCRYPTION_KEY=" + secret()}, penv...), jobEnv...)
	var nodes []*node
	for range 3 {
		nodes = append(nodes, newNode(t, append([]string{"CLICKBACK_DATA_DIR=" + t.TempDir()}, shared...)...))
	}
	for _, n := range nodes {
		n.start() // the first migrates; the others find the schema current
	}
	tn := setUpTenant(t, nodes[0].url, "Acme", true)
	tr := newTraffic(tn, nodes[0].url, nodes[1].url, nodes[2].url)
	ctx, cancel := context.WithCancel(context.Background())
	wait := tr.start(ctx, 6)
	time.Sleep(4 * time.Second)
	victim := nodes[1]
	victim.kill()
	interrupted := runningJobs(t, s)
	tr.setBases(nodes[0].url, nodes[2].url)
	time.Sleep(4 * time.Second)
	cancel()
	wait()
	took := waitJobsDone(t, s, 2*time.Minute)
	o := verify(t, s, tr, fakes, 1)
	f := tr.figures()
	require.Positive(t, f.PostbacksAcked)
	require.Positive(t, o.Matched)
	// Each conversion matched once: one match of each conversion, whatever
	// replica ran it, shows as exactly one delivery per destination (verify)
	// and no conversion stored twice.
	db := s.open(t)
	defer db.Close()
	perReplica := counts(t, db.SQL, `SELECT 'c', count(DISTINCT a) FROM river_job, unnest(attempted_by) a WHERE kind = 'forward'`)["c"]
	t.Logf("FIGURES replicas: 3 processes on one PostgreSQL, 1 SIGKILLed after 4 s of load; conversion jobs running at the kill %d; forward jobs worked by %d distinct River clients; all jobs done %s after the load; %s; conversions stored %d, matched %d, deliveries %d; lost %d, duplicates %d, re-sent after the kill (same event id) %d",
		interrupted, perReplica, took.Round(time.Second), f, o.Conversions, o.Matched, o.Deliveries, o.Lost, o.Duplicates, o.Resent)
	for _, n := range []*node{nodes[0], nodes[2]} {
		n.stop()
	}
}
