//go:build chaos

package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/database"
)

// store reads what a node wrote, straight from its database.
type store struct {
	url, sqlitePath string
}

func (s store) open(t *testing.T) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), s.url, s.sqlitePath)
	require.NoError(t, err)
	return db
}

// counts runs a query of (key, count) rows.
func counts(t *testing.T, db *sql.DB, query string) map[string]int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	require.NoError(t, err, query)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k sql.NullString
		var n int
		require.NoError(t, rows.Scan(&k, &n))
		out[k.String] += n
	}
	require.NoError(t, rows.Err())
	return out
}

// backgroundKinds are the jobs a conversion causes; periodic maintenance
// jobs (retention, rollups) are not the test's business.
const backgroundKinds = `('match', 'match_batch', 'forward', 'conversion_status')`

// unfinishedJobs counts the conversion jobs by state, apart from completed.
func unfinishedJobs(t *testing.T, db *sql.DB) map[string]int {
	return counts(t, db, `SELECT state, count(*) FROM river_job WHERE kind IN `+backgroundKinds+` AND state <> 'completed' GROUP BY state`)
}

// runningJobs counts the conversion jobs left running, with the process
// that ran them dead: the jobs a crash interrupted.
func runningJobs(t *testing.T, s store) int {
	db := s.open(t)
	defer db.Close()
	return counts(t, db.SQL, `SELECT 'running', count(*) FROM river_job WHERE kind IN `+backgroundKinds+` AND state = 'running'`)["running"]
}

