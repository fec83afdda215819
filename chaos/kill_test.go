//go:build chaos

package chaos

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/internal/pgtest"
)

// jobEnv makes River rescue the jobs of a dead process after 10 s instead
// of 2 min, and unmatched conversions give up waiting for their click after
// 3 s, so that every job ends within the test.
var jobEnv = []string{"CLICKBACK_JOB_TIMEOUT=10s", "CLICKBACK_JOB_RESCUE_AFTER=10s", "CLICKBACK_LATE_CLICK_WAIT=3s"}

// platforms are the fake Meta and TikTok the destinations point at.
func platforms(t *testing.T) (env []string, fakes map[string]*capitest.Fake) {
	meta, tiktok := capitest.NewMeta(t), capitest.NewTikTok(t)
	return []string{"CLICKBACK_META_API_URL=" + meta.URL, "CLICKBACK_TIKTOK_API_URL=" + tiktok.URL},
		map[string]*capitest.Fake{"META": meta.Fake, "TIKTOK": tiktok.Fake}
}

// newStore returns the database of a test on dialect d ("sqlite" or
// "postgres") and the environment that selects it.
func newStore(t *testing.T, d, dataDir string) (store, []string) {
	s := store{sqlitePath: filepath.Join(dataDir, "clickback.db")}
	if d == "postgres" {
		s.url = pgtest.URL(t)
		return s, []string{"DATABASE_URL=" + s.url}
	}
	return s, nil
}

// TestKill9 kills the server with SIGKILL at random moments while
// visitors' tags and networks' postbacks arrive, restarts it each time, and
// then checks that every acknowledged tag batch and postback is stored
// exactly once, that every job the crashes interrupted finished within two
// minutes of the last restart, and that each matched conversion reached
// each platform exactly once.
func TestKill9(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			const kills = 4
			penv, fakes := platforms(t)
			dir := t.TempDir()
			s, denv := newStore(t, d, dir)
			n := newNode(t, append(append(append([]string{"CLICKBACK_DATA_DIR=" + dir}, penv...), denv...), jobEnv...)...)
			n.start()
			tr := newTraffic(setUpTenant(t, n.url, "Acme", true), n.url)
			ctx, cancel := context.WithCancel(context.Background())
			wait := tr.start(ctx, 6)
			interrupted := 0
			for range kills {
				time.Sleep(time.Second + rand.N(2*time.Second))
				n.kill()
				interrupted += runningJobs(t, s)
				n.start()
			}
			time.Sleep(2 * time.Second)
			cancel()
			wait()
			took := waitJobsDone(t, s, 2*time.Minute)
			o := verify(t, s, tr, fakes, n.Kills)
			f := tr.figures()
			require.Positive(t, f.PostbacksAcked)
			require.Positive(t, f.TagAcked)
			require.Positive(t, o.Matched, "some conversions matched their click")
			t.Logf("FIGURES kill9 %s: kills %d, jobs interrupted %d, all jobs done %s after the last restart; %s; conversions stored %d, matched %d, deliveries %d; lost %d, duplicates %d, re-sent after a kill (same event id) %d",
				d, n.Kills, interrupted, took.Round(time.Second), f, o.Conversions, o.Matched, o.Deliveries, o.Lost, o.Duplicates, o.Resent)
			n.stop()
		})
	}
}
