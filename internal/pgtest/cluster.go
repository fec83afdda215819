package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Timeouts of the cluster's life, beyond which something is wrong with it
// rather than slow.
const (
	initdbTimeout = 2 * time.Minute
	startTimeout  = time.Minute
	pollInterval  = 50 * time.Millisecond
	portWait      = 5 * time.Second
)

// superuser is the cluster's superuser role, which the tests connect as.
const superuser = "postgres"

// binaries are the PostgreSQL server programs that a local cluster runs.
type binaries struct {
	dir   string // holds initdb and postgres
	major string // their major version, such as "15"
}

// findBinaries looks for the PostgreSQL server programs once per process.
var findBinaries = sync.OnceValues(lookupBinaries)

// lookupBinaries finds the directory that holds both initdb and postgres:
// initdb's in PATH (after symlinks, since Debian links only some programs into
// PATH), else the newest of /usr/lib/postgresql/*/bin, where Debian's
// packages put them.
func lookupBinaries() (binaries, error) {
	initdb, _ := exec.LookPath("initdb")
	return lookupBinariesFrom(initdb, "/usr/lib/postgresql/*/bin")
}

// lookupBinariesFrom is lookupBinaries given initdb's path in PATH ("" when
// it is not there) and the pattern of Debian's binary directories.
func lookupBinariesFrom(initdb, debianPattern string) (binaries, error) {
	var dirs []string
	if initdb != "" {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(initdb))
	}
	debian, _ := filepath.Glob(debianPattern)
	slices.SortFunc(debian, func(a, b string) int {
		return versionOf(b) - versionOf(a) // newest first
	})
	dirs = append(dirs, debian...)

	for _, dir := range dirs {
		if !isExecutable(filepath.Join(dir, "initdb")) || !isExecutable(filepath.Join(dir, "postgres")) {
			continue
		}
		major, err := serverMajor(filepath.Join(dir, "postgres"))
		if err != nil {
			return binaries{}, err
		}
		return binaries{dir: dir, major: major}, nil
	}
	return binaries{}, errors.New(unavailable)
}

// versionOf reads the version out of /usr/lib/postgresql/<version>/bin, and
// -1 when it is not a number.
func versionOf(binDir string) int {
	v, err := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	if err != nil {
		return -1
	}
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// serverMajor asks postgres for its major version, which names the cluster's
// directory: a data directory only works with the major version that made it.
func serverMajor(postgres string) (string, error) {
	out, err := exec.Command(postgres, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("error running %s --version: %w", postgres, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("unexpected version from %s: %q", postgres, bytes.TrimSpace(out))
	}
	return string(m[1]), nil
}

// cluster is a PostgreSQL cluster of pgtest's own, in a directory that it
// shares with every process of the same user that wants the same kind of
// cluster. Its files:
//
//	data/          the data directory, owned by the server's user
//	sock/          the unix socket, owned by the server's user
//	lock           flock'ed while a process checks, starts or stops the server
//	password       the superuser's password (TCP connections must give it)
//	port           the TCP port on 127.0.0.1 the server was last started on
//	settings       the settings it was last started with
//	postgres.log   what the server has logged since it was last started
type cluster struct {
	bin binaries
	dir string
	// settings are the server's settings but its port, as name=value.
	settings []string
	// cred is the user the server runs as; nil for this process's user.
	cred *syscall.Credential
}

// newCluster returns the shared cluster of this user, durable or fast, for the
// binaries bin: it is in os.TempDir()/clickback-pgtest-<major>-<user>, or in
// /tmp when the server's user could not reach os.TempDir().
func newCluster(bin binaries, durable bool) (*cluster, error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	parent := os.TempDir()
	if cred != nil && !everyoneCanReach(parent) {
		parent = "/tmp"
	}
	name := "clickback-pgtest-" + bin.major + "-" + userName()
	if durable {
		name += "-durable"
	}
	return &cluster{bin: bin, dir: filepath.Join(parent, name), settings: clusterSettings(durable), cred: cred}, nil
}

// clusterSettings returns the server settings of a fast or a durable cluster.
// Connections are many, for parallel tests that each open a pool.
func clusterSettings(durable bool) []string {
	settings := []string{
		"listen_addresses=127.0.0.1",
		"max_connections=500",
		"TimeZone=UTC",
		"log_timezone=UTC",
		"log_checkpoints=off", // one for every database dropped
	}
	if !durable {
		// Unsafe for data anyone wants back after a crash; tests don't.
		settings = append(settings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
	return settings
}

// serverCredential returns who the server runs as: this process's user
// (nil), or when that is root, which PostgreSQL refuses, the "postgres" system
// user that Debian's packages make, else nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("error reading the uid of user %s: %w", name, err)
		}
		gid, err := strconv.ParseUint(u.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("error reading the gid of user %s: %w", name, err)
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, errors.New("running as root and found neither a postgres nor a nobody user to run PostgreSQL as")
}

// userName names this process's user in the cluster's directory.
func userName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == os.PathSeparator {
				return '_'
			}
			return r
		}, u.Username)
	}
	return strconv.Itoa(os.Getuid())
}

