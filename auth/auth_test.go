package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestPassword(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	h2, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")

	for _, tt := range []struct {
		password string
		ok       bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"", false},
		{strings.Repeat("x", maxPasswordLength+1), false},
	} {
		ok, err := CheckPassword(h, tt.password)
		require.NoError(t, err)
		require.Equal(t, tt.ok, ok, tt.password)
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=18$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=1,t=1,p=1$!!$AA"} {
		_, err := CheckPassword(bad, "x")
		require.Error(t, err, bad)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	tok := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	s, err := tok.Issue("usr_1", "acc_1")
	require.NoError(t, err)
	c, err := tok.Verify(s)
	require.NoError(t, err)
	require.Equal(t, "usr_1", c.Subject)
	require.Equal(t, "acc_1", c.AccountID)

	// Time moves on: past the expiry (and its leeway) the token is refused.
	later := *tok
	later.now = func() time.Time { return time.Now().Add(time.Hour + time.Minute) }
	_, err = later.Verify(s)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)

	other := NewTokens([]byte("another secret of enough length!"), time.Hour)
	_, err = other.Verify(s)
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)

	_, err = tok.Verify(strings.Repeat("a", maxTokenLength+1))
	require.Error(t, err)

	// Claims without a subject or account are refused even when signed.
	unsigned := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: Issuer, Audience: jwt.ClaimStrings{Audience}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}})
	s, err = unsigned.SignedString([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	_, err = tok.Verify(s)
	require.ErrorContains(t, err, "lacks subject or account")
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	k, h, err := NewAPIKey()
	require.NoError(t, err)
	require.True(t, IsAPIKey(k))
	require.False(t, IsAPIKey("eyJhbGciOi"))
	require.Equal(t, h, HashAPIKey(k))
	require.Len(t, h, 64)
	require.Equal(t, k[:10], APIKeyDisplayPrefix(k))
	k2, _, _ := NewAPIKey()
	require.NotEqual(t, k, k2)
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Owner@Example.COM ": "owner@example.com",
		"a.b+c@shop.example":  "a.b+c@shop.example",
		"no-at-sign":          "",
		"x@nodot":             "",
		"Name <x@y.co>":       "",
		"":                    "",
	} {
		got, err := NormalizeEmail(in)
		if want == "" {
			require.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
}

func TestNewPublicKey(t *testing.T) {
	t.Parallel()
	k := NewPublicKey()
	require.Regexp(t, `^[a-z2-7]{16}$`, k)
	require.NotEqual(t, k, NewPublicKey())
}

// FuzzVerify: whatever a client sends as a token, Verify neither panics nor
// accepts anything that is not a token this service signed.
func FuzzVerify(f *testing.F) {
	tok := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	good, _ := tok.Issue("usr_1", "acc_1")
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tok.Verify(s)
		if err != nil {
			return
		}
		if s != good {
			// Another valid token must at least carry our issuer, audience
			// and an expiry: it can only come from our key.
			require.Equal(t, Issuer, c.Issuer)
			require.NotNil(t, c.ExpiresAt)
		}
	})
}
