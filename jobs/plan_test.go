package jobs_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/jobs"
)

// TestForwardPlan: the forward job of a matched batch (ForwardArgs.Plan)
// writes each of its deliveries once, with the outcome of the first
// attempt and the time of the match; it skips, without sending, a
// conversion the network rejected before; should a delivery have a row
// already, that row stands; and when the network's rejection lands while it is
// sending, the delivery that went out is adjusted all the same.
func TestForwardPlan(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardFixture(t, d, "plan", nil)
		p, s, ctx, meta := f.p, f.s, f.ctx, f.meta
		at := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
		first := func(network string) func(*ent.ConversionCreate) {
			return func(c *ent.ConversionCreate) { c.SetNetworkStatus(network) }
		}
		fresh := f.conversion(t, "order-fresh", at, first(""))
		rejected := f.conversion(t, "order-rejected", at, first("REJECTED"))
		written, writtenD := f.delivery(t, "order-written", at, "", time.Time{}, nil, func(c *ent.DeliveryCreate) {
			c.SetStatus(delivery.StatusSENT).SetAttempts(1)
		})
		racing := f.conversion(t, "order-racing", at, func(c *ent.ConversionCreate) { c.SetDedupKey("order-racing") })
		// The network's rejection of order-racing, stored as a repeat,
		// applied while the job sends it (as the status job does, finding
		// no delivery to adjust yet).
		f.conversion(t, "order-racing", at.Add(time.Second), func(c *ent.ConversionCreate) {
			c.SetStatus("DUPLICATE").SetNetworkStatus("REJECTED")
		})
		p.Meta.Observe(func(body []byte, _ int) {
			if bytes.Contains(body, []byte(racing.ID)) {
				if err := s.DB.Ent.Conversion.UpdateOneID(racing.ID).SetNetworkStatus("REJECTED").Exec(ctx); err != nil {
					t.Errorf("reject order-racing: %v", err)
				}
			}
		})

		event, ok, _ := destination.Map(meta.Kind, meta.EventMapping, fresh.EventName)
		require.True(t, ok)
		plan := &jobs.ForwardPlan{
			Conversions: []string{fresh.ID, rejected.ID, written.ID, racing.ID},
			Sends:       []jobs.PlannedSend{{Destination: meta.ID, Event: event, Conversions: []int{0, 1, 2, 3}}},
			At:          at,
		}
		_, err := s.River.Insert(ctx, jobs.ForwardArgs{AccountID: f.accountID, Destinations: []string{meta.ID}, Plan: plan}, nil)
		require.NoError(t, err)

		settled := func(conv *ent.Conversion, done func(*ent.Delivery) bool) *ent.Delivery {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				ds, err := s.DB.Ent.Delivery.Query().Where(delivery.ConversionID(conv.ID)).All(ctx)
				require.NoError(t, err)
				require.LessOrEqual(t, len(ds), 1, "one delivery per conversion and destination")
				if len(ds) == 1 && done(ds[0]) {
					return ds[0]
				}
				require.True(t, time.Now().Before(deadline), "the delivery of %s was never written: %+v", conv.TransactionID, ds)
			}
		}
		notPending := func(d *ent.Delivery) bool { return d.Status != delivery.StatusPENDING }

		sent := settled(fresh, notPending)
		require.Equal(t, delivery.StatusSENT, sent.Status)
		require.Equal(t, 1, sent.Attempts)
		require.Len(t, sent.AttemptLog, 1)
		require.Equal(t, 200, sent.AttemptLog[0].StatusCode)
		require.NotNil(t, sent.SentAt)
		require.NotNil(t, sent.LastAttemptAt)
		require.Equal(t, fresh.ID, sent.EventID)
		require.Equal(t, event, sent.EventName)
		require.WithinDuration(t, at, sent.CreatedAt, time.Millisecond, "created at the match")
		require.Empty(t, sent.Claim)

		skipped := settled(rejected, notPending)
		require.Equal(t, delivery.StatusSKIPPED, skipped.Status)
		require.Contains(t, skipped.LastError, "rejected before it was forwarded")

		adjusted := settled(racing, func(d *ent.Delivery) bool { return d.Adjustment != nil })
		require.Equal(t, delivery.StatusSENT, adjusted.Status)
		require.Equal(t, delivery.AdjustmentNOT_RETRACTABLE, *adjusted.Adjustment)

		still, err := s.DB.Ent.Delivery.Query().Where(delivery.ConversionID(written.ID)).Only(ctx)
		require.NoError(t, err)
		require.Equal(t, writtenD.ID, still.ID, "the delivery written before stands")
		require.Equal(t, 1, still.Attempts)

		got := p.Meta.CountByEventID()
		require.Equal(t, 1, got[fresh.ID])
		require.Equal(t, 1, got[racing.ID])
		require.Zero(t, got[rejected.ID])
	})
}

// TestReplayLeavesPlanned: replayConversion plans no delivery of a
// conversion to a destination a forward job's plan is still sending it to
// (its row is not written yet); once the job has finished, the replay goes
// on as usual.
func TestReplayLeavesPlanned(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardFixture(t, d, "replay-plan", nil)
		s, ctx, meta := f.s, f.ctx, f.meta
		conv := f.conversion(t, "order-planned", time.Now().Add(-time.Minute), nil)
		event, _, _ := destination.Map(meta.Kind, meta.EventMapping, conv.EventName)
		plan := &jobs.ForwardPlan{
			Conversions: []string{"cnv_other", conv.ID},
			Sends:       []jobs.PlannedSend{{Destination: meta.ID, Event: event, Conversions: []int{0, 1}}},
			At:          time.Now(),
		}
		later := &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}
		job, err := s.River.Insert(ctx, jobs.ForwardArgs{AccountID: f.accountID, Destinations: []string{meta.ID}, Plan: plan}, later)
		require.NoError(t, err)

		replay := func() {
			t.Helper()
			tx, err := s.DB.Ent.Tx(ctx)
			require.NoError(t, err)
			_, err = jobs.ReplayConversion(ctx, tx.Client(), s.River, conv.ID)
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
		}
		replay()
		n, err := s.DB.Ent.Delivery.Query().Where(delivery.ConversionID(conv.ID)).Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "on its way in the plan")

		_, err = s.River.JobCancel(ctx, job.Job.ID)
		require.NoError(t, err)
		replay()
		got, err := s.DB.Ent.Delivery.Query().Where(delivery.ConversionID(conv.ID)).Only(ctx)
		require.NoError(t, err)
		require.Equal(t, meta.ID, got.DestinationID)
	})
}
