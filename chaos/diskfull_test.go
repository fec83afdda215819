//go:build chaos

package chaos

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// smallDisk mounts a tmpfs of size (such as "64m") for the test and
// returns its path; it is unmounted when the test ends. The test is
// skipped, saying why, where mounting is not allowed (not root, or no
// CAP_SYS_ADMIN in a container).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a small tmpfs, which needs root (CI runs as root)")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "clickback-chaos", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the disk-full test needs root with CAP_SYS_ADMIN", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; unmounting lazily", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fillDisk writes a file in dir until the filesystem is full, and returns
// what removes it.
func fillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling the disk: %v", err)
			break
		}
	}
	// The last bytes, below a chunk.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	require.NoError(t, f.Close())
	return func() { require.NoError(t, os.Remove(path)) }
}

// TestDiskFullSQLite puts the embedded SQLite database on a small
// filesystem and fills it up under tag and postback load, for seconds, then
// frees the space. Meanwhile clickback answers 503 with a reason, logs
// the error and /readyz says "no space left for the database"; nothing it acknowledged is lost, it takes postbacks again
// without a restart once there is space, every job completes and the
// database passes PRAGMA integrity_check.
func TestDiskFullSQLite(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, "64m")
	penv, fakes := platforms(t)
	s, _ := newStore(t, "sqlite", disk)
	n := newNode(t, append(append([]string{"CLICKBACK_DATA_DIR=" + disk}, penv...), jobEnv...)...)
	n.start()
	tn := setUpTenant(t, n.url, "Acme", true)
	tr := newTraffic(tn, n.url)
	full := newOutage()
	tr.observe = full.observe

	ctx, cancel := context.WithCancel(context.Background())
	probes := probeReady(ctx, n.url, 200*time.Millisecond)
	wait := tr.start(ctx, 6)
	time.Sleep(3 * time.Second)
	free := fillDisk(t, disk)
	full.begin()
	const fullFor = 5 * time.Second
	time.Sleep(fullFor / 2)
	// One postback by hand, to read the answer.
	u := n.url + strings.NewReplacer("{click_id}", "kfull-probe", "{transaction_id}", "tfull-probe", "{payout}", "1").Replace(strings.TrimPrefix(tn.PostbackURL, "http://"+n.addr))
	resp, err := http.Get(u)
	require.NoError(t, err)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	time.Sleep(fullFor / 2)
	full.end()
	freed := time.Now()
	free()
	time.Sleep(4 * time.Second)
	cancel()
	wait()
	all := probes()

	inside := full.answers()
	refused := inside["tag 503"] + inside["postback 503"]
	require.Positive(t, refused, "no request was refused while the disk was full: the fault did not bite (answers %v)", inside)
	for k, c := range inside {
		code := k[strings.LastIndexByte(k, ' ')+1:]
		if code != "503" && code[0] != '2' && code != "0" {
			t.Errorf("%d answers %q while the disk was full (want 503, or 2xx for what was stored)", c, k)
		}
	}
	if resp.StatusCode != http.StatusOK { // stored in space still free: fine
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
		require.Contains(t, string(body), "retry later", "the 503 says what to do")
	}
	logs := n.logs.String()
	require.Contains(t, logs, "database or disk is full", "the cause is logged")
	acked := full.firstAckAfter(freed)
	require.GreaterOrEqual(t, acked, time.Duration(0), "no postback acknowledged after the space came back")
	readyInside := map[int]int{}
	for _, p := range all {
		if full.during(p.sent, p.answered) {
			readyInside[p.code]++
		}
	}
	require.Positive(t, readyInside[http.StatusServiceUnavailable], "/readyz while the disk was full: %v", readyInside)
	require.Equal(t, map[int]int{http.StatusServiceUnavailable: readyInside[http.StatusServiceUnavailable]}, readyInside, "/readyz says not ready while the disk is full")
	require.GreaterOrEqual(t, readyAfter(all, freed), time.Duration(0), "/readyz never said ready after the space came back")
	require.Equal(t, http.StatusOK, all[len(all)-1].code, "/readyz at the end")
	require.Equal(t, 1, n.Starts, "clickback recovered without a restart")

	took := waitJobsDone(t, s, 2*time.Minute)
	// Like a database outage, a full disk can strike between a platform's
	// answer and the commit that records it.
	o := verify(t, s, tr, fakes, 1)
	f := tr.figures()
	require.Positive(t, o.Matched)
	n.stop()

	db := s.open(t)
	defer db.Close()
	var check string
	require.NoError(t, db.SQL.QueryRow("PRAGMA integrity_check").Scan(&check))
	require.Equal(t, "ok", check, "PRAGMA integrity_check")
	t.Logf("FIGURES diskfull: SQLite on a 64 MB tmpfs filled for %s under load; answers while full %v (a 503 reads %q); /readyz while full %v, ready again %s after; first postback acknowledged %s after the space came back; all jobs done %s after the load; integrity_check ok; %s; conversions stored %d, matched %d, deliveries %d; lost %d, duplicates %d, re-sent (same event id) %d, after a timeout %d",
		fullFor, inside, strings.TrimSpace(string(body)), readyInside, readyAfter(all, freed).Round(10*time.Millisecond), acked.Round(10*time.Millisecond), took.Round(time.Second), f, o.Conversions, o.Matched, o.Deliveries, o.Lost, o.Duplicates, o.Resent, o.ResentAfterTimeout)
}
