// Package pgtest gives tests throwaway PostgreSQL databases.
//
// Every call to URL returns the URL of a brand-new, empty database of the
// calling test, dropped when the test ends. The databases live in one server
// that all the test binaries of a `go test ./...` run share, so PostgreSQL is
// started at most once per machine and user, not once per package or test:
//
//   - With CLICKBACK_TEST_DATABASE_URL set to a postgres:// URL of a role that
//     may create databases, the databases are created in that server (version
//     13 or later).
//   - Otherwise pgtest runs a cluster of its own from the local initdb and
//     postgres binaries: the ones in PATH, else the newest
//     /usr/lib/postgresql/*/bin. It lives in
//     os.TempDir()/clickback-pgtest-<major version>-<user>, stays up after the
//     tests end, and is reused by later runs after a health check; a dead one
//     is restarted, a broken one made anew. PostgreSQL refuses to run as
//     root, so as root pgtest runs it as the "postgres" system user, or as
//     nobody where there is none. It listens on 127.0.0.1 only, and TCP
//     connections need the password kept in that directory (the URLs carry
//     it). To be rid of it, stop it (pg_ctl -D <dir>/data stop, as its user)
//     and remove the directory.
//
// That local cluster trades durability for speed: fsync, synchronous_commit
// and full_page_writes are off. That is right for data that lives for one test
// and wrong for a test that measures what a write costs: DurableURL gives a
// database in a second cluster that keeps PostgreSQL's default durability.
//
// URLFromTemplate copies a database prepared (say, migrated) once per key, which
// is much faster than preparing every test's database.
//
// Where neither the variable nor the binaries exist, tests skip with a message
// that says how to get PostgreSQL, except when CI=true: CI must run every test
// for real, so there they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvURL names the environment variable that points the tests at an existing
// PostgreSQL server instead of a cluster of pgtest's own.
const EnvURL = "CLICKBACK_TEST_DATABASE_URL"

// unavailable is what a test says when it skips for want of PostgreSQL.
const unavailable = "PostgreSQL not available: no initdb in PATH or /usr/lib/postgresql/*/bin; set " + EnvURL

// Name prefixes of the databases pgtest makes. Test databases left behind by a
// killed test binary are dropped when their cluster is next started; templates
// are kept, since they are a cache.
const (
	testPrefix     = "pgtest_"
	templatePrefix = "pgtpl_"
)

// Timeouts of the work pgtest does for a test, beyond which something is
// wrong with the server rather than slow.
const (
	createTimeout  = time.Minute
	dropTimeout    = 30 * time.Second
	prepareTimeout = 5 * time.Minute
)

// Available reports whether tests can have a PostgreSQL database here, and
// either where it comes from or, when they cannot, why not. It finds the
// binaries but starts nothing.
func Available() (bool, string) {
	if raw := os.Getenv(EnvURL); raw != "" {
		return true, "PostgreSQL server from " + EnvURL
	}
	bin, err := findBinaries()
	if err != nil {
		return false, unavailable
	}
	return true, "PostgreSQL " + bin.major + " binaries in " + bin.dir
}

// Require skips the test when no PostgreSQL can be had, with a message that
// says how to get one. When CI=true it fails the test instead: a CI run that
// skips the database tests would pass without testing anything. URL,
// DurableURL and URLFromTemplate call it, so a test needs it only to skip
// before work of its own.
func Require(tb testing.TB) {
	tb.Helper()
	ok, why := Available()
	skipUnless(tb, ok, why, os.Getenv("CI") == "true")
}

// skipUnless is Require given what Available said and whether this is CI.
func skipUnless(tb testing.TB, ok bool, why string, ci bool) {
	tb.Helper()
	switch {
	case ok:
	case ci:
		tb.Fatal(why + " (CI=true, so this fails instead of skipping)")
	default:
		tb.Skip(why)
	}
}

// URL returns the URL of a new, empty database for this test, with UTF8
// encoding and the C collation, in the shared fast cluster (or the server of
// CLICKBACK_TEST_DATABASE_URL). The database is dropped when the test ends,
// connections and all; a failure to drop is only logged.
func URL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, serverFor(tb, false), "")
}

// DurableURL is URL on a cluster that keeps PostgreSQL's default durability
// settings (fsync, synchronous_commit and full_page_writes on), for load tests
// whose numbers must mean what they would in production. It is a separate
// cluster, started on first use like the fast one. With
// CLICKBACK_TEST_DATABASE_URL set it is the same as URL: that server's
// settings are its operator's.
func DurableURL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, serverFor(tb, true), "")
}

// URLFromTemplate returns the URL of a new database for this test that is a
// copy of a template database made by prepare, dropped when the test ends like
// URL's.
//
// The template is prepared once per key in each server, however many test
// binaries ask for it at once (they wait on a lock in the server), and is kept
// across runs: the key must change whenever what prepare does changes, so it
// should hold a hash of, say, the migration files. Templates of old keys stay
// until their cluster is removed; each is only as big as its schema.
//
// prepare gets the URL of the template-to-be. It should close the connections
// it opens; any still open when it returns are closed by force, since nobody
// may be connected to a template while it is copied. When prepare fails, the
// half-made template is dropped and every test of the process that asks for
// the same key fails with that error. A database test helper would say:
//
//	url := pgtest.URLFromTemplate(t, "clickback migrations "+migrationsHash, func(ctx context.Context, url string) error {
//		return migrate(ctx, url)
//	})
func URLFromTemplate(tb testing.TB, key string, prepare func(ctx context.Context, url string) error) string {
	tb.Helper()
	srv := serverFor(tb, false)
	ctx, cancel := context.WithTimeout(tb.Context(), prepareTimeout)
	defer cancel()
	template, err := srv.template(ctx, key, prepare)
	if err != nil {
		tb.Fatalf("pgtest: template %q: %v", key, err)
	}
	return newDatabase(tb, srv, template)
}

// servers are the fast and the durable server, each opened (and its cluster
// started) by the first test that needs it; a failure is kept, so every later
// test fails at once with the same error.
var servers = [2]func() (*server, error){
	sync.OnceValues(func() (*server, error) { return openServer(false) }),
	sync.OnceValues(func() (*server, error) { return openServer(true) }),
}

// serverFor returns the server for tb, skipping or failing tb when there is
// none.
func serverFor(tb testing.TB, durable bool) *server {
	tb.Helper()
	Require(tb)
	i := 0
	if durable {
		i = 1
	}
	srv, err := servers[i]()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return srv
}

// newDatabase creates a database for tb, empty or copied from template, and
// drops it when tb ends.
func newDatabase(tb testing.TB, srv *server, template string) string {
	tb.Helper()
	name := databaseName(tb.Name())
	ctx, cancel := context.WithTimeout(tb.Context(), createTimeout)
	defer cancel()
	if err := srv.create(ctx, name, template); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		if err := srv.dropDatabase(ctx, name); err != nil {
			tb.Logf("pgtest: %v", err)
		}
	})
	return srv.databaseURL(name)
}

// databaseName makes a unique database name that tells which test it is for,
// within PostgreSQL's 63 bytes.
func databaseName(testName string) string {
	const maxTestPart = 40
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() == maxTestPart {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return testPrefix + b.String() + "_" + randomHex(6)
}

// templateName is the database name of the template for key: the same in
// every process, and safe whatever the key holds.
func templateName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return templatePrefix + hex.EncodeToString(sum[:12])
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	return hex.EncodeToString(b)
}
