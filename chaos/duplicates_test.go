//go:build chaos

package chaos

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentDuplicates sends 100 copies of one postback at once, for a
// click that exists: one conversion is stored, matched and forwarded once
// to each platform; the 99 others are stored as DUPLICATE and forwarded
// nowhere.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			penv, fakes := platforms(t)
			dir := t.TempDir()
			s, denv := newStore(t, d, dir)
			n := newNode(t, append(append(append([]string{"CLICKBACK_DATA_DIR=" + dir}, penv...), denv...), jobEnv...)...)
			n.start()
			tr := newTraffic(setUpTenant(t, n.url, "Acme", true), n.url)
			click := "kdup-" + tr.run
			body := fmt.Sprintf(`{"v":1,"events":[{"t":"pv","c":"%s","ts":1732500000000,"u":"https://shop.example/"}]}`, click)
			require.Equal(t, http.StatusNoContent, tr.send(http.DefaultClient, http.MethodPost, n.url+tr.tag, body))
			u := n.url + strings.NewReplacer("{click_id}", click, "{transaction_id}", "T-"+tr.run, "{payout}", "9.99").Replace(tr.postback)

			const copies = 100
			var wg sync.WaitGroup
			codes := make([]int, copies)
			start := make(chan struct{})
			for i := range copies {
				wg.Go(func() {
					<-start
					codes[i] = tr.send(&http.Client{Timeout: 60 * time.Second}, http.MethodGet, u, "")
				})
			}
			close(start)
			wg.Wait()
			for i, c := range codes {
				require.Equal(t, http.StatusOK, c, "copy %d: a duplicate is acknowledged too", i)
			}
			waitJobsDone(t, s, 2*time.Minute)
			db := s.open(t)
			defer db.Close()
			require.Equal(t, map[string]int{"MATCHED": 1, "DUPLICATE": copies - 1},
				counts(t, db.SQL, `SELECT status, count(*) FROM conversions GROUP BY status`))
			require.Equal(t, map[string]int{"SENT": 2}, counts(t, db.SQL, `SELECT status, count(*) FROM deliveries GROUP BY status`))
			for kind, f := range fakes {
				got := f.CountByEventID()
				require.Len(t, got, 1, kind)
				for id, k := range got {
					require.Equal(t, 1, k, "%s received %s %d times", kind, id, k)
				}
			}
			n.stop()
		})
	}
}
