package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHealth(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		code, body, h := get(t, s.URL+"/healthz")
		require.Equal(t, http.StatusOK, code)
		require.JSONEq(t, `{"status":"ok"}`, body)
		require.Len(t, h.Get("X-Request-Id"), 16)
		code, body, _ = get(t, s.URL+"/readyz")
		require.Equal(t, http.StatusOK, code, body)

		// Readiness tells the truth: without the database it is unavailable.
		require.NoError(t, s.DB.SQL.Close())
		code, body, _ = get(t, s.URL+"/readyz")
		require.Equal(t, http.StatusServiceUnavailable, code)
		var out map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		require.Equal(t, "database unreachable", out["reason"])
	})
}

func TestGraphiQLAndLimits(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, dbtest.Dialects[0])
	code, body, _ := get(t, s.URL+"/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "graphiql")

	code, _, _ = get(t, s.URL+"/no/such/route/here")
	require.Equal(t, http.StatusNotFound, code)

	// Bodies past the limit are refused before they are read.
	big := strings.NewReader(`{"query":"` + strings.Repeat("a", 2<<20) + `"}`)
	resp, err := http.Post(s.URL+"/graphql", "application/json", big)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// A caller's request id is kept when it is sane, replaced when not.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "abc-123", resp.Header.Get("X-Request-Id"))
	req.Header.Set("X-Request-Id", "bad id <script>")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, resp.Header.Get("X-Request-Id"), 16)

	// Too costly queries are refused with a clear error.
	r := s.GraphQL(t, "", "{ "+strings.Repeat("__typename ", 3000)+"}", nil)
	require.NotEmpty(t, r.Errors)
}
