// Package testserver starts the real clickback server — routes, GraphQL,
// River workers — on a fresh database for an end-to-end test, and speaks
// to it over HTTP like a user.
package testserver

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/server"
	"github.com/clickback/clickback/visit"
)

// Server is a running clickback for one test.
type Server struct {
	URL    string
	DB     *database.DB
	Config config.Config
	River  *river.Client[*sql.Tx]
	logs   *syncBuffer
	http   *httptest.Server
}

// Option changes the configuration before the server starts.
type Option func(*config.Config)

// selfURL stands for the server's own URL, which is known only once it
// listens.
const selfURL = "http://testserver.self"

// RealPublicURL makes the server's public URL (the base of tag snippets and
// postback URLs) its own address, for tests whose browser or client follows
// the generated URLs; by default it is a fake host.
func RealPublicURL() Option { return func(c *config.Config) { c.PublicURL = selfURL } }

// Start runs clickback on a fresh database of dialect d until the test ends.
func Start(t testing.TB, d string, opts ...Option) *Server {
	t.Helper()
	db := dbtest.Open(t, d)
	cfg := config.Config{
		Addr:          "127.0.0.1:0",
		DataDir:       t.TempDir(),
		PublicURL:     "http://clickback.test",
		JWTSecret:     []byte("test-secret-0123456789abcdef0123"),
		EncryptionKey: bytes.Repeat([]byte{7}, 32),
		LateClickWait: time.Second,
		Introspection: true,
	}
	if d == dialect.Postgres {
		cfg.DatabaseURL = "postgres://test"
	}
	for _, o := range opts {
		o(&cfg)
	}
	logs := &syncBuffer{}
	level := slog.LevelInfo
	if os.Getenv("CLICKBACK_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(server.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})))

	rc, err := jobs.NewClient(jobs.Deps{DB: db, Config: cfg, Logger: logger})
	if err != nil {
		t.Fatalf("river: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rc.Start(ctx); err != nil {
		t.Fatalf("start river: %v", err)
	}
	visits := visit.NewRecorder(db, visit.Options{})
	collector := collect.New(collect.Deps{DB: db, River: rc, Logger: logger})
	hs := httptest.NewUnstartedServer(nil)
	if cfg.PublicURL == selfURL {
		cfg.PublicURL = "http://" + hs.Listener.Addr().String()
	}
	hs.Config.Handler = server.New(server.Deps{Config: cfg, DB: db, River: rc, Auth: auth.NewService(cfg.JWTSecret), Logger: logger, Visits: visits, Collector: collector})
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		visits.Close()
		collector.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = rc.Stop(sctx)
		cancel()
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	return &Server{URL: hs.URL, DB: db, Config: cfg, River: rc, logs: logs, http: hs}
}

// LogText returns everything the server logged so far.
func (s *Server) LogText() string { return s.logs.String() }

// Response is a GraphQL response.
type Response struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// Code is the extensions.code of the first error, or "".
func (r Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Decode unmarshals the data into v, failing the test on errors.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("graphql errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// GraphQL posts a query with variables, authenticated with token when not
// empty, and returns the response.
func (s *Server) GraphQL(t testing.TB, token, query string, vars map[string]any) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out Response
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("graphql answered %d %s: %v", resp.StatusCode, raw, err)
	}
	return out
}

// Account is a signed-up tenant.
type Account struct {
	Token     string
	UserID    string
	AccountID string
	Key       string
	Email     string
}

// Signup creates a new account through the API and returns its owner's
// session.
func (s *Server) Signup(t testing.TB, name string) Account {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
	r := s.GraphQL(t, "", `mutation($in: SignupInput!) { signup(input: $in) { token user { id } account { id key } } }`,
		map[string]any{"in": map[string]any{"email": email, "password": "correct horse battery", "accountName": name}})
	var out struct {
		Signup struct {
			Token   string
			User    struct{ ID string }
			Account struct{ ID, Key string }
		}
	}
	r.Decode(t, &out)
	return Account{Token: out.Signup.Token, UserID: out.Signup.User.ID, AccountID: out.Signup.Account.ID, Key: out.Signup.Account.Key, Email: email}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	bytes.Buffer
	mu sync.Mutex
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}
