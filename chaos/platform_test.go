//go:build chaos

package chaos

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
)

// platformEnv shortens the delivery retry policy and the platform request
// timeout so that retries, timeouts and a spent retry budget (14 attempts,
// about 9 s of waits from a 10 ms base) happen within the test.
var platformEnv = []string{"CLICKBACK_DELIVERY_RETRY_BASE=10ms", "CLICKBACK_PLATFORM_TIMEOUT=1s"}

// TestPlatformOutages breaks the fake Meta and TikTok under tag and
// postback load — down (5xx), slow (beyond the request timeout), rate
// limiting (HTTP 429 with Retry-After, Meta's code 17, TikTok's HTTP 200
// with code 40100) — each for seconds, and checks that every delivery was
// retried and SENT after the platform recovered, each event received once
// by its platform. Then Meta stays down longer than the retry budget: its
// deliveries end FAILED, shown so by the API, and retryDelivery sends each
// once Meta is back.
func TestPlatformOutages(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			meta, tiktok := capitest.NewMeta(t), capitest.NewTikTok(t)
			penv := []string{"CLICKBACK_META_API_URL=" + meta.URL, "CLICKBACK_TIKTOK_API_URL=" + tiktok.URL}
			fakes := map[string]*capitest.Fake{"META": meta.Fake, "TIKTOK": tiktok.Fake}
			dir := t.TempDir()
			s, denv := newStore(t, d, dir)
			n := newNode(t, append(append(append(append([]string{"CLICKBACK_DATA_DIR=" + dir}, penv...), denv...), jobEnv...), platformEnv...)...)
			n.start()
			tn := setUpTenant(t, n.url, "Acme", true)
			tr := newTraffic(tn, n.url)

			// Under load: each fault for a few seconds, then recovery.
			ctx, cancel := context.WithCancel(context.Background())
			wait := tr.start(ctx, 6)
			faults := []struct {
				name         string
				meta, tiktok capitest.Fault
				lasts        time.Duration
			}{
				{"down (503, 500)", capitest.Unavailable(), capitest.ServerError(), 3 * time.Second},
				{"slow (3 s against a 1 s timeout)", capitest.Slow(3 * time.Second), capitest.Slow(3 * time.Second), 3 * time.Second},
				{"rate limiting (Meta code 17, TikTok 40100)", capitest.MetaRateLimited(), capitest.TikTokRateLimited(), 3 * time.Second},
				{"429 with Retry-After: 1", capitest.TooManyRequests(time.Second), capitest.TooManyRequests(time.Second), 2 * time.Second},
			}
			time.Sleep(2 * time.Second)
			for _, f := range faults {
				metaBefore, tiktokBefore := meta.Requests(), tiktok.Requests()
				meta.Down(f.meta)
				tiktok.Down(f.tiktok)
				time.Sleep(f.lasts)
				meta.Up()
				tiktok.Up()
				time.Sleep(2 * time.Second)
				t.Logf("%s for %s: Meta got %d requests meanwhile, TikTok %d; events received more than once so far: Meta %d, TikTok %d",
					f.name, f.lasts, meta.Requests()-metaBefore, tiktok.Requests()-tiktokBefore, receivedTwice(meta.Fake), receivedTwice(tiktok.Fake))
			}
			cancel()
			wait()
			recovered := waitJobsDone(t, s, 2*time.Minute)
			o := verify(t, s, tr, fakes, 0)
			f := tr.figures()
			require.Positive(t, o.Matched)
			retried := retriedDeliveries(t, s)
			require.Positive(t, retried, "no delivery needed a retry: the faults did not bite")
			t.Logf("FIGURES platforms %s, under load: faults %d × 2–3 s; all jobs done %s after the load; %s; conversions matched %d, deliveries SENT %d of which %d after retries; lost %d, duplicates %d, re-sent after a timeout (same event id) %d",
				d, len(faults), recovered.Round(100*time.Millisecond), f, o.Matched, o.Deliveries, retried, o.Lost, o.Duplicates, o.ResentAfterTimeout)

			// Meta down beyond the retry budget: FAILED, then retryDelivery.
			meta.Down(capitest.Unavailable())
			tr.setBases(n.url)
			const late = 20
			client := &http.Client{Timeout: 15 * time.Second}
			before := f.PostbacksAcked
			for range late {
				tr.visit(client, tr.seq.Add(1))
			}
			require.Equal(t, before+late, tr.figures().PostbacksAcked, "postbacks while Meta is down are acknowledged")
			start := time.Now()
			failed := waitFailed(t, n.url, tn.Token, late, 90*time.Second)
			gaveUp := time.Since(start)
			for _, dl := range failed {
				require.Equal(t, "META", dl.Destination.Kind)
				require.Equal(t, 14, dl.Attempts, "FAILED after the whole retry budget")
				require.Contains(t, dl.LastError, "gave up after 14 attempts")
			}
			t.Logf("waits between the attempts of a FAILED delivery: %v", failed[0].spacing())
			meta.Up()
			for _, dl := range failed {
				var out struct{ RetryDelivery struct{ Status string } }
				gql(t, n.url, tn.Token, `mutation($id: ID!) { retryDelivery(id: $id) { status } }`, map[string]any{"id": dl.ID}, &out)
				require.Equal(t, "PENDING", out.RetryDelivery.Status)
			}
			retriedIn := waitJobsDone(t, s, time.Minute)
			o = verify(t, s, tr, fakes, 0)
			t.Logf("FIGURES platforms %s, beyond the retry budget: %d Meta deliveries FAILED %s after their postbacks (14 attempts each), all SENT %s after retryDelivery; conversions matched %d, deliveries SENT %d; lost %d, duplicates %d, re-sent after a timeout %d",
				d, len(failed), gaveUp.Round(100*time.Millisecond), retriedIn.Round(100*time.Millisecond), o.Matched, o.Deliveries, o.Lost, o.Duplicates, o.ResentAfterTimeout)
			n.stop()
		})
	}
}

