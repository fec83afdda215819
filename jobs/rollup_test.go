package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/report"
	"github.com/clickback/clickback/viewer"
)

// TestRollupWorker runs the rollup job as River would: it catches up, a
// later run changes nothing, and reports keep counting the visits that
// retention deleted once they are rolled up.
func TestRollupWorker(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		db := dbtest.Open(t, d)
		ctx := context.Background()
		now := time.Now().UTC()
		a := seed.NewTenant(t, db.Ent, "")
		other := seed.NewTenant(t, db.Ent, "")
		require.NoError(t, db.Ent.Account.UpdateOneID(a.AccountID).SetRetentionDays(30).Exec(viewer.SystemContext(ctx, "")))
		old := now.Add(-40 * 24 * time.Hour)
		clicks := a.Clicks(t, seed.Click{At: old, Source: "google", Campaign: "spring", Outbound: 1}, seed.Click{At: now.Add(-2 * time.Hour), Source: "bing"})
		a.Conversions(t,
			seed.Conversion{At: old.Add(time.Hour), Click: clicks[0], AmountMicros: 2_000_000, Delivery: delivery.StatusSENT},
			seed.Conversion{At: now.Add(-time.Hour), Click: clicks[1], Delivery: delivery.StatusFAILED},
		)
		other.Clicks(t, seed.Click{At: old, Source: "google"})

		rdb := report.DB{SQL: db.SQL, Dialect: db.Dialect}
		q := report.Query{AccountID: a.AccountID, From: old.Add(-time.Hour), To: now.Add(time.Hour), Currency: "USD", Need: report.All,
			GroupBy: []report.Dimension{report.UTMSource}}
		bySource := func() [][]int64 {
			r, err := report.Run(ctx, rdb, q, report.Rates{})
			require.NoError(t, err)
			var out [][]int64
			for _, row := range r.Rows {
				out = append(out, []int64{row.Clicks, row.OutboundClicks, row.Conversions, row.Purchases, row.DeliveriesSent, row.DeliveriesFailed})
			}
			return out
		}
		want := [][]int64{{1, 0, 1, 0, 0, 1}, {1, 1, 1, 1, 1, 0}} // bing, google
		require.Equal(t, want, bySource())

		w := &RollupWorker{DB: db}
		// 40 days back: the first runs catch up a month at a time.
		for range 3 {
			require.NoError(t, w.Work(ctx, &river.Job[RollupArgs]{}))
		}
		var sealed int64
		require.NoError(t, db.SQL.QueryRow("SELECT sealed_through FROM rollup_states WHERE name NOT LIKE '%.changes'").Scan(&sealed))
		require.GreaterOrEqual(t, sealed, now.Add(-report.RollupGrace).Unix()/3600*3600, "caught up")
		require.Equal(t, want, bySource())

		require.NoError(t, (&RetentionWorker{DB: db}).Work(ctx, &river.Job[RetentionArgs]{}))
		require.NoError(t, w.Work(ctx, &river.Job[RollupArgs]{}))
		require.Equal(t, want, bySource(), "rolled-up visits outlive retention")
	})
}
