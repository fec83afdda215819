package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/pgtest"
)

// TestMain lets the tests run this very binary as the clickback process.
func TestMain(m *testing.M) {
	if os.Getenv("CLICKBACK_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], args...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Env = append(os.Environ(), append([]string{"CLICKBACK_TEST_MAIN=1", "CLICKBACK_ADDR=" + addr}, env...)...)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, url: "http://" + addr, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("process logs:\n%s", logs.String())
		}
	})
	return p
}

func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server at %s not ready in time", p.url)
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "clean exit on SIGTERM")
	case <-time.After(40 * time.Second):
		t.Fatal("no exit within 40s of SIGTERM")
	}
}

func gql(t *testing.T, url, token, query string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Nil(t, out["errors"], "%v", out)
	return out["data"].(map[string]any)
}

// TestProcess runs clickback as a user would: `go run .` on the embedded
// default, then a restart that keeps its data and secrets, `migrate`, and
// the same on PostgreSQL.
func TestProcess(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		env := []string{"CLICKBACK_DATA_DIR=" + dir}
		p := start(t, env)
		p.waitReady(t)
		data := gql(t, p.url, "", `mutation { signup(input: {email: "owner@example.com", password: "correct horse battery", accountName: "Acme"}) { token } }`)
		token := data["signup"].(map[string]any)["token"].(string)
		p.stop(t)
		for _, f := range []string{"clickback.db", "jwt.secret", "encryption.key"} {
			_, err := os.Stat(filepath.Join(dir, f))
			require.NoError(t, err, f)
		}

		// The generated secret is kept: the old token still works.
		p = start(t, env)
		p.waitReady(t)
		data = gql(t, p.url, token, `{ viewer { account { name } } }`)
		require.Equal(t, "Acme", data["viewer"].(map[string]any)["account"].(map[string]any)["name"])
		p.stop(t)

		m := start(t, env, "migrate")
		require.NoError(t, m.cmd.Wait())
		require.Contains(t, m.logs.String(), "database ready")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		env := []string{"CLICKBACK_DATA_DIR=" + t.TempDir(), "DATABASE_URL=" + url}
		m := start(t, env, "migrate")
		require.NoError(t, m.cmd.Wait(), m.logs.String())
		p := start(t, env)
		p.waitReady(t)
		gql(t, p.url, "", `mutation { signup(input: {email: "owner@example.com", password: "correct horse battery", accountName: "Acme"}) { token } }`)
		p.stop(t)
	})
	t.Run("bad configuration", func(t *testing.T) {
		t.Parallel()
		p := start(t, []string{"CLICKBACK_DATA_DIR=" + t.TempDir(), "DATABASE_URL=mysql://nope"})
		err := p.cmd.Wait()
		require.Error(t, err)
		require.Contains(t, p.logs.String(), "DATABASE_URL must start with postgres://")
	})
}
