// Package database opens clickback's one *sql.DB — SQLite in the data folder
// by default, PostgreSQL with DATABASE_URL — and the ent client that shares
// it with River, and brings both schemas up to date.
package database

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	_ "github.com/clickback/clickback/audit" // the audit log's writer
	"github.com/clickback/clickback/ent"
	_ "github.com/clickback/clickback/ent/runtime" // schema hooks and privacy policies
	"github.com/clickback/clickback/migrations"
)

// DB is the database of one process: the shared *sql.DB, the ent client on
// it and, on PostgreSQL, the pgx pool behind it.
type DB struct {
	SQL     *sql.DB
	Ent     *ent.Client
	Dialect string // dialect.SQLite or dialect.Postgres
	// Pool is the pgx pool under SQL on PostgreSQL (nil on SQLite), for
	// COPY and LISTEN/NOTIFY.
	Pool *pgxpool.Pool
	// path is the SQLite database file ("" on PostgreSQL), whose
	// filesystem Ready checks for room; minFree is that room (zero means
	// minFreeSpace).
	path    string
	minFree uint64
}

// minFreeSpace is the room an SQLite database needs on its filesystem to
// be ready: below it, commits (which grow the WAL) fail with "database or
// disk is full".
const minFreeSpace = 1 << 20

// OpenSQLite opens (creating if needed) the SQLite database file at path.
//
// SQLite allows one writer at a time, so the pool holds one connection:
// inside a transaction, use only the transaction's client, or the process
// waits on itself. WAL lets readers of other processes (backups, the sqlite3
// shell) work beside it; synchronous=FULL makes every commit durable before
// clickback acknowledges what it wrote.
func OpenSQLite(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database folder: %w", err)
	}
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{
		SQL:     db,
		Ent:     ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db))),
		Dialect: dialect.SQLite,
		path:    path,
	}, nil
}

// OpenPostgres connects to the PostgreSQL database at url through a pgx pool
// exposed as a *sql.DB.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.MaxConns < 20 {
		cfg.MaxConns = 20
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return &DB{
		SQL:     db,
		Ent:     ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db))),
		Dialect: dialect.Postgres,
		Pool:    pool,
	}, nil
}

// Open opens the database the configuration names: PostgreSQL when url is
// set, else SQLite at sqlitePath.
func Open(ctx context.Context, url, sqlitePath string) (*DB, error) {
	if url != "" {
		return OpenPostgres(ctx, url)
	}
	return OpenSQLite(sqlitePath)
}

// Close closes the ent client, the *sql.DB and the pool.
func (db *DB) Close() error {
	err := db.Ent.Close()
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// RiverDriver returns the River driver over the shared *sql.DB. On
// PostgreSQL it listens for new jobs through the pgx pool, so workers pick
// them up at once rather than on the next poll.
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if db.Dialect == dialect.Postgres {
		return riverdatabasesql.NewWithPgxListener(db.SQL, db.Pool)
	}
	return riversqlite.New(db.SQL)
}

// Migrate brings clickback's tables (migrations/) and River's up to date.
// It is safe to run from several processes at once on PostgreSQL: goose
// takes an advisory lock.
func (db *DB) Migrate(ctx context.Context) error {
	if err := migrations.Apply(ctx, db.SQL, db.Dialect); err != nil {
		return err
	}
	migrator, err := rivermigrate.New(db.RiverDriver(), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river tables: %w", err)
	}
	return nil
}

// ErrNotMigrated is returned by Ready when the schema is behind the binary.
var ErrNotMigrated = errors.New("database schema is not up to date")

// ErrDiskFull is returned by Ready when the filesystem of the SQLite
// database has no room left for commits.
var ErrDiskFull = errors.New("no space left for the database")

// Ready reports whether the database answers, its schema is current and,
// on SQLite, its filesystem has room for writes: a full disk fails every
// commit while reads (and a ping) still work.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if db.path != "" {
		left, err := spaceLeft(filepath.Dir(db.path))
		if err != nil {
			return err
		}
		if left < cmp.Or(db.minFree, minFreeSpace) {
			return fmt.Errorf("%w: %d bytes free on the filesystem of %s", ErrDiskFull, left, db.path)
		}
	}
	pending, err := migrations.Pending(ctx, db.SQL, db.Dialect)
	if err != nil {
		return err
	}
	if pending {
		return ErrNotMigrated
	}
	return nil
}
