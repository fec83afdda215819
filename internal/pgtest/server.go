package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// server is a PostgreSQL server that pgtest makes databases in: a cluster of
// its own or the one CLICKBACK_TEST_DATABASE_URL names.
type server struct {
	// base is the URL of the maintenance database; a database's URL is base
	// with its path replaced.
	base *url.URL
	// admin is connected to the maintenance database, to create and drop the
	// others.
	admin *pgxpool.Pool

	// strategy is how CREATE DATABASE copies: "" for the server's default.
	strategy string
	// cluster is the local cluster the server is, or nil.
	cluster *cluster

	mu        sync.Mutex
	templates map[string]*templateState
}

// templateState is what this process knows of one template. Its mutex keeps
// the tests of one process from all waiting on the server's lock at once.
type templateState struct {
	mu    sync.Mutex
	ready bool
	err   error
}

// openServer returns the server from CLICKBACK_TEST_DATABASE_URL, or else
// starts (or finds running) the local cluster, durable or fast.
func openServer(durable bool) (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout+initdbTimeout)
	defer cancel()

	if raw := os.Getenv(EnvURL); raw != "" {
		base, err := url.Parse(raw)
		if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
			return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
		}
		return connectServer(ctx, base)
	}

	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c, err := newCluster(bin, durable)
	if err != nil {
		return nil, err
	}
	base, err := c.ensure(ctx)
	if err != nil {
		return nil, fmt.Errorf("error starting the PostgreSQL test cluster in %s: %w", c.dir, err)
	}
	srv, err := connectServer(ctx, base)
	if err != nil {
		return nil, err
	}
	srv.cluster = c
	return srv, nil
}

// revive makes sure that the local cluster runs, where it did, after an error
// that may mean it stopped (whoever stopped it).
func (s *server) revive(ctx context.Context) error {
	base, err := s.cluster.ensure(ctx)
	if err != nil {
		return err
	}
	if base.String() != s.base.String() {
		return fmt.Errorf("the cluster now runs at %s, not %s", base.Redacted(), s.base.Redacted())
	}
	s.admin.Reset() // its connections are to the server that stopped
	return nil
}

// connectServer connects to the maintenance database at base.
func connectServer(ctx context.Context, base *url.URL) (*server, error) {
	config, err := pgxpool.ParseConfig(base.String())
	if err != nil {
		return nil, fmt.Errorf("error parsing the PostgreSQL URL: %w", err)
	}
	config.MaxConns = 8
	admin, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("error connecting to PostgreSQL at %s: %w", base.Redacted(), err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("error connecting to PostgreSQL at %s: %w", base.Redacted(), err)
	}
	strategy, err := copyStrategy(ctx, admin)
	if err != nil {
		admin.Close()
		return nil, err
	}
	return &server{base: base, admin: admin, strategy: strategy, templates: map[string]*templateState{}}, nil
}

// copyStrategy chooses how CREATE DATABASE copies its template. Since
// PostgreSQL 15 it writes the copy through the WAL by default, which takes
// several times as long for a migrated template as copying the files (120 ms
// against 20 ms, measured for 40 tables) but spares the two checkpoints of a
// file copy, which cost more than that where fsync is on.
func copyStrategy(ctx context.Context, admin *pgxpool.Pool) (string, error) {
	var version int
	var fsync string
	err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('fsync')").Scan(&version, &fsync)
	if err != nil {
		return "", fmt.Errorf("error reading the server's settings: %w", err)
	}
	if version >= 150000 && fsync == "off" {
		return "FILE_COPY", nil
	}
	return "", nil
}

// databaseURL returns the URL of the database name.
func (s *server) databaseURL(name string) string {
	u := *s.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// createDatabase creates the database name, a copy of template, or empty when
// template is "". An empty one is made from template0, not template1, so that
// it is empty whatever the server's template1 holds, and so that it does not
// fail while someone is connected to template1.
func (s *server) createDatabase(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + ident(name)
	if template == "" {
		sql += " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
	} else {
		sql += " TEMPLATE " + ident(template)
	}
	if s.strategy != "" {
		sql += " STRATEGY " + s.strategy
	}
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("error creating database %s: %w", name, err)
	}
	return nil
}

