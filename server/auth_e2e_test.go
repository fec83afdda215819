package server_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

const viewerQuery = `{ viewer { role account { id name } user { id email } } }`

func TestSignupAndLogin(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		acc := s.Signup(t, "acme")

		var v struct {
			Viewer struct {
				Role    string
				Account struct{ ID, Name string }
				User    struct{ ID, Email string }
			}
		}
		s.GraphQL(t, acc.Token, viewerQuery, nil).Decode(t, &v)
		require.Equal(t, "OWNER", v.Viewer.Role)
		require.Equal(t, acc.AccountID, v.Viewer.Account.ID)
		require.Equal(t, "acme", v.Viewer.Account.Name)
		require.Equal(t, acc.Email, v.Viewer.User.Email)

		login := `mutation($in: LoginInput!) { login(input: $in) { token role account { id } } }`
		var out struct {
			Login struct {
				Token, Role string
				Account     struct{ ID string }
			}
		}
		// Email matching ignores case and surrounding space.
		s.GraphQL(t, "", login, map[string]any{"in": map[string]any{"email": "  " + upper(acc.Email), "password": "correct horse battery"}}).Decode(t, &out)
		require.Equal(t, acc.AccountID, out.Login.Account.ID)
		require.Equal(t, "OWNER", out.Login.Role)
		s.GraphQL(t, out.Login.Token, viewerQuery, nil).Decode(t, &v)

		for name, in := range map[string]map[string]any{
			"wrong password": {"email": acc.Email, "password": "wrong horse battery"},
			"unknown email":  {"email": "nobody@example.com", "password": "correct horse battery"},
		} {
			r := s.GraphQL(t, "", login, map[string]any{"in": in})
			require.Equal(t, "UNAUTHENTICATED", r.Code(), name)
			require.Equal(t, "wrong email or password", r.Errors[0].Message, name)
			require.JSONEq(t, "null", string(r.Data), name)
		}

		signup := `mutation($in: SignupInput!) { signup(input: $in) { token } }`
		r := s.GraphQL(t, "", signup, map[string]any{"in": map[string]any{"email": acc.Email, "password": "another long password", "accountName": "x"}})
		require.Equal(t, "CONFLICT", r.Code())
		r = s.GraphQL(t, "", signup, map[string]any{"in": map[string]any{"email": "short@example.com", "password": "short", "accountName": "x"}})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "at least 10 characters")
		r = s.GraphQL(t, "", signup, map[string]any{"in": map[string]any{"email": "not-an-email", "password": "long enough password", "accountName": "x"}})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, dbtest.Dialects[0])
	acc := s.Signup(t, "acme")
	login := `mutation($in: LoginInput!) { login(input: $in) { token } }`
	codes := map[string]int{}
	for range 15 {
		r := s.GraphQL(t, "", login, map[string]any{"in": map[string]any{"email": acc.Email, "password": "guess guess guess"}})
		codes[r.Code()]++
	}
	require.Equal(t, 10, codes["UNAUTHENTICATED"], "the first attempts are checked")
	require.Equal(t, 5, codes["RATE_LIMITED"], "then the email is slowed down")
	// Even the right password waits out the limit.
	r := s.GraphQL(t, "", login, map[string]any{"in": map[string]any{"email": acc.Email, "password": "correct horse battery"}})
	require.Equal(t, "RATE_LIMITED", r.Code())
}

func TestTokensRefused(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, dbtest.Dialects[0])
	acc := s.Signup(t, "acme")
	secret := s.Config.JWTSecret
	now := time.Now()
	claims := func(mod func(*auth.Claims)) *auth.Claims {
		c := &auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: auth.Issuer, Subject: acc.UserID, Audience: jwt.ClaimStrings{auth.Audience},
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			},
			AccountID: acc.AccountID,
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c *auth.Claims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return tok
	}
	// A correctly made token works: the refusals below are for what differs.
	good := sign(jwt.SigningMethodHS256, secret, claims(nil))
	var v struct{ Viewer struct{ Role string } }
	s.GraphQL(t, good, viewerQuery, nil).Decode(t, &v)
	require.Equal(t, "OWNER", v.Viewer.Role)

	other := testserver.Start(t, dbtest.Dialects[0]).Signup(t, "other")
	tampered := good[:len(good)-4] + "AAAA"
	for name, token := range map[string]string{
		"missing":          "",
		"garbage":          "not-a-token",
		"alg none":         sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"wrong key":        sign(jwt.SigningMethodHS256, []byte("some-other-secret-0123456789abcd"), claims(nil)),
		"HS512":            sign(jwt.SigningMethodHS512, secret, claims(nil)),
		"expired":          sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) })),
		"no expiry":        sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ExpiresAt = nil })),
		"not yet valid":    sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"wrong audience":   sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"someone-else"} })),
		"wrong issuer":     sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Issuer = "evil" })),
		"tampered":         tampered,
		"other's account":  sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.AccountID = other.AccountID })),
		"unknown user":     sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Subject = "usr_nobody" })),
		"revoked-like key": "cbk_doesnotexist",
	} {
		r := s.GraphQL(t, token, viewerQuery, nil)
		require.Equal(t, "UNAUTHENTICATED", r.Code(), name)
		require.JSONEq(t, "null", string(r.Data), name)
	}
}