// everyoneCanReach reports whether every user may traverse dir and its
// parents.
func everyoneCanReach(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

func (c *cluster) path(name string) string { return filepath.Join(c.dir, name) }

// ensure makes sure the cluster runs, with its current settings, and answers,
// and returns the URL of its maintenance database. It holds the cluster's lock
// meanwhile, so that of the processes that call it at once one starts the
// server and the others find it running. A running server with other settings
// is restarted; a dead one started; one that will not start is made anew.
func (c *cluster) ensure(ctx context.Context) (*url.URL, error) {
	if err := c.makeDirs(); err != nil {
		return nil, err
	}
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	password, isNew, err := c.password()
	if err != nil {
		return nil, err
	}
	pid := c.postmasterPID()
	if isNew || !c.initialized() {
		if pid != 0 {
			if err := c.stopPostmaster(pid); err != nil {
				return nil, err
			}
			pid = 0
		}
		if err := c.initdb(ctx, password); err != nil {
			return nil, err
		}
	}

	port := c.recordedPort()
	if pid != 0 {
		if port != 0 && c.recordedSettings() == c.settingsKey() {
			u := c.url(port, password)
			if err := waitReady(ctx, u, startTimeout, func() bool { return c.isPostmaster(pid) }); err == nil {
				return u, nil
			}
		}
		if err := c.stopPostmaster(pid); err != nil {
			return nil, err
		}
	}
	return c.start(ctx, port, password)
}

// start starts the server, on port when it is still free, and drops the test
// databases that processes killed before their cleanup left behind: nobody
// can be using them now. When the server does not start, the cluster is made
// anew and started once more; it holds nothing but test data.
func (c *cluster) start(ctx context.Context, port int, password string) (*url.URL, error) {
	for attempt := 1; ; attempt++ {
		// The same port when possible, so that the pools of running test
		// binaries reconnect; the processes of a server that was killed may
		// hold it for a moment.
		if port != 0 && !waitPortFree(ctx, port, portWait) {
			port = 0
		}
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		if err := c.writeFile("port", strconv.Itoa(port)); err != nil {
			return nil, err
		}
		if err := c.writeFile("settings", c.settingsKey()); err != nil {
			return nil, err
		}
		u := c.url(port, password)
		err := c.spawn(ctx, u, port)
		if err == nil {
			dropLeftovers(ctx, u)
			return u, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return nil, err
		}
		if err := c.initdb(ctx, password); err != nil {
			return nil, err
		}
		port = 0
	}
}

// spawn starts postgres in a session of its own, so that it outlives this
// process and escapes the terminal's signals, and waits until it answers at u.
// Its output goes to a file, never to this process's, which `go test` would
// otherwise wait on for as long as the server runs.
func (c *cluster) spawn(ctx context.Context, u *url.URL, port int) error {
	// No postmaster of this data directory runs (the caller made sure), so
	// these are stale, and would only make postgres wonder.
	_ = os.Remove(filepath.Join(c.path("data"), "postmaster.pid"))
	if stale, err := filepath.Glob(filepath.Join(c.path("sock"), ".s.PGSQL.*")); err == nil {
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}

	logPath := c.path("postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("error creating the server log: %w", err)
	}
	defer logFile.Close()

	args := []string{"-D", c.path("data"), "-p", strconv.Itoa(port), "-c", "unix_socket_directories=" + c.path("sock")}
	for _, s := range c.settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(filepath.Join(c.bin.dir, "postgres"), args...)
	c.setUp(cmd)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr.Setsid = true
	closeInheritedOnExec()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("error starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps it, should it stop while this process runs
		close(exited)
	}()

	alive := func() bool {
		select {
		case <-exited:
			return false
		default:
			return true
		}
	}
	if err := waitReady(ctx, u, startTimeout, alive); err != nil {
		_ = c.stopPostmaster(cmd.Process.Pid)
		return fmt.Errorf("postgres did not start: %w; the end of %s:\n%s", err, logPath, tail(logPath, 20))
	}
	return nil
}

// closeInheritedOnExec marks close-on-exec every file descriptor this process
// inherited open, which Go's own are already: else postgres would inherit them
// too and hold them for as long as it runs, and with them maybe the write end
// of a pipe whose reader (a CI runner, say) waits for it to close.
func closeInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// setUp makes cmd run as the server's user, in the cluster's directory (which
// that user can enter, unlike a test's working directory perhaps), with a
// plain environment.
func (c *cluster) setUp(cmd *exec.Cmd) {
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
}

// initdb makes the data directory anew, with the superuser's password.
// Connections on the unix socket, which only the server's user (and root) can
// reach, need none.
func (c *cluster) initdb(ctx context.Context, password string) error {
	data := c.path("data")
	if err := os.RemoveAll(data); err != nil {
		return fmt.Errorf("error removing the old data directory: %w", err)
	}
	if err := c.mkdirOwned(data); err != nil {
		return err
	}
	pwfile := c.path("pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("error writing the password file for initdb: %w", err)
	}
	defer os.Remove(pwfile)
	if err := c.chown(pwfile); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, initdbTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin.dir, "initdb"),
		"-D", data, "-U", superuser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	c.setUp(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("error running initdb: %w\n%s", err, out)
	}
	return nil
}

