package visit

import (
	"context"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/tag"
	"github.com/clickback/clickback/viewer"
)

// TestPipelineAtomic: on PostgreSQL a batch's two statements go as one
// pipeline, an implicit transaction: when the TrackEvents' insert fails,
// the Clicks' upsert before it is rolled back too, and the committer can
// retry the batch's requests one by one without a half-written batch.
func TestPipelineAtomic(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.Postgres)
	sys := viewer.SystemContext(context.Background(), "")
	a, err := db.Ent.Account.Create().SetName("acme").SetKey("acme").Save(sys)
	require.NoError(t, err)
	p, err := db.Ent.Property.Create().SetName("shop").SetKey("prop-key").SetAccountID(a.ID).Save(sys)
	require.NoError(t, err)
	write := writePgx(db.Pool)
	batch := func(clickID, name string) []*Batch {
		return []*Batch{{AccountID: a.ID, PropertyID: p.ID, IP: "203.0.113.7", UserAgent: "Mozilla/5.0", Received: time.Now(),
			Events: []tag.Event{{Type: tag.Custom, Name: name, ClickID: clickID, URL: "https://shop.example/"}}}}
	}
	// PostgreSQL refuses NUL in text (the wire format never lets one
	// through; here it is the way to make the second statement fail).
	err = write(sys, batch("cb_atomic", "Sign\x00up"))
	require.ErrorContains(t, err, "SQLSTATE", "refused by PostgreSQL, not before sending")
	n, err := db.Ent.Click.Query().Where(click.ClickID("cb_atomic")).Count(viewer.SystemContext(context.Background(), a.ID))
	require.NoError(t, err)
	require.Zero(t, n, "the Click of a failed batch is not stored")

	require.NoError(t, write(sys, batch("cb_atomic", "Signup")))
	n, err = db.Ent.Click.Query().Where(click.ClickID("cb_atomic")).Count(viewer.SystemContext(context.Background(), a.ID))
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
