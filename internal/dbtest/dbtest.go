// Package dbtest gives each test its own migrated clickback database, on
// SQLite or PostgreSQL, so that every suite runs on both.
package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/migrations"
)

// Dialects are the databases every suite runs on.
var Dialects = []string{dialect.SQLite, dialect.Postgres}

// Name is a short name of a dialect for subtest names.
func Name(d string) string {
	if d == dialect.SQLite {
		return "sqlite"
	}
	return "postgres"
}

// ForEach runs fn as a parallel subtest per dialect.
func ForEach(t *testing.T, fn func(t *testing.T, d string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(Name(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// URL returns a fresh, migrated database of dialect d for this test: a
// PostgreSQL URL, or the path of an SQLite file. PostgreSQL tests skip (or
// fail on CI) where PostgreSQL is not available.
func URL(tb testing.TB, d string) string {
	tb.Helper()
	if d == dialect.Postgres {
		return pgtest.URLFromTemplate(tb, "clickback "+schemaHash(tb), func(ctx context.Context, url string) error {
			db, err := database.OpenPostgres(ctx, url)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.Migrate(ctx)
		})
	}
	path := filepath.Join(tb.TempDir(), "clickback.db")
	if err := os.WriteFile(path, sqliteTemplate(tb), 0o600); err != nil {
		tb.Fatalf("copy sqlite template: %v", err)
	}
	return path
}

// Open returns a fresh, migrated database of dialect d, closed when the test
// ends.
func Open(tb testing.TB, d string) *database.DB {
	tb.Helper()
	url := URL(tb, d)
	var db *database.DB
	var err error
	if d == dialect.Postgres {
		db, err = database.OpenPostgres(context.Background(), url)
	} else {
		db, err = database.OpenSQLite(url)
	}
	if err != nil {
		tb.Fatalf("open %s: %v", d, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var (
	templateOnce  sync.Once
	templateBytes []byte
	templateErr   error
)

// sqliteTemplate is a migrated SQLite file, made once per test binary and
// copied for each test (migrating from scratch costs more than copying).
func sqliteTemplate(tb testing.TB) []byte {
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "clickback-dbtest")
		if err != nil {
			templateErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "template.db")
		db, err := database.OpenSQLite(path)
		if err != nil {
			templateErr = err
			return
		}
		if err := db.Migrate(context.Background()); err != nil {
			db.Close()
			templateErr = err
			return
		}
		// Fold the WAL into the file, so that the file alone is the database.
		if _, err := db.SQL.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			db.Close()
			templateErr = err
			return
		}
		db.Close()
		templateBytes, templateErr = os.ReadFile(path)
	})
	if templateErr != nil {
		tb.Fatalf("sqlite template: %v", templateErr)
	}
	return templateBytes
}

// schemaHash identifies the migrations, so that a changed schema gets a
// new PostgreSQL template.
func schemaHash(tb testing.TB) string {
	h := sha256.New()
	fsys, err := migrations.FS(dialect.Postgres)
	if err != nil {
		tb.Fatal(err)
	}
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	// River's own tables come with its version.
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if strings.HasPrefix(m.Path, "github.com/riverqueue/river") {
				h.Write([]byte(m.Path + "@" + m.Version))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
