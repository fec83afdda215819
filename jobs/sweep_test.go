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

// TestForwardSweep: a PENDING delivery whose claim lapsed long ago (its job
// died and is gone) gets a new forward job from the sweep and is sent
// once; one whose claim is live, or lapsed only just (its job may still be
// rescued), is left alone.
func TestForwardSweep(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		p := loadgen.StartPlatforms()
		t.Cleanup(p.Close)
		s := testserver.Start(t, d, func(c *config.Config) {
			c.Platforms = p.URLs
			c.JobTimeout, c.JobRescueAfter = 10*time.Second, 10*time.Second
		})
		a := s.Signup(t, "sweep")
		ctx := viewer.SystemContext(context.Background(), a.AccountID)
		svc, err := destination.NewService(s.Config)
		require.NoError(t, err)
		meta, err := svc.Create(ctx, s.DB.Ent, p.Destinations()[0])
		require.NoError(t, err)
		name := "network"
		in, err := integration.Create(ctx, s.DB.Ent, integration.Input{Name: &name})
		require.NoError(t, err)

		now := time.Now()
		deliveryWith := func(claim string, until time.Time) (*ent.Conversion, *ent.Delivery) {
			conv, err := s.DB.Ent.Conversion.Create().SetAccountID(a.AccountID).SetIntegrationID(in.ID).
				SetStatus("MATCHED").SetTransactionID("order-" + claim).SetReceivedAt(now.Add(-time.Hour)).
				SetAttribution(map[string]string{"landing_page": "https://shop.example/offer"}).
				SetAttributes(map[string]string{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (sweep test)"}).Save(ctx)
			require.NoError(t, err)
			event, ok, _ := destination.Map(meta.Kind, meta.EventMapping, conv.EventName)
			require.True(t, ok)
			dl, err := s.DB.Ent.Delivery.Create().SetAccountID(a.AccountID).SetConversionID(conv.ID).SetDestinationID(meta.ID).
				SetEventID(conv.ID).SetEventName(event).SetClaim(claim).SetClaimedUntil(until).Save(ctx)
			require.NoError(t, err)
			return conv, dl
		}
		orphan, lost := deliveryWith("j999999.gone", now.Add(-10*time.Minute))
		_, live := deliveryWith("j999998.live", now.Add(time.Minute))
		_, recent := deliveryWith("j999997.recent", now.Add(-5*time.Second))

		_, err = s.River.Insert(ctx, jobs.ForwardSweepArgs{}, nil)
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