// waitJobsDone polls until every conversion job has completed, and fails
// the test at the deadline, or at once when one was discarded or cancelled.
func waitJobsDone(t *testing.T, s store, within time.Duration) time.Duration {
	t.Helper()
	db := s.open(t)
	defer db.Close()
	start := time.Now()
	var left map[string]int
	for time.Since(start) < within {
		left = unfinishedJobs(t, db.SQL)
		require.Zero(t, left["discarded"]+left["cancelled"], "jobs given up: %v", left)
		if len(left) == 0 {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	rows, err := db.SQL.QueryContext(context.Background(), `SELECT kind, state, attempt, CAST(scheduled_at AS TEXT), CAST(args AS TEXT), CAST(errors AS TEXT) FROM river_job WHERE kind IN `+backgroundKinds+` AND state <> 'completed' LIMIT 5`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var kind, state, at string
		var attempt int
		var args, errs sql.NullString
		require.NoError(t, rows.Scan(&kind, &state, &attempt, &at, &args, &errs))
		t.Logf("unfinished %s job, %s (at %s), attempt %d, args %s, errors %.2000s", kind, state, at, attempt, args.String, errs.String)
	}
	t.Fatalf("conversion jobs not finished %s after the restart: %v", within, left)
	return 0
}

// outcome is what verify found, for the report.
type outcome struct {
	Conversions, Matched, Deliveries int
	Lost, Duplicates                 int
	// Resent counts events a platform received again after a kill (see
	// verify); each one is the same event id, deduplicated there.
	Resent int
	// ResentAfterTimeout counts events a platform received again after a
	// request that got no answer (a timeout): same event id as well.
	ResentAfterTimeout int
}

// unansweredAttempts counts, by event id, the attempts of the SENT
// deliveries of destination kind that got no answer (status 0 in the
// attempt log: a timeout, a broken connection), each of which may have
// reached the platform.
func unansweredAttempts(t *testing.T, db *sql.DB, kind string) map[string]int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT d.event_id, CAST(d.attempt_log AS TEXT) FROM deliveries d JOIN destinations ds ON ds.id = d.destination_id WHERE ds.kind = '`+kind+`' AND d.status = 'SENT' AND d.attempts > 1`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var raw sql.NullString
		require.NoError(t, rows.Scan(&id, &raw))
		var log []struct {
			StatusCode int `json:"statusCode"`
		}
		if raw.String != "" {
			require.NoError(t, json.Unmarshal([]byte(raw.String), &log), raw.String)
		}
		for _, a := range log {
			if a.StatusCode == 0 {
				out[id]++
			}
		}
	}
	require.NoError(t, rows.Err())
	return out
}

// verify checks the store against the traffic: every acknowledged tag
// batch stored once and whole, every acknowledged postback stored once,
// nothing stored that was not sent, every matched conversion delivered once
// to each destination and received once by each fake platform.
//
// kills bounds re-sends: an event in flight when the process is killed may
// reach the platform once more after the restart, never more often than
// there were kills.
func verify(t *testing.T, s store, tr *traffic, fakes map[string]*capitest.Fake, kills int) outcome {
	t.Helper()
	db := s.open(t)
	defer db.Close()
	var o outcome
	tr.recMu.Lock()
	defer tr.recMu.Unlock()
	prefix := "k" + tr.run + "-"
	sentTag := set(tr.tagSent)
	sentPB := set(tr.pbSent)

	events := counts(t, db.SQL, `SELECT click_id, count(*) FROM track_events GROUP BY click_id`)
	clicks := counts(t, db.SQL, `SELECT click_id, count(*) FROM clicks GROUP BY click_id`)
	for _, id := range tr.tagAck {
		if clicks[id] != 1 || events[id] != 2 {
			o.Lost++
			t.Errorf("acknowledged tag batch %s: %d clicks, %d events stored (want 1 and 2)", id, clicks[id], events[id])
		}
	}
	for id, n := range events {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		require.True(t, sentTag[id], "events stored for a Click ID never sent: %s", id)
		if n != 2 {
			o.Duplicates++
			t.Errorf("tag batch %s stored %d events (want 2: a batch is stored whole or not at all, once)", id, n)
		}
	}

	conv := counts(t, db.SQL, `SELECT transaction_id, count(*) FROM conversions WHERE status <> 'DUPLICATE' GROUP BY transaction_id`)
	dup := counts(t, db.SQL, `SELECT 'dup', count(*) FROM conversions WHERE status = 'DUPLICATE'`)["dup"]
	for _, id := range tr.pbAck {
		if conv[id] != 1 {
			t.Errorf("acknowledged postback %s stored %d times (want 1)", id, conv[id])
			if conv[id] == 0 {
				o.Lost++
			}
		}
	}
	for id, n := range conv {
		if !strings.HasPrefix(id, "t"+prefix) {
			continue
		}
		o.Conversions++
		require.True(t, sentPB[id], "conversion stored for a transaction never sent: %s", id)
		if n > 1 {
			o.Duplicates += n - 1
		}
	}
	// Nothing was sent twice, so a DUPLICATE row means a postback counted
	// against itself: a retried insert.
	require.Zero(t, dup, "conversions marked DUPLICATE though every postback was sent once")
	o.Duplicates += dup

	o.Matched = counts(t, db.SQL, `SELECT 'm', count(*) FROM conversions WHERE status = 'MATCHED'`)["m"]
	if fakes != nil {
		dests := counts(t, db.SQL, `SELECT 'd', count(*) FROM destinations`)["d"]
		perConv := counts(t, db.SQL, `SELECT c.id, count(d.id) FROM conversions c LEFT JOIN deliveries d ON d.conversion_id = c.id WHERE c.status = 'MATCHED' GROUP BY c.id`)
		for id, n := range perConv {
			if n != dests {
				t.Errorf("matched conversion %s has %d deliveries (want %d, one per destination)", id, n, dests)
			}
		}
		states := counts(t, db.SQL, `SELECT status, count(*) FROM deliveries GROUP BY status`)
		require.Equal(t, map[string]int{"SENT": o.Matched * dests}, states, "every delivery of a matched conversion SENT")
		o.Deliveries = states["SENT"]
		for kind, fake := range fakes {
			sent := counts(t, db.SQL, fmt.Sprintf(`SELECT d.event_id, count(*) FROM deliveries d JOIN destinations ds ON ds.id = d.destination_id WHERE ds.kind = '%s' AND d.status = 'SENT' GROUP BY d.event_id`, kind))
			got := fake.CountByEventID()
			unanswered := unansweredAttempts(t, db.SQL, kind)
			for id := range sent {
				switch {
				case got[id] == 0:
					t.Errorf("%s never received event %s, which its delivery records as SENT", kind, id)
					o.Lost++
				case got[id] > 1+kills+unanswered[id]:
					t.Errorf("%s received event %s %d times with %d kills and %d attempts that got no answer: re-sent without cause", kind, id, got[id], kills, unanswered[id])
					o.Duplicates += got[id] - 1 - kills - unanswered[id]
				case got[id] > 1 && unanswered[id] > 0:
					// A request that timed out may have reached the
					// platform, which then has the event already when the
					// retry sends it again, with the same event id.
					o.ResentAfterTimeout += got[id] - 1
				case got[id] > 1:
					// A kill between the platform's answer and the commit
					// that records it leaves the delivery claimed but not
					// SENT; the rescued job must send it again or lose it.
					// It sends the same event id, on which the platforms
					// deduplicate (Meta/TikTok event_id, Google Ads order
					// id, GA4 transaction id), so the platform counts the
					// conversion once. Counted, and bounded below.
					o.Resent += got[id] - 1
				}
			}
			for id := range got {
				if sent[id] == 0 {
					t.Errorf("%s received event %s that no SENT delivery holds", kind, id)
				}
			}
		}
	}
	return o
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
