// Package migrations holds clickback's versioned schema, one folder of
// goose-format SQL files per dialect, generated from the ent schema by
// `go run ./migrations/gen NAME` and applied at start.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"entgo.io/ent/dialect"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// FS returns the migration files of a dialect.
func FS(d string) (fs.FS, error) {
	switch d {
	case dialect.SQLite:
		return fs.Sub(files, "sqlite")
	case dialect.Postgres:
		return fs.Sub(files, "postgres")
	}
	return nil, fmt.Errorf("no migrations for dialect %q", d)
}

// advisoryLockID keeps concurrent starts of several replicas from applying
// the same migration twice.
const advisoryLockID = 0x636c69636b6261

func provider(db *sql.DB, d string) (*goose.Provider, error) {
	fsys, err := FS(d)
	if err != nil {
		return nil, err
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if d == dialect.Postgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(advisoryLockID))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Apply runs every pending migration of the dialect on db.
func Apply(ctx context.Context, db *sql.DB, d string) error {
	p, err := provider(db, d)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Pending reports whether db lacks a migration of the dialect.
func Pending(ctx context.Context, db *sql.DB, d string) (bool, error) {
	p, err := provider(db, d)
	if err != nil {
		return false, err
	}
	pending, err := p.HasPending(ctx)
	if err != nil && !errors.Is(err, goose.ErrNoMigrations) {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	return pending, nil
}
