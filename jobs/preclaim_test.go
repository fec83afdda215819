package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/loadgen"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/viewer"
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
		p := loadgen.StartPlatforms()
		t.Cleanup(p.Close)
		s := testserver.Start(t, d, func(c *config.Config) { c.Platforms = p.URLs })
		a := s.Signup(t, "preclaim")
		ctx := viewer.SystemContext(context.Background(), a.AccountID)
		svc, err := destination.NewService(s.Config)
		require.NoError(t, err)
		meta, err := svc.Create(ctx, s.DB.Ent, p.Destinations()[0])
		require.NoError(t, err)
		name := "network"
		in, err := integration.Create(ctx, s.DB.Ent, integration.Input{Name: &name})
		require.NoError(t, err)

		now := time.Now()
		deliveryWith := func(tx, network, claim string, until time.Time) (*ent.Conversion, *ent.Delivery) {
			conv, err := s.DB.Ent.Conversion.Create().SetAccountID(a.AccountID).SetIntegrationID(in.ID).
				SetStatus("MATCHED").SetTransactionID(tx).SetNetworkStatus(network).SetReceivedAt(now.Add(-time.Minute)).
				SetAttribution(map[string]string{"landing_page": "https://shop.example/offer"}).
				SetAttributes(map[string]string{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (pre-claim test)"}).Save(ctx)
			require.NoError(t, err)
			event, ok, _ := destination.Map(meta.Kind, meta.EventMapping, conv.EventName)
			require.True(t, ok)
			c := s.DB.Ent.Delivery.Create().SetAccountID(a.AccountID).SetConversionID(conv.ID).SetDestinationID(meta.ID).
				SetEventID(conv.ID).SetEventName(event).SetClaim(claim).SetClaimedUntil(until)
			if network == "REJECTED" {
				c.SetAdjustment(delivery.AdjustmentNOT_RETRACTABLE).SetAdjustmentResponse("planned by the status job")
			}
			dl, err := c.Save(ctx)
			require.NoError(t, err)
			return conv, dl
		}
		fresh, freshD := deliveryWith("order-fresh", "", "pfresh", now.Add(time.Hour))
		lapsing, lapsingD := deliveryWith("order-lapsing", "APPROVED", "plapsing", now.Add(5*time.Second))
		_, heldD := deliveryWith("order-held", "", "pother", now.Add(time.Hour))
		_, rejectedD := deliveryWith("order-rejected", "REJECTED", "prejected", now.Add(time.Hour))

		var args []river.InsertManyParams
		for claim, dl := range map[string]*ent.Delivery{"pfresh": freshD, "plapsing": lapsingD, "pmine": heldD, "prejected": rejectedD} {
			args = append(args, river.InsertManyParams{Args: jobs.ForwardArgs{DeliveryIDs: []string{dl.ID}, AccountID: a.AccountID, Claim: claim, Destinations: []string{meta.ID}}})
		}
		_, err = s.River.InsertMany(ctx, args)
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
