package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/viewer"
)

// TestMatchedAsStored: a postback whose Click ID names a visit recorded
// inside the attribution window is stored MATCHED, with the visit's
// attribution, and the forward job of its destinations is inserted with
// it; one whose visit is unknown, or older than the window, is left
// RECEIVED to the match job; a repeat of the matched transaction is a
// DUPLICATE and matches nothing.
func TestMatchedAsStored(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		tb := setup(t, d, Options{})
		ctx := viewer.SystemContext(context.Background(), tb.account.ID)
		db := tb.db.Ent
		prop, err := db.Property.Create().SetAccountID(tb.account.ID).SetName("shop").SetKey(fmt.Sprint("p", time.Now().UnixNano())).
			SetAttributionWindowDays(7).Save(ctx)
		require.NoError(t, err)
		visit := func(clickID string, at time.Time) *ent.Click {
			c, err := db.Click.Create().SetAccountID(tb.account.ID).SetPropertyID(prop.ID).SetClickID(clickID).
				SetCreatedAt(at).SetLandingPage("https://shop.example/offer").SetGclid("gclid-1").Save(ctx)
			require.NoError(t, err)
			return c
		}
		known := visit("clk-known", time.Now().Add(-time.Hour))
		visit("clk-old", time.Now().Add(-8*24*time.Hour))
		dst, err := db.Destination.Create().SetAccountID(tb.account.ID).SetName("meta").SetKind("META").Save(ctx)
		require.NoError(t, err)

		for _, p := range [][2]string{{"clk-known", "T-1"}, {"clk-unknown", "T-2"}, {"clk-old", "T-3"}, {"clk-known", "T-1"}} {
			code, body := tb.get(t, p[0], p[1])
			require.Equal(t, http.StatusOK, code, body)
		}
		byTx := func(tx string, status conversion.Status) *ent.Conversion {
			t.Helper()
			c, err := db.Conversion.Query().Where(conversion.TransactionID(tx), conversion.StatusEQ(status)).Only(ctx)
			require.NoError(t, err, "%s %s", tx, status)
			return c
		}
		matched := byTx("T-1", conversion.StatusMATCHED)
		require.NotNil(t, matched.VisitID)
		require.Equal(t, known.ID, *matched.VisitID)
		require.Equal(t, "https://shop.example/offer", matched.Attribution["landing_page"])
		require.Equal(t, "gclid-1", matched.Attribution["gclid"])
		require.NotNil(t, matched.MatchedAt)
		require.WithinDuration(t, matched.ReceivedAt, *matched.MatchedAt, time.Millisecond)
		repeat := byTx("T-1", conversion.StatusDUPLICATE)
		require.Nil(t, repeat.VisitID)
		require.Empty(t, repeat.Attribution)
		unknown := byTx("T-2", conversion.StatusRECEIVED)
		old := byTx("T-3", conversion.StatusRECEIVED)

		// The match jobs name the other two; the forward job plans the
		// matched one for the destination.
		rc := tb.collector.writer.river
		matchJobs, err := rc.JobList(ctx, river.NewJobListParams().Kinds(jobs.MatchBatchArgs{}.Kind()).First(10))
		require.NoError(t, err)
		var toMatch []string
		for _, j := range matchJobs.Jobs {
			var a jobs.MatchBatchArgs
			require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
			for _, c := range a.Conversions {
				toMatch = append(toMatch, c.ConversionID)
			}
		}
		require.ElementsMatch(t, []string{unknown.ID, old.ID}, toMatch)
		fwd, err := rc.JobList(ctx, river.NewJobListParams().Kinds(jobs.ForwardArgs{}.Kind()).First(10))
		require.NoError(t, err)
		require.Len(t, fwd.Jobs, 1)
		var a jobs.ForwardArgs
		require.NoError(t, json.Unmarshal(fwd.Jobs[0].EncodedArgs, &a))
		require.NotNil(t, a.Plan)
		require.Equal(t, []string{matched.ID}, a.Plan.Conversions)
		require.Len(t, a.Plan.Sends, 1)
		require.Equal(t, dst.ID, a.Plan.Sends[0].Destination)
		require.Equal(t, "Purchase", a.Plan.Sends[0].Event, "a postback with an amount is a purchase")
	})
}
