package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/viewer"
)

type testBundle struct {
	db        *database.DB
	collector *Collector
	server    *httptest.Server
	account   *ent.Account
	it        *ent.Integration
	// url is the integration's postback URL on the test server, with
	// {c} and {t} macros for the click and transaction ids.
	url string
}

func setup(tb testing.TB, d string, opts Options) *testBundle {
	tb.Helper()
	db := dbtest.Open(tb, d)
	ctx := viewer.SystemContext(context.Background(), "")
	acc, err := db.Ent.Account.Create().SetName("acme").SetKey(fmt.Sprintf("key%d", time.Now().UnixNano())).Save(ctx)
	require.NoError(tb, err)
	name, c, tx, amount := "Net", "{c}", "{t}", "{a}"
	it, err := integration.Create(viewer.SystemContext(context.Background(), acc.ID), db.Ent, integration.Input{
		Name: &name, Macros: macros(c, tx, amount),
	})
	require.NoError(tb, err)
	rc, err := jobs.NewClient(jobs.Deps{DB: db, Config: config.Config{LateClickWait: time.Second, EncryptionKey: bytes.Repeat([]byte{7}, 32)}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	col := New(Deps{DB: db, River: rc, Logger: slog.New(slog.DiscardHandler), Options: opts})
	mux := http.NewServeMux()
	mux.Handle("GET /{accountKey}/collect/{integrationSlug}", col)
	mux.Handle("POST /{accountKey}/collect/{integrationSlug}", col)
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		srv.Close()
		col.Close()
	})
	u, err := integration.PostbackURL(srv.URL, acc.Key, it)
	require.NoError(tb, err)
	return &testBundle{db: db, collector: col, server: srv, account: acc, it: it, url: u}
}

func (b *testBundle) get(tb testing.TB, clickID, txID string) (int, string) {
	tb.Helper()
	u := strings.NewReplacer("{c}", url.QueryEscape(clickID), "{t}", url.QueryEscape(txID), "{a}", "1.5").Replace(b.url)
	resp, err := http.Get(u)
	require.NoError(tb, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *testBundle) count(tb testing.TB) int {
	tb.Helper()
	n, err := b.db.Ent.Conversion.Query().Count(viewer.SystemContext(context.Background(), b.account.ID))
	require.NoError(tb, err)
	return n
}

// TestRateLimit: past the per-IP or per-account budget, postbacks are
// answered 429 with Retry-After and never stored.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"per IP", Options{IPRate: 0.001, IPBurst: 3}},
		{"per account", Options{AccountRate: 0.001, AccountBurst: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, dialect.SQLite, tc.opts)
			for i := range 3 {
				code, body := b.get(t, fmt.Sprint("c", i), fmt.Sprint("t", i))
				require.Equal(t, http.StatusOK, code, body)
			}
			resp, err := http.Get(strings.NewReplacer("{c}", "x", "{t}", "y", "{a}", "1").Replace(b.url))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			require.NotEmpty(t, resp.Header.Get("Retry-After"))
			require.Equal(t, 3, b.count(t))
		})
	}
}

// TestDatabaseDown: when the commit fails the network gets 503, never a
// 200 for a postback that was not stored.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		b := setup(t, d, Options{})
		code, _ := b.get(t, "c1", "t1")
		require.Equal(t, http.StatusOK, code)
		require.NoError(t, b.db.SQL.Close())
		if b.db.Pool != nil {
			b.db.Pool.Close() // PostgreSQL batches go through the pgx pool
		}
		code, body := b.get(t, "c2", "t2")
		require.Equal(t, http.StatusServiceUnavailable, code, body)
	})
}

// TestCacheForget: a change made in this process applies to the next
// postback, without waiting for the cache to expire.
func TestCacheForget(t *testing.T) {
	t.Parallel()
	b := setup(t, dialect.SQLite, Options{CacheTTL: time.Hour})
	code, _ := b.get(t, "c1", "t1")
	require.Equal(t, http.StatusOK, code)
	ctx := viewer.SystemContext(context.Background(), b.account.ID)
	require.NoError(t, b.db.Ent.Integration.UpdateOneID(b.it.ID).SetEnabled(false).Exec(ctx))
	code, _ = b.get(t, "c2", "t2")
	require.Equal(t, http.StatusOK, code, "cached for an hour")
	b.collector.Forget(b.account.ID)
	code, _ = b.get(t, "c3", "t3")
	require.Equal(t, http.StatusForbidden, code)
}