// receivedTwice counts the events a fake received more than once.
func receivedTwice(f *capitest.Fake) int {
	n := 0
	for _, k := range f.CountByEventID() {
		if k > 1 {
			n++
		}
	}
	return n
}

// retriedDeliveries counts the SENT deliveries that took more than one
// attempt.
func retriedDeliveries(t *testing.T, s store) int {
	db := s.open(t)
	defer db.Close()
	return counts(t, db.SQL, `SELECT 'r', count(*) FROM deliveries WHERE status = 'SENT' AND attempts > 1`)["r"]
}

// failedDelivery is a FAILED delivery as the API shows it.
type failedDelivery struct {
	ID, Status, LastError string
	Attempts              int
	Destination           struct{ Kind string }
	AttemptLog            []struct{ At time.Time }
}

// spacing returns the waits between a delivery's attempts.
func (d failedDelivery) spacing() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(d.AttemptLog); i++ {
		out = append(out, d.AttemptLog[i].At.Sub(d.AttemptLog[i-1].At).Round(10*time.Millisecond))
	}
	return out
}

// waitFailed polls the API until want deliveries are FAILED and none is
// PENDING, and returns the FAILED ones.
func waitFailed(t *testing.T, base, token string, want int, within time.Duration) []failedDelivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var out struct {
			Conversions struct {
				Edges []struct {
					Node struct{ Deliveries []failedDelivery }
				}
			}
		}
		gql(t, base, token, `{ conversions(first: 1000, where: {hasDeliveriesWith: [{statusIn: [FAILED, PENDING]}]}) { edges { node { deliveries { id status lastError attempts destination { kind } attemptLog { at } } } } } }`, nil, &out)
		var failed []failedDelivery
		pending := 0
		for _, e := range out.Conversions.Edges {
			for _, dl := range e.Node.Deliveries {
				switch dl.Status {
				case "FAILED":
					failed = append(failed, dl)
				case "PENDING":
					pending++
				}
			}
		}
		if pending == 0 && len(failed) >= want {
			require.Len(t, failed, want, "FAILED deliveries")
			return failed
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d deliveries FAILED, %d PENDING (want %d FAILED)", within, len(failed), pending, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
