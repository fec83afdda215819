package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

func TestRiverUI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		operator := newTeam(t, s, "operator") // the oldest account
		tenant := s.Signup(t, "tenant")
		get := func(c *http.Client, path, token string) (*http.Response, string) {
			req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

		resp, _ := get(plain, "/riverui/", "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, _ = get(plain, "/riverui/", "forged")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		for name, token := range map[string]string{"tenant owner": tenant.Token, "operator admin": operator.Admin, "operator viewer key": operator.Key} {
			resp, _ = get(plain, "/riverui/", token)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
			resp, _ = get(plain, "/riverui/api/jobs?state=completed", token)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		}

		// The operator's browser: the token once in the URL, then a cookie.
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar}
		resp, body := get(browser, "/riverui/?token="+operator.Token, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.NotContains(t, resp.Request.URL.RawQuery, "token", "the token leaves the address bar")
		require.Contains(t, strings.ToLower(body), "<html")
		resp, body = get(browser, "/riverui/api/jobs?state=completed", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Contains(t, body, `"data"`)
	})
}
