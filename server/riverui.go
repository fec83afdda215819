package server

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/clickback/clickback/admin"
	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/viewer"
)

// riverUICookie carries the operator's token for the River UI, whose
// pages and API calls a browser makes without an Authorization header.
const riverUICookie = "clickback_riverui"

// riverUI serves River's web UI at /riverui/ to OWNERs of the operator
// account (admin.IsOperator) only. A browser opens /riverui/?token=<token
// or API key> once: the token is checked, kept in an HttpOnly, SameSite=
// Strict cookie for /riverui, and the query string dropped; scripts may
// send the token as a Bearer header instead. Everyone else gets 401 or
// 403, without a hint of what is behind.
//
// The UI works on both databases through the *sql.Tx River client; its
// background services start with the first authorised request.
func riverUI(db *database.DB, rc *river.Client[*sql.Tx], a *auth.Service, logger *slog.Logger) http.Handler {
	var (
		once    sync.Once
		handler http.Handler
		initErr error
	)
	start := func() {
		h, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(rc, nil),
			Logger:    logger,
			Prefix:    "/riverui",
		})
		if err != nil {
			initErr = err
			return
		}
		if err := h.Start(context.WithoutCancel(context.Background())); err != nil {
			initErr = err
			return
		}
		handler = h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearerToken(r.Header.Get("Authorization"))
		fromQuery := false
		if t := r.URL.Query().Get("token"); t != "" {
			token, fromQuery = t, true
		} else if c, err := r.Cookie(riverUICookie); token == "" && err == nil {
			token = c.Value
		}
		if token == "" || len(token) > 4096 {
			writeJSONError(w, http.StatusUnauthorized, "sign in: open /riverui/?token=<your token>")
			return
		}
		ctx := r.Context()
		v, err := a.Authenticate(ctx, db.Ent, token)
		if err != nil {
			writeJSONError(w, http.StatusUnauthorized, "sign in: open /riverui/?token=<your token>")
			return
		}
		ok, err := admin.IsOperator(viewer.NewContext(ent.NewContext(ctx, db.Ent), v), db.Ent)
		if err != nil {
			logger.ErrorContext(ctx, "river ui: operator check", "err", err)
			writeJSONError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if !ok {
			writeJSONError(w, http.StatusForbidden, "the River UI is for OWNERs of the operator account")
			return
		}
		if fromQuery {
			http.SetCookie(w, &http.Cookie{
				Name: riverUICookie, Value: token, Path: "/riverui",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
			})
			u := *r.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		once.Do(start)
		if initErr != nil {
			logger.ErrorContext(ctx, "river ui unavailable", "err", initErr)
			writeJSONError(w, http.StatusServiceUnavailable, "the River UI is unavailable")
			return
		}
		handler.ServeHTTP(w, r)
	})
}

func bearerToken(h string) string {
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// withRiverUI sends /riverui/… to ui and everything else to next. The UI is
// dispatched ahead of the mux because its paths overlap the collect
// endpoint's pattern (/{accountKey}/collect/…); no account key is
// "riverui" (keys are 16 characters).
func withRiverUI(ui, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/riverui" || strings.HasPrefix(r.URL.Path, "/riverui/") {
			ui.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
