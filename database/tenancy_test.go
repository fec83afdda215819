package database_test

import (
	"context"
	"testing"

	"entgo.io/ent/privacy"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/property"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/viewer"
)

// TestTenancyRules exercises the ent privacy rules directly: they, not the
// resolvers, keep accounts apart, so code that forgets a filter cannot leak.
func TestTenancyRules(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		db := dbtest.Open(t, d)
		ctx := context.Background()
		sys := viewer.SystemContext(ctx, "")
		mkAccount := func(key string) *ent.Account {
			a, err := db.Ent.Account.Create().SetName(key).SetKey(key).Save(sys)
			require.NoError(t, err)
			return a
		}
		a, b := mkAccount("acct-a"), mkAccount("acct-b")
		asA := viewer.NewContext(ctx, viewer.Viewer{UserID: "usr_a", AccountID: a.ID, Role: viewer.RoleAdmin})
		asB := viewer.NewContext(ctx, viewer.Viewer{UserID: "usr_b", AccountID: b.ID, Role: viewer.RoleAdmin})

		// Creates are stamped with the viewer's account.
		pa, err := db.Ent.Property.Create().SetName("A").SetKey("prop-a").Save(asA)
		require.NoError(t, err)
		require.Equal(t, a.ID, pa.AccountID)
		_, err = db.Ent.Property.Create().SetName("B").SetKey("prop-b").Save(asB)
		require.NoError(t, err)

		t.Run("no viewer can do nothing", func(t *testing.T) {
			_, err := db.Ent.Property.Query().All(ctx)
			require.ErrorIs(t, err, privacy.Deny)
			_, err = db.Ent.Property.Create().SetName("x").SetKey("x").SetAccountID(a.ID).Save(ctx)
			require.ErrorIs(t, err, privacy.Deny)
			_, err = db.Ent.Property.Update().SetName("x").Save(ctx)
			require.ErrorIs(t, err, privacy.Deny)
		})
		t.Run("reads see one account", func(t *testing.T) {
			ps, err := db.Ent.Property.Query().All(asB)
			require.NoError(t, err)
			require.Len(t, ps, 1)
			require.Equal(t, "B", ps[0].Name)
			_, err = db.Ent.Property.Get(asB, pa.ID)
			require.True(t, ent.IsNotFound(err))
			n, err := db.Ent.Account.Query().Count(asB)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			// The system scoped to an account sees that account only.
			n, err = db.Ent.Property.Query().Count(viewer.SystemContext(ctx, a.ID))
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
		t.Run("writes stay in one account", func(t *testing.T) {
			n, err := db.Ent.Property.Update().Where(property.ID(pa.ID)).SetName("pwned").Save(asB)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = db.Ent.Property.Delete().Exec(asB)
			require.NoError(t, err)
			require.Equal(t, 1, n, "B deletes only its own property")
			got, err := db.Ent.Property.Get(asA, pa.ID)
			require.NoError(t, err)
			require.Equal(t, "A", got.Name)
			_, err = db.Ent.Property.Create().SetName("x").SetKey("x2").SetAccountID(a.ID).Save(asB)
			require.ErrorIs(t, err, privacy.Deny, "a row stamped with another account")
			_, err = db.Ent.Property.Create().SetName("x").SetKey("x3").SetAccountID(a.ID).Save(viewer.SystemContext(ctx, b.ID))
			require.ErrorIs(t, err, privacy.Deny, "the system scoped to B cannot write into A")
		})
		t.Run("viewers cannot write", func(t *testing.T) {
			ro := viewer.NewContext(ctx, viewer.Viewer{UserID: "usr_r", AccountID: a.ID, Role: viewer.RoleViewer})
			_, err := db.Ent.Property.Create().SetName("x").SetKey("x4").Save(ro)
			require.ErrorIs(t, err, privacy.Deny)
			n, err := db.Ent.Property.Query().Count(ro)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
	})
}
