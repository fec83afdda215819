package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"

	"entgo.io/ent/dialect"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/migrations/internal/migrationgen"
)

// TestMigrationsMatchSchema fails when the ent schema and the committed
// migration files disagree: regenerate them with `go run ./migrations/gen NAME`.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(file)
	for d, folder := range migrationgen.Dialects {
		t.Run(folder, func(t *testing.T) {
			t.Parallel()
			var dev *sql.DB
			var err error
			if d == dialect.Postgres {
				dev, err = sql.Open("pgx", pgtest.URL(t))
			} else {
				dev, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "dev.db")+"?_pragma=foreign_keys(1)")
				dev.SetMaxOpenConns(1)
			}
			require.NoError(t, err)
			defer dev.Close()
			dir, err := migrationgen.CopyDir(filepath.Join(root, folder), t.TempDir())
			require.NoError(t, err)
			wrote, err := migrationgen.Generate(context.Background(), dev, d, dir, "drift")
			require.NoError(t, err)
			require.False(t, wrote, "the %s migrations do not build the ent schema: run `go run ./migrations/gen NAME`", folder)
		})
	}
}
