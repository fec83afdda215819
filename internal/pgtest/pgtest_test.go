package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// connect opens a connection to url for the rest of the test.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// databaseExists asks the server behind conn whether the database name exists.
func databaseExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var exists bool
	err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	require.NoError(t, err)
	return exists
}

// tableExists reports whether the table name exists in conn's database.
func tableExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var exists bool
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists))
	return exists
}

func TestURL(t *testing.T) {
	t.Parallel()

	t.Run("NewDatabaseIsEmpty", func(t *testing.T) {
		t.Parallel()
		conn := connect(t, URL(t))

		var name, encoding, collation string
		var tables int
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT current_database(), pg_encoding_to_char(encoding), datcollate,
			(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')
			FROM pg_database WHERE datname = current_database()`).Scan(&name, &encoding, &collation, &tables))
		require.True(t, strings.HasPrefix(name, "pgtest_testurl_newdatabaseisempty_"), name)
		require.Equal(t, "UTF8", encoding)
		require.Equal(t, "C", collation)
		require.Zero(t, tables)
	})

	t.Run("DatabasesAreIsolated", func(t *testing.T) {
		t.Parallel()
		a, b := URL(t), URL(t)
		require.NotEqual(t, a, b)
		connA, connB := connect(t, a), connect(t, b)

		_, err := connA.Exec(t.Context(), "CREATE TABLE clicks (id text PRIMARY KEY)")
		require.NoError(t, err)
		require.True(t, tableExists(t, connA, "clicks"))
		require.False(t, tableExists(t, connB, "clicks"))
	})

	t.Run("DroppedWhenTestEnds", func(t *testing.T) {
		t.Parallel()
		conn := connect(t, URL(t))

		var name string
		// Not parallel, so that its cleanup has run when t.Run returns.
		t.Run("Inner", func(t *testing.T) {
			inner := connect(t, URL(t)) // left open: the drop must close it
			require.NoError(t, inner.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
			require.True(t, databaseExists(t, conn, name))
		})
		require.NotEmpty(t, name)
		require.False(t, databaseExists(t, conn, name))
	})

	t.Run("ManyParallelTests", func(t *testing.T) {
		t.Parallel()
		for i := range 16 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn := connect(t, URL(t))
				_, err := conn.Exec(t.Context(), "CREATE TABLE t (n int); INSERT INTO t VALUES (1)")
				require.NoError(t, err)
				var count int
				require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM t").Scan(&count))
				require.Equal(t, 1, count)
			})
		}
	})
}

func TestDurableURL(t *testing.T) {
	t.Parallel()
	if os.Getenv(EnvURL) != "" {
		t.Skip("with " + EnvURL + " set, durability is that server's")
	}

	for _, tt := range []struct {
		name string
		url  func(testing.TB) string
		want string
	}{
		{"Fast", URL, "off"},
		{"Durable", DurableURL, "on"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := connect(t, tt.url(t))
			for _, setting := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
				var value string
				require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_setting($1)", setting).Scan(&value))
				require.Equal(t, tt.want, value, setting)
			}
		})
	}
}

func TestURLFromTemplate(t *testing.T) {
	t.Parallel()

	// A key of its own, so that this run prepares its template, and a
	// cleanup that drops it, so that runs leave no templates behind.
	key := "pgtest TestURLFromTemplate " + randomHex(8)
	t.Cleanup(func() { dropTemplate(t, key) })

	var prepared atomic.Int32
	prepare := func(ctx context.Context, url string) error {
		prepared.Add(1)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		// Left open on purpose: a template must be copyable all the same.
		_, err = conn.Exec(ctx, "CREATE TABLE accounts (name text PRIMARY KEY); INSERT INTO accounts VALUES ('seed')")
		return err
	}

	t.Run("Copies", func(t *testing.T) {
		t.Parallel()
		for i := range 8 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn := connect(t, URLFromTemplate(t, key, prepare))

				// Each copy starts from the template and changes only itself.
				_, err := conn.Exec(t.Context(), "INSERT INTO accounts VALUES ($1)", t.Name())
				require.NoError(t, err)
				rows, err := conn.Query(t.Context(), "SELECT name FROM accounts")
				require.NoError(t, err)
				names, err := pgx.CollectRows(rows, pgx.RowTo[string])
				require.NoError(t, err)
				require.ElementsMatch(t, []string{"seed", t.Name()}, names)
			})
		}
	})
	t.Cleanup(func() { require.Equal(t, int32(1), prepared.Load(), "prepare ran more than once") })
}

// dropTemplate drops the template of key in the fast server.
func dropTemplate(t *testing.T, key string) {
	t.Helper()
	srv, err := servers[0]()
	require.NoError(t, err)
	name := templateName(key)
	_, err = srv.admin.Exec(context.Background(), "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE false")
	require.NoError(t, err)
	require.NoError(t, srv.dropDatabase(context.Background(), name))
}

// fakeTB records what skipUnless asked of it.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skip(args ...any)      { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatal(args ...any)     { f.failed = fmt.Sprint(args...) }
func (f *fakeTB) Logf(string, ...any)   {}
func (f *fakeTB) Errorf(string, ...any) {}

func TestRequire(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name            string
		ok, ci          bool
		skipped, failed string
	}{
		{name: "Available", ok: true, ci: true},
		{name: "UnavailableSkips", skipped: unavailable},
		{name: "UnavailableFailsOnCI", ci: true, failed: unavailable + " (CI=true, so this fails instead of skipping)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			why := ""
			if !tt.ok {
				why = unavailable
			}
			tb := &fakeTB{TB: t}
			skipUnless(tb, tt.ok, why, tt.ci)
			require.Equal(t, tt.skipped, tb.skipped)
			require.Equal(t, tt.failed, tb.failed)
		})
	}

	t.Run("Message", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "PostgreSQL not available: no initdb in PATH or /usr/lib/postgresql/*/bin; set CLICKBACK_TEST_DATABASE_URL", unavailable)
	})
}

func TestDatabaseName(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ test, prefix string }{
		{"TestX", "pgtest_testx_"},
		{"TestURL/Sub-test #1", "pgtest_testurl_sub_test__1_"},
		{strings.Repeat("TestVeryLong", 10), "pgtest_" + strings.Repeat("testverylong", 10)[:40] + "_"},
	} {
		name := databaseName(tt.test)
		require.True(t, strings.HasPrefix(name, tt.prefix), name)
		require.LessOrEqual(t, len(name), 63, name)
		require.NotEqual(t, name, databaseName(tt.test))
	}
}

func TestScratch(t *testing.T) {
	t.Parallel()
	Require(t)

	url, drop, err := Scratch(t.Context())
	require.NoError(t, err)
	conn := connect(t, url)
	var name string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
	require.True(t, strings.HasPrefix(name, "pgtest_scratch_"), name)
	require.NoError(t, conn.Close(t.Context()))

	drop()
	admin := connect(t, URL(t))
	require.False(t, databaseExists(t, admin, name))
}
