package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Private is a PostgreSQL cluster of one test's own, in a new directory,
// that the test may stop and start again (a database restart, a crash)
// without touching the shared clusters other tests use. It is stopped and
// removed when the test ends.
//
// Its settings are the fast cluster's but for synchronous_commit, which
// stays on: a commit is then in the kernel's hands before it is
// acknowledged, so a server stopped with SIGQUIT (pg_ctl stop -m
// immediate) loses nothing it acknowledged, as long as the machine itself
// does not crash.
type Private struct {
	tb       testing.TB
	c        *cluster
	base     *url.URL // the maintenance database's URL
	database string   // the URL of the test's database
}

// NewPrivate starts a private cluster with an empty database for the test.
func NewPrivate(tb testing.TB) *Private {
	tb.Helper()
	Require(tb)
	bin, err := findBinaries()
	if err != nil {
		tb.Skip("no local PostgreSQL binaries: " + err.Error())
	}
	parent, err := os.MkdirTemp("", "pgtest-private-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(parent, 0o755); err != nil { // the server's user must reach it
		tb.Fatal(err)
	}
	cred, err := serverCredential()
	if err != nil {
		tb.Fatal(err)
	}
	settings := []string{"synchronous_commit=on"}
	for _, s := range clusterSettings(false) {
		if s != "synchronous_commit=off" && s != "max_connections=500" {
			settings = append(settings, s)
		}
	}
	settings = append(settings, "max_connections=200")
	p := &Private{tb: tb, c: &cluster{bin: bin, dir: filepath.Join(parent, "cluster"), settings: settings, cred: cred}}
	tb.Cleanup(func() {
		if err := p.c.stop(); err != nil {
			tb.Errorf("stop the private cluster: %v", err)
		}
		_ = os.RemoveAll(parent)
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout+initdbTimeout)
	defer cancel()
	base, err := p.c.ensure(ctx)
	if err != nil {
		tb.Fatalf("start a private PostgreSQL cluster: %v", err)
	}
	p.base = base
	conn, err := pgx.Connect(ctx, base.String())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE clickback TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"); err != nil {
		tb.Fatal(err)
	}
	u := *base
	u.Path = "/clickback"
	p.database = u.String()
	return p
}

// URL is the URL of the test's database.
func (p *Private) URL() string { return p.database }

// Stop stops the server and waits until it is gone: a fast shutdown
// (SIGINT, pg_ctl stop -m fast: sessions are ended, then a checkpoint) or,
// with immediate, SIGQUIT (pg_ctl stop -m immediate: every process exits at
// once, and the next start recovers from the WAL).
func (p *Private) Stop(immediate bool) error {
	unlock, err := p.c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	pid := p.c.postmasterPID()
	if pid == 0 {
		return errors.New("the private cluster is not running")
	}
	sig := syscall.SIGINT
	if immediate {
		sig = syscall.SIGQUIT
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal postgres: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.c.isPostmaster(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres (pid %d) still runs 30s after %s", pid, sig)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Start starts the server again, on the same port, and waits until it
// answers; it fails when the port was taken meanwhile.
func (p *Private) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	base, err := p.c.ensure(ctx)
	if err != nil {
		return err
	}
	if base.String() != p.base.String() {
		return fmt.Errorf("the private cluster came back at %s, not %s", base.Redacted(), p.base.Redacted())
	}
	return nil
}