// create is createDatabase, but should that fail on a cluster of pgtest's
// own, which may have been stopped since it was last used, it checks the
// cluster (which restarts it if need be) and tries once more.
func (s *server) create(ctx context.Context, name, template string) error {
	err := s.createDatabase(ctx, name, template)
	if err == nil || s.cluster == nil {
		return err
	}
	if reviveErr := s.revive(ctx); reviveErr != nil {
		return fmt.Errorf("%w; then, checking the cluster: %w", err, reviveErr)
	}
	return s.createDatabase(ctx, name, template)
}

// dropDatabase drops the database name, closing the connections still open to
// it.
func (s *server) dropDatabase(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("error dropping database %s: %w", name, err)
	}
	return nil
}

// template returns the name of the template database for key, preparing it
// first if no process has yet. A template is finished when it is marked
// IS_TEMPLATE; one that is not, left by a process that died preparing it, is
// dropped and made again.
func (s *server) template(ctx context.Context, key string, prepare func(ctx context.Context, url string) error) (string, error) {
	name := templateName(key)

	s.mu.Lock()
	state := s.templates[key]
	if state == nil {
		state = &templateState{}
		s.templates[key] = state
	}
	s.mu.Unlock()

	state.mu.Lock()
	defer state.mu.Unlock()
	if state.ready || state.err != nil {
		return name, state.err
	}

	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("error connecting to PostgreSQL: %w", err)
	}
	defer conn.Release()

	// A session lock, on this connection, so that one process of all those
	// sharing the server prepares the template and the others wait for it.
	sum := sha256.Sum256([]byte("clickback pgtest template " + key))
	lock := int64(binary.BigEndian.Uint64(sum[:8]))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		return "", fmt.Errorf("error waiting for the template lock: %w", err)
	}
	defer func() {
		// Should this fail, the connection is broken, and PostgreSQL releases
		// the lock with the session.
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lock)
	}()

	var isTemplate bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&isTemplate)
	switch {
	case err == nil && isTemplate:
		state.ready = true
		return name, nil
	case err == nil:
		if err := s.dropDatabase(ctx, name); err != nil {
			return "", fmt.Errorf("error dropping an unfinished template: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("error looking up template database %s: %w", name, err)
	}

	if err := s.prepareTemplate(ctx, conn.Conn(), name, key, prepare); err != nil {
		state.err = err
		return "", err
	}
	state.ready = true
	return name, nil
}

// prepareTemplate creates the template database name, runs prepare on it,
// then closes it to connections and marks it a template, which says it is
// finished. It drops what it made when anything fails.
func (s *server) prepareTemplate(ctx context.Context, conn *pgx.Conn, name, key string, prepare func(ctx context.Context, url string) error) (err error) {
	if err := s.createDatabase(ctx, name, ""); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			dropCtx, cancel := context.WithTimeout(context.Background(), dropTimeout)
			defer cancel()
			_ = s.dropDatabase(dropCtx, name)
		}
	}()

	if err := prepare(ctx, s.databaseURL(name)); err != nil {
		return fmt.Errorf("error preparing the template: %w", err)
	}

	// Copying a database fails while anyone is connected to it, so no one may
	// connect from now on, and whoever prepare left connected is sent away.
	for _, sql := range []string{
		"ALTER DATABASE " + ident(name) + " WITH ALLOW_CONNECTIONS false",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + literal(name),
		"COMMENT ON DATABASE " + ident(name) + " IS " + literal("pgtest template for key "+key),
		"ALTER DATABASE " + ident(name) + " WITH IS_TEMPLATE true",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("error finishing template database %s: %w", name, err)
		}
	}
	return nil
}

// ident quotes an SQL identifier.
func ident(name string) string {
	return pgx.Identifier{name}.Sanitize()
}

// literal quotes an SQL string literal, for the statements that take no
// parameters.
func literal(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), "'", "''") + "'"
}