// initialized reports whether the data directory was made by initdb of the
// same major version.
func (c *cluster) initialized() bool {
	v, err := os.ReadFile(filepath.Join(c.path("data"), "PG_VERSION"))
	return err == nil && strings.TrimSpace(string(v)) == c.bin.major
}

// makeDirs creates the cluster's directory and socket directory, and refuses
// a directory that someone else could have planted or could change.
func (c *cluster) makeDirs() error {
	perm := os.FileMode(0o700)
	if c.cred != nil {
		perm = 0o755 // the server's user must reach data/ and sock/
	}
	if err := os.Mkdir(c.dir, perm); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("error creating the cluster directory: %w", err)
	}
	fi, err := os.Lstat(c.dir)
	if err != nil {
		return fmt.Errorf("error reading the cluster directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("refusing to use %s: it is not a directory of this user that only this user can change", c.dir)
	}
	return c.mkdirOwned(c.path("sock"))
}

// mkdirOwned creates dir, private to the server's user.
func (c *cluster) mkdirOwned(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("error creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("error setting the mode of %s: %w", dir, err)
	}
	return c.chown(dir)
}

// chown gives path to the server's user.
func (c *cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return fmt.Errorf("error giving %s to the server's user: %w", path, err)
	}
	return nil
}

// lock takes the cluster's lock, waiting for whoever holds it, and returns
// what releases it. The kernel releases it too when the process dies.
func (c *cluster) lock() (func(), error) {
	f, err := os.OpenFile(c.path("lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("error opening the cluster lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("error taking the cluster lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// password returns the superuser's password, and whether it was just made,
// which means the data directory, if any, has another.
func (c *cluster) password() (string, bool, error) {
	b, err := os.ReadFile(c.path("password"))
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), false, nil
	}
	password := randomHex(16)
	if err := c.writeFile("password", password); err != nil {
		return "", false, err
	}
	return password, true, nil
}

// writeFile writes one of the cluster's own files, private to this user.
func (c *cluster) writeFile(name, content string) error {
	if err := os.WriteFile(c.path(name), []byte(content), 0o600); err != nil {
		return fmt.Errorf("error writing the cluster's %s file: %w", name, err)
	}
	return nil
}

// recordedPort is the port the server was last started on, or 0.
func (c *cluster) recordedPort() int {
	b, err := os.ReadFile(c.path("port"))
	if err != nil {
		return 0
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || port <= 0 || port > 65535 {
		return 0
	}
	return port
}

func (c *cluster) recordedSettings() string {
	b, _ := os.ReadFile(c.path("settings"))
	return string(b)
}

func (c *cluster) settingsKey() string {
	return strings.Join(c.settings, "\n")
}

// url returns the URL of the maintenance database.
func (c *cluster) url(port int, password string) *url.URL {
	return &url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
}

// postmasterPID returns the process id of the running postmaster of this
// cluster, or 0 when none runs.
func (c *cluster) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(c.path("data"), "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || !c.isPostmaster(pid) {
		return 0
	}
	return pid
}

// isPostmaster reports whether pid is a live process started on this
// cluster's data directory. A pid in a stale postmaster.pid may since have
// gone to another process, and a dead process may linger as a zombie (whose
// command line is empty) where nothing reaps it.
func (c *cluster) isPostmaster(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return slices.Contains(strings.Split(string(b), "\x00"), c.path("data"))
}

// stopPostmaster stops the postmaster pid and waits until it is gone: a fast
// shutdown first, then an immediate one, then a kill.
func (c *cluster) stopPostmaster(pid int) error {
	for _, step := range []struct {
		signal syscall.Signal
		wait   time.Duration
	}{
		{syscall.SIGINT, 20 * time.Second},
		{syscall.SIGQUIT, 10 * time.Second},
		{syscall.SIGKILL, 10 * time.Second},
	} {
		if err := syscall.Kill(pid, step.signal); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("error stopping postgres (pid %d): %w", pid, err)
		}
		deadline := time.Now().Add(step.wait)
		for c.isPostmaster(pid) && time.Now().Before(deadline) {
			time.Sleep(pollInterval)
		}
		if !c.isPostmaster(pid) {
			return nil
		}
	}
	return fmt.Errorf("postgres (pid %d) did not stop", pid)
}

// stop stops the server if it runs.
func (c *cluster) stop() error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if pid := c.postmasterPID(); pid != 0 {
		return c.stopPostmaster(pid)
	}
	return nil
}

