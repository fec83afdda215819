package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token claims: who (sub) in which account (acc). The role is not in the
// token: it is read from the membership on every request, so a demotion or
// removal takes effect at once.
const (
	Issuer   = "clickback"
	Audience = "clickback-api"
)

// DefaultTokenTTL is how long a login's token is valid.
const DefaultTokenTTL = 24 * time.Hour

// Claims are the claims of a session token.
type Claims struct {
	jwt.RegisteredClaims
	AccountID string `json:"acc"`
}

// Tokens issues and verifies session tokens: HS256 JWTs with an expiry,
// issuer and audience, all of them required on the way in.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns a token issuer/verifier keyed with secret.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	return &Tokens{secret: secret, ttl: ttl, now: time.Now}
}

// Issue returns a token for userID acting in accountID.
func (t *Tokens) Issue(userID, accountID string) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	now := t.now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		AccountID: accountID,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// maxTokenLength bounds what the parser is given.
const maxTokenLength = 4096

// Verify checks a token's signature (HS256 only: `none`, RS/HS confusion and
// every other algorithm are refused), expiry (required), not-before, issuer
// and audience, and returns its claims.
func (t *Tokens) Verify(token string) (*Claims, error) {
	if len(token) > maxTokenLength {
		return nil, errors.New("token too long")
	}
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(token, claims,
		func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" || claims.AccountID == "" {
		return nil, errors.New("token lacks subject or account")
	}
	return claims, nil
}
