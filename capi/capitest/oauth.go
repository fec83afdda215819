package capitest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// GoogleOAuth is a fake Google OAuth 2.0 token endpoint: POST {URL}/token
// with grant_type=refresh_token, client_id, client_secret and refresh_token,
// answering {"access_token", "expires_in", "scope", "token_type"} like
// oauth2.googleapis.com. The GoogleAds fake asks it whether a bearer token is
// one it issued and still valid.
type GoogleOAuth struct {
	*Fake

	mu           sync.Mutex
	clientID     string
	clientSecret string
	ttl          time.Duration
	revoked      map[string]bool
	tokens       map[string]time.Time
	issued       int
}

// NewGoogleOAuth starts a fake token endpoint issuing one-hour tokens to any
// client and any refresh token, until SetClient, SetTokenTTL and Revoke say
// otherwise.
func NewGoogleOAuth(tb testing.TB) *GoogleOAuth {
	o := &GoogleOAuth{ttl: time.Hour, revoked: map[string]bool{}, tokens: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", o.serveToken)
	o.Fake = newFake(tb, mux)
	return o
}

// SetClient makes id and secret the only OAuth client accepted.
func (o *GoogleOAuth) SetClient(id, secret string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clientID, o.clientSecret = id, secret
}

// SetTokenTTL sets the lifetime of tokens issued from now on.
func (o *GoogleOAuth) SetTokenTTL(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ttl = d
}

// Revoke makes refreshToken answer invalid_grant, as after a user removed
// the app's access; tokens already issued keep working until they expire.
func (o *GoogleOAuth) Revoke(refreshToken string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.revoked[refreshToken] = true
}

// ExpireTokens ends every access token issued so far, as if their hour had
// passed: the Google Ads fake answers 401 to them.
func (o *GoogleOAuth) ExpireTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t := range o.tokens {
		o.tokens[t] = time.Time{}
	}
}

// TokensIssued counts the access tokens issued.
func (o *GoogleOAuth) TokensIssued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.issued
}

// Check reports whether token was issued here (known) and is still valid.
func (o *GoogleOAuth) Check(token string) (valid, known bool) {
	now := o.clock()
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, known := o.tokens[token]
	return known && now.Before(exp), known
}

func (o *GoogleOAuth) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		o.reject(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "The request body could not be parsed."}, "bad form")
		return
	}
	f := r.PostForm
	o.mu.Lock()
	wantID, wantSecret, ttl, revoked := o.clientID, o.clientSecret, o.ttl, o.revoked[f.Get("refresh_token")]
	o.mu.Unlock()
	switch {
	case f.Get("grant_type") != "refresh_token":
		o.reject(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + f.Get("grant_type")}, "grant_type is not refresh_token")
		return
	case f.Get("client_id") == "":
		o.reject(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Could not determine client ID from request."}, "client_id missing")
		return
	case f.Get("client_secret") == "" || (wantID != "" && (f.Get("client_id") != wantID || f.Get("client_secret") != wantSecret)):
		o.reject(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "The OAuth client was not found."}, "wrong client")
		return
	case f.Get("refresh_token") == "":
		o.reject(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Missing required parameter: refresh_token"}, "refresh_token missing")
		return
	case revoked:
		o.reject(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, "refresh token revoked")
		return
	}
	now := o.clock()
	o.mu.Lock()
	o.issued++
	token := fmt.Sprintf("ya29.fake-%d", o.issued)
	o.tokens[token] = now.Add(ttl)
	o.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_in":   int(ttl.Seconds()),
		"scope":        "https://www.googleapis.com/auth/adwords",
		"token_type":   "Bearer",
	})
}
