// Package migrationgen writes a new versioned migration when the ent schema
// differs from what the migration files of a dialect build, and tells
// whether it does.
package migrationgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlas "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/clickback/clickback/ent"
)

// Generate replays the migration files in dir on dev — an empty database
// of dialect d — compares the result with the ent schema and, when they
// differ, writes a new goose migration named name into dir. It reports
// whether it wrote one.
func Generate(ctx context.Context, dev *sql.DB, d, dir, name string) (bool, error) {
	gdir, err := sqltool.NewGooseDir(dir)
	if err != nil {
		return false, fmt.Errorf("open migration folder %s: %w", dir, err)
	}
	before, err := count(dir)
	if err != nil {
		return false, err
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(d, dev)))
	opts := []schema.MigrateOption{
		schema.WithDir(gdir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(d),
		schema.WithFormatter(sqltool.GooseFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	}
	if d == dialect.Postgres {
		opts = append(opts, schema.WithDiffHook(withoutAccountForeignKeys))
	}
	err = client.Schema.NamedDiff(ctx, name, opts...)
	if err != nil && !errors.Is(err, atlasmigrate.ErrNoPlan) {
		return false, fmt.Errorf("diff ent schema against %s: %w", dir, err)
	}
	after, err := count(dir)
	if err != nil {
		return false, err
	}
	return after > before, nil
}

// perRequestTables are the tables the hot paths write a row into for every
// postback, tag event or delivery.
var perRequestTables = map[string]bool{"conversions": true, "deliveries": true, "clicks": true, "track_events": true}

// withoutAccountForeignKeys leaves out of the migrations the foreign keys
// from perRequestTables to accounts that ent derives from their account
// edges. Accounts are never deleted, so those keys guard nothing, and each
// costs a trigger running a SELECT … FOR KEY SHARE on the account row per
// inserted row: 12% of PostgreSQL's time on a batch of conversions
// (pgbench, 256-row batches, 4 clients). Rows get their account id from
// the account the request was authenticated for; the edges stay, for
// ent's queries. SQLite keeps them: its checks are cheap, and dropping a
// key there means rebuilding the table.
func withoutAccountForeignKeys(next schema.Differ) schema.Differ {
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		for _, t := range desired.Tables {
			if !perRequestTables[t.Name] {
				continue
			}
			kept := t.ForeignKeys[:0]
			for _, fk := range t.ForeignKeys {
				if fk.RefTable == nil || fk.RefTable.Name != "accounts" {
					kept = append(kept, fk)
				}
			}
			t.ForeignKeys = kept
		}
		return next.Diff(current, desired)
	})
}

func count(dir string) (int, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", dir, err)
	}
	return len(m), nil
}

// Dialects lists the dialects with a migration folder, by folder name.
var Dialects = map[string]string{dialect.SQLite: "sqlite", dialect.Postgres: "postgres"}

// CopyDir copies the migration files of src into a new folder under tmp, so
// that a check can run Generate without touching the committed files.
func CopyDir(src, tmp string) (string, error) {
	dst, err := os.MkdirTemp(tmp, "migrations")
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	return dst, nil
}
