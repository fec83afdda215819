package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// helperClusterDir, when set, makes TestEnsureHelperProcess start the cluster
// in that directory, as another test binary would.
const helperClusterDir = "PGTEST_HELPER_CLUSTER_DIR"

// privateCluster returns a fast cluster of the test's own in a new directory,
// stopped and removed when the test ends, to test what the shared one must
// not be put through.
func privateCluster(t *testing.T) *cluster {
	t.Helper()
	Require(t)
	bin, err := findBinaries()
	if err != nil {
		t.Skip("no local PostgreSQL binaries: " + err.Error())
	}
	parent, err := os.MkdirTemp("", "pgtest-cluster-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(parent, 0o755)) // the server's user must reach it
	cred, err := serverCredential()
	require.NoError(t, err)
	c := &cluster{bin: bin, dir: filepath.Join(parent, "cluster"), settings: clusterSettings(false), cred: cred}
	t.Cleanup(func() {
		require.NoError(t, c.stop())
		require.NoError(t, os.RemoveAll(parent))
	})
	return c
}

// ensure is c.ensure that fails the test on an error, and returns the pid of
// the running postmaster too.
func ensure(t *testing.T, c *cluster) (*url.URL, int) {
	t.Helper()
	u, err := c.ensure(t.Context())
	require.NoError(t, err)
	pid := c.postmasterPID()
	require.NotZero(t, pid)
	return u, pid
}

// query runs sql in the database db of the server at u and returns the first
// column of each row.
func query(t *testing.T, u *url.URL, db, sql string) []string {
	t.Helper()
	dbURL := *u
	dbURL.Path = "/" + db
	conn, err := pgx.Connect(t.Context(), dbURL.String())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), sql, pgx.QueryExecModeSimpleProtocol)
	require.NoError(t, err)
	values, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return values
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := privateCluster(t)

	// Started once, then reused.
	u, pid := ensure(t, c)
	require.Equal(t, []string{"off"}, query(t, u, "postgres", "SHOW fsync"))
	again, samePID := ensure(t, c)
	require.Equal(t, u.String(), again.String())
	require.Equal(t, pid, samePID)

	if c.cred != nil {
		info, err := os.Stat(c.path("data"))
		require.NoError(t, err)
		require.Equal(t, c.cred.Uid, info.Sys().(*syscall.Stat_t).Uid, "the data directory belongs to the server's user")
	}

	// A server that died is started again, on the same port, and drops the
	// test databases and unfinished templates left behind; finished templates
	// are kept.
	query(t, u, "postgres", "CREATE DATABASE pgtest_leftover")
	query(t, u, "postgres", "CREATE DATABASE pgtpl_unfinished")
	query(t, u, "postgres", "CREATE DATABASE pgtpl_finished IS_TEMPLATE true")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !c.isPostmaster(pid) }, 10*time.Second, pollInterval)

	restarted, newPID := ensure(t, c)
	require.NotEqual(t, pid, newPID)
	require.Equal(t, u.String(), restarted.String())
	require.Equal(t, []string{"pgtpl_finished"},
		query(t, u, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'pgt%' ORDER BY 1"))

	// New settings restart it.
	c.settings = append(slices.Clone(c.settings), "work_mem=8MB")
	_, pid = ensure(t, c)
	require.NotEqual(t, newPID, pid)
	require.Equal(t, []string{"8MB"}, query(t, u, "postgres", "SHOW work_mem"))

	// So is one whose password was lost, made anew.
	require.NoError(t, os.Remove(c.path("password")))
	renewed, renewedPID := ensure(t, c)
	require.NotEqual(t, pid, renewedPID)
	require.NotEqual(t, u.User.String(), renewed.User.String())
	u = renewed
	require.Equal(t, []string{"8MB"}, query(t, u, "postgres", "SHOW work_mem"))

	// A broken cluster is made anew.
	require.NoError(t, c.stop())
	require.NoError(t, os.Remove(filepath.Join(c.path("data"), "global", "pg_control")))
	u, _ = ensure(t, c)
	require.Empty(t, query(t, u, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'pgt%'"))

	// Test binaries that start at once start one server, which outlives them.
	require.NoError(t, c.stop())
	pids := make(chan string)
	for range 3 {
		go func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestEnsureHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperClusterDir+"="+c.dir)
			out, err := cmd.Output()
			pids <- fmt.Sprintf("%s %v", strings.TrimSpace(string(out)), err)
		}()
	}
	var got []string
	for range 3 {
		got = append(got, <-pids)
	}
	want := fmt.Sprintf("pid=%d <nil>", c.postmasterPID())
	require.Equal(t, []string{want, want, want}, got)

	// A test after the cluster was stopped (say by someone tidying up)
	// restarts it.
	srv, err := connectServer(t.Context(), u)
	require.NoError(t, err)
	defer srv.admin.Close()
	srv.cluster = c
	require.NoError(t, c.stop())
	t.Run("AfterStop", func(t *testing.T) {
		conn := connect(t, newDatabase(t, srv, ""))
		require.NoError(t, conn.Ping(t.Context()))
	})
	require.True(t, c.isPostmaster(c.postmasterPID()))
	require.True(t, c.isPostmaster(c.postmasterPID()))
}

// TestEnsureHelperProcess is a test binary of its own for TestCluster: it
// starts the cluster in PGTEST_HELPER_CLUSTER_DIR and prints its pid.
func TestEnsureHelperProcess(t *testing.T) {
	dir := os.Getenv(helperClusterDir)
	if dir == "" {
		return
	}
	bin, err := findBinaries()
	require.NoError(t, err)
	cred, err := serverCredential()
	require.NoError(t, err)
	c := &cluster{bin: bin, dir: dir, settings: clusterSettings(false), cred: cred}
	_, err = c.ensure(t.Context())
	require.NoError(t, err)
	fmt.Printf("pid=%d\n", c.postmasterPID())
	os.Exit(0) // print nothing more
}

func TestLookupBinaries(t *testing.T) {
	t.Parallel()
	root := t.TempDir()

	// fakeBinaries makes a directory of an initdb, and of a postgres that
	// says it is version, unless version is "".
	fakeBinaries := func(dir, version string) string {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, dir, "initdb"), []byte("#!/bin/sh\n"), 0o755))
		if version != "" {
			script := "#!/bin/sh\necho 'postgres (PostgreSQL) " + version + " (Debian)'\n"
			require.NoError(t, os.WriteFile(filepath.Join(root, dir, "postgres"), []byte(script), 0o755))
		}
		return filepath.Join(root, dir)
	}
	real := fakeBinaries("real/bin", "17.2")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "path"), 0o755))
	inPath := filepath.Join(root, "path", "initdb")
	require.NoError(t, os.Symlink(filepath.Join(real, "initdb"), inPath))
	fakeBinaries("lib/9/bin", "9.6.24")
	newest := fakeBinaries("lib/16/bin", "16.4")
	fakeBinaries("lib/13/bin", "13.16")
	fakeBinaries("lib/18/bin", "") // an initdb without its postgres
	debian := filepath.Join(root, "lib", "*", "bin")

	for _, tt := range []struct {
		name, initdb, pattern string
		want                  binaries
	}{
		{"PathFirstAfterSymlinks", inPath, debian, binaries{dir: real, major: "17"}},
		{"NewestDebianVersion", "", debian, binaries{dir: newest, major: "16"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := lookupBinariesFrom(tt.initdb, tt.pattern)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("None", func(t *testing.T) {
		t.Parallel()
		_, err := lookupBinariesFrom("", filepath.Join(root, "none", "*", "bin"))
		require.EqualError(t, err, unavailable)
	})
}

func TestTemplateEdgeCases(t *testing.T) {
	t.Parallel()
	Require(t)
	srv, err := servers[0]()
	require.NoError(t, err)

	t.Run("FailedPrepareIsNotRetried", func(t *testing.T) {
		t.Parallel()
		key := "pgtest failing " + randomHex(8)
		calls := 0
		failing := func(ctx context.Context, url string) error {
			calls++
			return fmt.Errorf("migration 3 failed")
		}
		for range 2 {
			_, err := srv.template(t.Context(), key, failing)
			require.ErrorContains(t, err, "migration 3 failed")
		}
		require.Equal(t, 1, calls)
		var exists bool
		require.NoError(t, srv.admin.QueryRow(t.Context(),
			"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", templateName(key)).Scan(&exists))
		require.False(t, exists, "the half-made template is dropped")
	})

	t.Run("UnfinishedTemplateIsRemade", func(t *testing.T) {
		t.Parallel()
		key := "pgtest unfinished " + randomHex(8)
		t.Cleanup(func() { dropTemplate(t, key) })

		// As left by a process that died preparing it.
		require.NoError(t, srv.createDatabase(t.Context(), templateName(key), ""))
		stale, err := pgx.Connect(t.Context(), srv.databaseURL(templateName(key)))
		require.NoError(t, err)
		_, err = stale.Exec(t.Context(), "CREATE TABLE stale (n int)")
		require.NoError(t, err)
		require.NoError(t, stale.Close(t.Context()))

		conn := connect(t, URLFromTemplate(t, key, func(ctx context.Context, url string) error {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "CREATE TABLE fresh (n int)")
			return err
		}))
		require.True(t, tableExists(t, conn, "fresh"))
		require.False(t, tableExists(t, conn, "stale"))
	})

	t.Run("KeyIsQuotedInComment", func(t *testing.T) {
		t.Parallel()
		key := "it's a key; DROP DATABASE postgres; -- " + randomHex(8)
		t.Cleanup(func() { dropTemplate(t, key) })
		URLFromTemplate(t, key, func(context.Context, string) error { return nil })
		var comment string
		require.NoError(t, srv.admin.QueryRow(t.Context(),
			"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", templateName(key)).Scan(&comment))
		require.Equal(t, "pgtest template for key "+key, comment)
	})
}

func TestEveryoneCanReach(t *testing.T) {
	t.Parallel()
	open := t.TempDir()
	require.NoError(t, os.Chmod(open, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(open), 0o755))
	require.True(t, everyoneCanReach(open))

	closed := filepath.Join(open, "closed")
	require.NoError(t, os.Mkdir(closed, 0o700))
	require.False(t, everyoneCanReach(filepath.Join(closed, "x")))
	require.False(t, everyoneCanReach(closed))
}
