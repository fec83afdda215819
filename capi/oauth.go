package capi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenMargin is how long before its announced expiry a cached access token
// is refreshed, so a token never expires between the check and Google's.
const tokenMargin = time.Minute

// googleTokens trades refresh tokens for OAuth access tokens at Google's
// token endpoint (POST {oauth}/token, grant_type=refresh_token) and caches
// each until shortly before it expires. One refresh runs at a time per OAuth
// client and refresh token; concurrent callers wait for it (or for their
// context) instead of stampeding the endpoint.
type googleTokens struct {
	c client

	mu      sync.Mutex
	entries map[[32]byte]*tokenEntry
}

type tokenEntry struct {
	lock   chan struct{} // a one-slot semaphore, so waiting honours ctx
	token  string
	expiry time.Time
}

func newGoogleTokens(c client) *googleTokens {
	return &googleTokens{c: c, entries: map[[32]byte]*tokenEntry{}}
}

// entry returns the cache entry of creds, keyed by a digest so no secret is
// kept as a map key.
func (g *googleTokens) entry(creds *GoogleAdsCredentials) *tokenEntry {
	key := sha256.Sum256([]byte(strings.TrimSpace(creds.ClientID) + "\x00" + strings.TrimSpace(creds.ClientSecret) + "\x00" + strings.TrimSpace(creds.RefreshToken)))
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.entries[key]
	if !ok {
		e = &tokenEntry{lock: make(chan struct{}, 1)}
		g.entries[key] = e
	}
	return e
}

// token returns a valid access token for creds. stale is a token Google just
// refused (401): if it is still the cached one, a new one is fetched even
// though it has not expired yet; if another caller already replaced it, the
// replacement is returned.
func (g *googleTokens) token(ctx context.Context, creds *GoogleAdsCredentials, stale string) (string, *Error) {
	e := g.entry(creds)
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return "", g.c.transportError(ctx, ctx.Err())
	}
	defer func() { <-e.lock }()
	if e.token != "" && e.token != stale && g.c.now().Before(e.expiry) {
		return e.token, nil
	}
	tok, ttl, err := g.fetch(ctx, creds)
	if err != nil {
		return "", err
	}
	e.token = tok
	e.expiry = g.c.now().Add(ttl)
	if ttl > 2*tokenMargin {
		e.expiry = e.expiry.Add(-tokenMargin)
	}
	return tok, nil
}

type oauthAnswer struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	TokenType        string `json:"token_type"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// fetch asks the token endpoint for a new access token. invalid_grant (the
// refresh token was revoked or expired) and invalid_client need a person to
// reconnect Google Ads; 429 and 5xx are retried later.
func (g *googleTokens) fetch(ctx context.Context, creds *GoogleAdsCredentials) (string, time.Duration, *Error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {strings.TrimSpace(creds.ClientID)},
		"client_secret": {strings.TrimSpace(creds.ClientSecret)},
		"refresh_token": {strings.TrimSpace(creds.RefreshToken)},
	}
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	r, err := g.c.do(ctx, http.MethodPost, g.c.base+"/token", hdr, []byte(form.Encode()))
	if err != nil {
		err.Message = "Google OAuth: " + err.Message
		return "", 0, err
	}
	var a oauthAnswer
	_ = json.Unmarshal(r.body, &a) // an unreadable body is judged by its status below
	if r.status == http.StatusOK && a.AccessToken != "" {
		ttl := time.Duration(a.ExpiresIn) * time.Second
		if ttl <= 0 {
			ttl = time.Hour
		}
		return a.AccessToken, ttl, nil
	}
	msg := "Google OAuth refused the refresh token"
	switch a.Error {
	case "invalid_grant":
		msg = "Google OAuth: the refresh token has expired or was revoked; reconnect Google Ads"
	case "invalid_client", "unauthorized_client":
		msg = "Google OAuth: the OAuth client id or secret is wrong"
	}
	if a.ErrorDescription != "" {
		msg += " (" + a.ErrorDescription + ")"
	}
	e := g.c.statusError(r, a.Error, msg)
	if r.status == http.StatusOK {
		e.Code, e.Retryable = "unexpected_response", true
	}
	return "", 0, e
}