// waitReady waits until the server at u answers a query, for at most timeout,
// or until it is no longer alive. A server with all its connections taken is
// up, and counts as ready.
func waitReady(ctx context.Context, u *url.URL, timeout time.Duration, alive func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := ping(ctx, u)
		if err == nil {
			return nil
		}
		if !alive() {
			return fmt.Errorf("postgres exited: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s: %w", timeout, err)
		case <-ticker.C:
		}
	}
}

// ping connects to u and runs a query.
func ping(ctx context.Context, u *url.URL) error {
	config, err := pgx.ParseConfig(u.String())
	if err != nil {
		return fmt.Errorf("error parsing the server URL: %w", err)
	}
	config.ConnectTimeout = 2 * time.Second
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "53300" { // too_many_connections
			return nil
		}
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}

// dropLeftovers drops the test databases, and the unfinished templates, that
// killed processes left behind. It is best effort: what it leaves, the next
// start drops.
func dropLeftovers(ctx context.Context, u *url.URL) {
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE starts_with(datname, $1) OR (starts_with(datname, $2) AND NOT datistemplate)`,
		testPrefix, templatePrefix)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)")
	}
}

// portFree reports whether port is free on 127.0.0.1.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// waitPortFree waits up to timeout for port to be free on 127.0.0.1, and
// reports whether it is.
func waitPortFree(ctx context.Context, port int, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for !portFree(port) {
		select {
		case <-ctx.Done():
			return false
		case <-ticker.C:
		}
	}
	return true
}

// freePort returns a port that is free on 127.0.0.1 now. Another process may
// take it before postgres does; start then tries again.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