// TestRawRequest: what is stored of a request is valid UTF-8 JSON, within
// bounds, with the secret gone from wherever it appeared.
func TestRawRequest(t *testing.T) {
	t.Parallel()
	it := &ent.Integration{Secret: "s3cr3t-value-0123456789", PreviousSecret: "old-secret-0123456789"}
	tgt := &target{integration: it}
	c := &Collector{}
	for _, tc := range []struct {
		name, query, contentType, body string
	}{
		{"query", "click_id=1&secret=s3cr3t-value-0123456789", "", ""},
		{"old secret in body", "secret=x", "application/x-www-form-urlencoded", "a=old-secret-0123456789&b=2"},
		{"json body", "", "application/json", `{"secret":"s3cr3t-value-0123456789","click_id":"a"}`},
		{"binary", "", "application/octet-stream", "\x00\xff\xfe\x1b[31m" + strings.Repeat("\x01", 20000)},
		{"huge query", strings.Repeat("a=%22&", 5000), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/k/collect/s?"+tc.query, strings.NewReader(tc.body))
			raw := c.rawRequest(r, tgt, tc.contentType, []byte(tc.body), nil)
			require.True(t, utf8.ValidString(raw))
			require.LessOrEqual(t, len(raw), maxRawStored)
			require.NotContains(t, raw, it.Secret)
			require.NotContains(t, raw, it.PreviousSecret)
			var v rawRequest
			require.NoError(t, json.Unmarshal([]byte(raw), &v))
			require.Equal(t, "/k/collect/s", v.Path)
		})
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"},
		{"héllo", 3, "hé"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"", 0, ""},
	} {
		require.Equal(t, tc.want, cut(tc.in, tc.n), "%q %d", tc.in, tc.n)
	}
}

// FuzzRawRequest: whatever a request holds, its stored form is bounded,
// valid JSON and free of the secret.
func FuzzRawRequest(f *testing.F) {
	f.Add("click_id=1&secret=topsecret-0123456789", "application/json", []byte(`{"a":"topsecret-0123456789"}`))
	f.Add("%ff%fe", "text/plain", []byte("\x00\xff"))
	it := &ent.Integration{Secret: "topsecret-0123456789"}
	tgt := &target{integration: it}
	c := &Collector{}
	f.Fuzz(func(t *testing.T, query, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/k/collect/s", nil)
		r.URL.RawQuery = query
		raw := c.rawRequest(r, tgt, contentType, body, nil)
		if !utf8.ValidString(raw) || len(raw) > maxRawStored || !json.Valid([]byte(raw)) {
			t.Fatalf("bad raw request %q", raw)
		}
		if strings.Contains(raw, it.Secret) {
			t.Fatalf("secret in %q", raw)
		}
	})
}

// BenchmarkCollect measures the whole endpoint in process — routing aside —
// with a fresh click id and transaction id per postback, on SQLite and
// PostgreSQL (the test cluster, without fsync: see cmd/loadgen for the
// durable figures).
func BenchmarkCollect(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(dbtest.Name(d), func(b *testing.B) {
			tb := setup(b, d, Options{IPRate: 1e9, IPBurst: 1e9, AccountRate: 1e9, AccountBurst: 1e9})
			prefix := strings.NewReplacer("{c}", "CID", "{t}", "TID", "{a}", "2.50").Replace(tb.url)
			prefix = prefix[len(tb.server.URL):]
			var n atomic.Int64
			b.ReportAllocs()
			// Networks call concurrently; a postback waits for its batch's
			// commit, so throughput needs many requests in flight.
			b.SetParallelism(128)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					u := strings.NewReplacer("CID", fmt.Sprint("c", i), "TID", fmt.Sprint("t", i)).Replace(prefix)
					r := httptest.NewRequest(http.MethodGet, u, nil)
					r.SetPathValue(PathAccountKey, tb.account.Key)
					r.SetPathValue(PathSlug, tb.it.Slug)
					w := httptest.NewRecorder()
					tb.collector.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("answered %d: %s", w.Code, w.Body)
					}
				}
			})
			b.StopTimer()
			stored, err := tb.db.Ent.Conversion.Query().Where(conversion.StatusEQ(conversion.StatusRECEIVED)).Count(viewer.SystemContext(context.Background(), tb.account.ID))
			require.NoError(b, err)
			require.Equal(b, int(n.Load()), stored, "every acknowledged postback is stored")
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "postbacks/s")
		})
	}
}

func macros(clickID, txID, amount string) map[postback.Field]*string {
	return map[postback.Field]*string{
		postback.FieldClickID: &clickID, postback.FieldTransactionID: &txID, postback.FieldAmount: &amount,
	}
}
