// Command gen writes a new versioned migration for each dialect whose
// migration files no longer build the ent schema:
//
//	go run ./migrations/gen NAME
//
// SQLite migrations are computed on an in-memory database. PostgreSQL ones
// need an empty scratch database: the one at CLICKBACK_DEV_DATABASE_URL, or
// a throwaway one from the local PostgreSQL binaries (as the tests use).
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"entgo.io/ent/dialect"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/migrations/internal/migrationgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./migrations/gen NAME")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		slog.Error("generate migrations", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))

	lite, err := sql.Open("sqlite", "file:migrationgen?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		return err
	}
	defer lite.Close()
	lite.SetMaxOpenConns(1)
	if err := generate(ctx, lite, dialect.SQLite, filepath.Join(root, "sqlite"), name); err != nil {
		return err
	}

	url := os.Getenv("CLICKBACK_DEV_DATABASE_URL")
	if url == "" {
		var drop func()
		if url, drop, err = pgtest.Scratch(ctx); err != nil {
			return fmt.Errorf("scratch postgres database (or set CLICKBACK_DEV_DATABASE_URL): %w", err)
		}
		defer drop()
	}
	pg, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer pg.Close()
	return generate(ctx, pg, dialect.Postgres, filepath.Join(root, "postgres"), name)
}

func generate(ctx context.Context, dev *sql.DB, d, dir, name string) error {
	wrote, err := migrationgen.Generate(ctx, dev, d, dir, name)
	if err != nil {
		return err
	}
	if wrote {
		slog.Info("wrote migration", "dialect", d, "dir", dir, "name", name)
	} else {
		slog.Info("no schema change", "dialect", d)
	}
	return nil
}
