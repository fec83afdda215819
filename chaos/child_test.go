//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binary is the clickback binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clickback-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "clickback")
	build := exec.Command("go", "build", "-o", binary, "github.com/clickback/clickback")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build clickback:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects the logs of every run of a node.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is one clickback server: a child process restarted on the same
// address and data, as a supervisor would after a crash.
type node struct {
	t    *testing.T
	addr string
	url  string
	env  []string
	logs *lockedBuffer
	cmd  *exec.Cmd
	done chan struct{}
	// Starts and Kills count the processes started and SIGKILLed.
	Starts, Kills int
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// newNode prepares a server with env on a free loopback address; its public
// URL is that address, so the postback URLs it makes point at it.
func newNode(t *testing.T, env ...string) *node {
	addr := freeAddr(t)
	n := &node{t: t, addr: addr, url: "http://" + addr, logs: &lockedBuffer{}}
	n.env = append(os.Environ(), "CLICKBACK_ADDR="+addr, "CLICKBACK_PUBLIC_URL=http://"+addr, "CLICKBACK_LOG_LEVEL=info")
	n.env = append(n.env, env...)
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			logs := n.logs.String()
			if len(logs) > 20000 {
				logs = "…" + logs[len(logs)-20000:]
			}
			t.Logf("logs of %s:\n%s", n.addr, logs)
		}
	})
	return n
}

// start runs the server and waits until /readyz says ready.
func (n *node) start() {
	n.t.Helper()
	require.Nil(n.t, n.cmd, "already running")
	cmd := exec.Command(binary)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	require.NoError(n.t, cmd.Start())
	n.cmd, n.done = cmd, make(chan struct{})
	n.Starts++
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(n.done)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			n.t.Fatalf("clickback exited during start:\n%s", n.logs.String())
		default:
		}
		if code, _ := get(n.url + "/readyz"); code == http.StatusOK {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("clickback at %s not ready in 90s", n.addr)
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.cmd = nil
	n.Kills++
}

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop() {
	n.t.Helper()
	require.NotNil(n.t, n.cmd)
	require.NoError(n.t, n.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-n.done:
	case <-time.After(60 * time.Second):
		n.t.Fatal("no exit within 60s of SIGTERM")
	}
	n.cmd = nil
}

func get(u string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// gql runs a GraphQL operation and decodes its data into out, failing the
// test on any error.
func gql(t *testing.T, base, token, query string, vars map[string]any, out any) {
	t.Helper()
	data, errs := gqlRaw(t, base, token, query, vars)
	require.Empty(t, errs, "%s", query)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out))
	}
}

// gqlRaw runs a GraphQL operation and returns its data and errors as
// they came.
func gqlRaw(t *testing.T, base, token, query string, vars map[string]any) (json.RawMessage, []map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var res struct {
		Data   json.RawMessage  `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &res), "%d %s", resp.StatusCode, raw)
	return res.Data, res.Errors
}

// tenant is an account set up for traffic: a postback URL with the macros
// {click_id} and {transaction_id}, a tag ingest URL, and Meta and TikTok
// destinations on the fakes.
type tenant struct {
	Token       string
	PostbackURL string
	TagURL      string
}

func setUpTenant(t *testing.T, base, name string, destinations bool) tenant {
	t.Helper()
	var su struct{ Signup struct{ Token string } }
	gql(t, base, "", `mutation($in: SignupInput!) { signup(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": strings.ToLower(name) + "@example.com", "password": "correct horse battery staple", "accountName": name}}, &su)
	tok := su.Signup.Token
	var it struct{ CreateIntegration struct{ PostbackURL string } }
	gql(t, base, tok, `mutation($in: CreateIntegrationInput!) { createIntegration(input: $in) { postbackURL } }`,
		map[string]any{"in": map[string]any{"name": "Network", "clickIDMacro": "{click_id}", "transactionIDMacro": "{transaction_id}", "payoutMacro": "{payout}"}}, &it)
	require.Contains(t, it.CreateIntegration.PostbackURL, "{transaction_id}")
	var pr struct{ CreateProperty struct{ Key string } }
	gql(t, base, tok, `mutation { createProperty(input: {name: "shop", domain: "shop.example"}) { key } }`, nil, &pr)
	if destinations {
		for _, in := range []map[string]any{
			{"name": "Meta pixel", "kind": "META", "meta": map[string]any{"pixelID": "1234567890", "accessToken": "EAAB-chaos-meta-token"}},
			{"name": "TikTok pixel", "kind": "TIKTOK", "tiktok": map[string]any{"pixelCode": "CCHAOSPIXEL1", "accessToken": "chaos-tiktok-token"}},
		} {
			gql(t, base, tok, `mutation($in: CreateDestinationInput!) { createDestination(input: $in) { id } }`, map[string]any{"in": in}, nil)
		}
	}
	return tenant{Token: tok, PostbackURL: it.CreateIntegration.PostbackURL, TagURL: base + "/t/" + pr.CreateProperty.Key}
}
