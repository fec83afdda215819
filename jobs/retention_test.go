package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/trackevent"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/viewer"
)

func TestRetentionDeletesOnlyPastRetention(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		db := dbtest.Open(t, d)
		ctx := context.Background()
		now := time.Now()
		short := seed.NewTenant(t, db.Ent, "")
		forever := seed.NewTenant(t, db.Ent, "")
		require.NoError(t, db.Ent.Account.UpdateOneID(short.AccountID).SetRetentionDays(30).Exec(viewer.SystemContext(ctx, "")))
		require.NoError(t, db.Ent.Account.UpdateOneID(forever.AccountID).SetRetentionDays(0).Exec(viewer.SystemContext(ctx, "")))

		old := now.Add(-31 * 24 * time.Hour)
		recent := now.Add(-29 * 24 * time.Hour)
		shortClicks := short.Clicks(t, seed.Click{At: old, Source: "old", Outbound: 2}, seed.Click{At: recent, Source: "recent", Outbound: 1})
		conv := short.Conversions(t, seed.Conversion{At: old.Add(time.Hour), Click: shortClicks[0]})[0]
		kept := short.Conversions(t, seed.Conversion{At: recent.Add(time.Hour), Click: shortClicks[1]})[0]
		forever.Clicks(t, seed.Click{At: now.Add(-1000 * 24 * time.Hour), Outbound: 1})

		w := &RetentionWorker{DB: db, now: func() time.Time { return now }}
		require.NoError(t, w.Work(ctx, &river.Job[RetentionArgs]{}))

		sys := viewer.SystemContext(ctx, short.AccountID)
		clicks, err := db.Ent.Click.Query().All(sys)
		require.NoError(t, err)
		require.Len(t, clicks, 1)
		require.Equal(t, "recent", clicks[0].UtmSource)
		events, err := db.Ent.TrackEvent.Query().All(sys)
		require.NoError(t, err)
		require.Len(t, events, 1)
		require.Equal(t, shortClicks[1].ClickID, events[0].ClickID)

		// Conversions stay, with their attribution; only the link to a
		// deleted visit goes.
		c, err := db.Ent.Conversion.Get(sys, conv.ID)
		require.NoError(t, err)
		require.Nil(t, c.VisitID)
		require.Equal(t, "old", c.Attribution["utm_source"])
		k, err := db.Ent.Conversion.Get(sys, kept.ID)
		require.NoError(t, err)
		require.Equal(t, shortClicks[1].ID, *k.VisitID)

		// An account that keeps everything keeps everything.
		fsys := viewer.SystemContext(ctx, forever.AccountID)
		n, err := db.Ent.Click.Query().Where(click.AccountID(forever.AccountID)).Count(fsys)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = db.Ent.TrackEvent.Query().Where(trackevent.AccountID(forever.AccountID)).Count(fsys)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}
