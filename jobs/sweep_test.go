package jobs_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/jobs"
)

// TestForwardSweep: a PENDING delivery whose claim lapsed long ago (its job
// died and is gone) gets a new forward job from the sweep and is sent
// once; one whose claim is live, or lapsed only just (its job may still be
// rescued), is left alone.
func TestForwardSweep(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardFixture(t, d, "sweep", func(c *config.Config) {
			c.JobTimeout, c.JobRescueAfter = 10*time.Second, 10*time.Second
		})
		p, s, ctx := f.p, f.s, f.ctx
		now := time.Now()
		deliveryWith := func(claim string, until time.Time) (*ent.Conversion, *ent.Delivery) {
			return f.delivery(t, "order-"+claim, now.Add(-time.Hour), claim, until, nil, nil)
		}
		orphan, lost := deliveryWith("j999999.gone", now.Add(-10*time.Minute))
		_, live := deliveryWith("j999998.live", now.Add(time.Minute))
		_, recent := deliveryWith("j999997.recent", now.Add(-5*time.Second))

		_, err := s.River.Insert(ctx, jobs.ForwardSweepArgs{}, nil)
		require.NoError(t, err)
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got, err := s.DB.Ent.Delivery.Get(ctx, lost.ID)
			require.NoError(t, err)
			if got.Status != delivery.StatusPENDING {
				require.Equal(t, delivery.StatusSENT, got.Status, "%+v", got)
				break
			}
			if time.Now().After(deadline) {
				jl, err := s.River.JobList(ctx, river.NewJobListParams().First(50))
				require.NoError(t, err)
				for _, j := range jl.Jobs {
					t.Logf("%s %s %s %v", j.Kind, j.State, j.EncodedArgs, j.Errors)
				}
				t.Fatalf("the orphaned delivery was not sent: %+v", got)
			}
		}
		require.Equal(t, map[string]int{orphan.ID: 1}, p.Meta.CountByEventID())

		for _, dl := range []*ent.Delivery{live, recent} {
			got, err := s.DB.Ent.Delivery.Get(ctx, dl.ID)
			require.NoError(t, err)
			require.Equal(t, delivery.StatusPENDING, got.Status)
			require.Equal(t, dl.Claim, got.Claim, "left with its job")
		}
	})
}
