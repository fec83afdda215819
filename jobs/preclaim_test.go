package jobs_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/jobs"
)

// TestForwardPreClaimed: a forward job sends the deliveries created
// claimed by it (ForwardArgs.Claim) once, also when that claim is about to
// lapse (it claims them first then); it leaves alone a delivery another
// job holds; and it skips, without sending, a never-attempted delivery
// whose conversion the network rejected meanwhile, dropping the
// adjustment planned for it.
func TestForwardPreClaimed(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardFixture(t, d, "preclaim", nil)
		p, s, ctx, meta := f.p, f.s, f.ctx, f.meta
		now := time.Now()
		deliveryWith := func(tx, network, claim string, until time.Time) (*ent.Conversion, *ent.Delivery) {
			return f.delivery(t, tx, now.Add(-time.Minute), claim, until,
				func(c *ent.ConversionCreate) { c.SetNetworkStatus(network) },
				func(c *ent.DeliveryCreate) {
					if network == "REJECTED" {
						c.SetAdjustment(delivery.AdjustmentNOT_RETRACTABLE).SetAdjustmentResponse("planned by the status job")
					}
				})
		}
		fresh, freshD := deliveryWith("order-fresh", "", "pfresh", now.Add(time.Hour))
		lapsing, lapsingD := deliveryWith("order-lapsing", "APPROVED", "plapsing", now.Add(5*time.Second))
		_, heldD := deliveryWith("order-held", "", "pother", now.Add(time.Hour))
		_, rejectedD := deliveryWith("order-rejected", "REJECTED", "prejected", now.Add(time.Hour))

		var args []river.InsertManyParams
		for claim, dl := range map[string]*ent.Delivery{"pfresh": freshD, "plapsing": lapsingD, "pmine": heldD, "prejected": rejectedD} {
			args = append(args, river.InsertManyParams{Args: jobs.ForwardArgs{DeliveryIDs: []string{dl.ID}, AccountID: f.accountID, Claim: claim, Destinations: []string{meta.ID}}})
		}
		_, err := s.River.InsertMany(ctx, args)
		require.NoError(t, err)

		settled := func(dl *ent.Delivery, want delivery.Status) *ent.Delivery {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				got, err := s.DB.Ent.Delivery.Get(ctx, dl.ID)
				require.NoError(t, err)
				if got.Status != delivery.StatusPENDING {
					require.Equal(t, want, got.Status, "%+v", got)
					return got
				}
				require.True(t, time.Now().Before(deadline), "delivery %s was never settled: %+v", dl.ID, got)
			}
		}
		settled(freshD, delivery.StatusSENT)
		settled(lapsingD, delivery.StatusSENT)
		skipped := settled(rejectedD, delivery.StatusSKIPPED)
		require.Contains(t, skipped.LastError, "rejected before it was forwarded")
		require.Nil(t, skipped.Adjustment, "it never reached the platform: nothing to adjust")
		require.Empty(t, skipped.AdjustmentResponse)

		// The job naming the held delivery with a claim of its own has
		// ended without it: it is its holder's.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			jl, err := s.River.JobList(ctx, river.NewJobListParams().Kinds("forward").States("completed").First(10))
			require.NoError(t, err)
			if len(jl.Jobs) == 4 {
				break
			}
			require.True(t, time.Now().Before(deadline), "the forward jobs did not all complete")
		}
		got, err := s.DB.Ent.Delivery.Get(ctx, heldD.ID)
		require.NoError(t, err)
		require.Equal(t, delivery.StatusPENDING, got.Status)
		require.Equal(t, "pother", got.Claim, "left with its holder")

		require.Equal(t, map[string]int{fresh.ID: 1, lapsing.ID: 1}, p.Meta.CountByEventID())
	})
}
