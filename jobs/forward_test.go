package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/config"
)

// TestForwardNextRetry: a job whose Work failed in this process waits the
// delivery backoff, counting its failures but not its rescues; a job River's
// rescuer rescued (its process died) runs again at once.
func TestForwardNextRetry(t *testing.T) {
	rescued := rivertype.AttemptError{Error: rescuedError}
	failed := rivertype.AttemptError{Error: "delivery dlv_1: 503"}
	for _, tc := range []struct {
		name       string
		failedHere bool
		errors     []rivertype.AttemptError
		want       time.Duration
	}{
		{"first failure", true, nil, 10 * time.Second},
		{"second failure", true, []rivertype.AttemptError{failed}, 20 * time.Second},
		{"failure after rescues", true, []rivertype.AttemptError{rescued, rescued, failed}, 20 * time.Second},
		{"many failures are capped", true, make([]rivertype.AttemptError, 30), 10 * time.Second * maxRetryFactor},
		{"rescued", false, nil, 0},
		{"rescued after failures", false, []rivertype.AttemptError{failed, failed}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &ForwardWorker{Config: config.Config{DeliveryRetryBase: 10 * time.Second}}
			job := &river.Job[ForwardArgs]{JobRow: &rivertype.JobRow{ID: 7, Errors: tc.errors}}
			if tc.failedHere {
				w.noteFailed(job.ID)
			}
			wait := time.Until(w.NextRetry(job))
			require.InDelta(t, float64(tc.want), float64(wait), float64(tc.want)/10+float64(time.Second))
			// The note is taken: a later rescue of the same job is not
			// mistaken for a failure.
			require.Less(t, time.Until(w.NextRetry(job)), time.Second)
		})
	}
}

// TestClaimPrefix: a job's claim tokens start with its own prefix, which no
// other job's tokens start with.
func TestClaimPrefix(t *testing.T) {
	a, b := &rivertype.JobRow{ID: 12}, &rivertype.JobRow{ID: 123}
	require.Equal(t, "j12.", claimPrefix(a))
	require.NotEqual(t, newClaimToken(a), newClaimToken(a))
	require.Regexp(t, `^j12\.[0-9a-f]{24}$`, newClaimToken(a))
	require.NotRegexp(t, `^j12\.`, newClaimToken(b))
	require.Empty(t, claimPrefix(nil))
}
