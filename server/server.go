// Package server is clickback's HTTP front: the routes of PRODUCT.md, the
// middleware every request passes (request ids, logs, panics, size limits),
// health checks and the GraphQL endpoint.
package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/riverqueue/river"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/graph"
	"github.com/clickback/clickback/metrics"
	"github.com/clickback/clickback/visit"
)

// Body size limits per route.
const (
	maxGraphQLBody = 1 << 20
)

// Deps is what the server is built from.
type Deps struct {
	Config config.Config
	DB     *database.DB
	// River inserts jobs in the transactions that write their rows.
	River  *river.Client[*sql.Tx]
	Auth   *auth.Service
	Logger *slog.Logger
	// Visits records the tracking tag's events. The caller creates it (visit.NewRecorder)
	// and closes it after the HTTP server has stopped; when nil, New makes one that is
	// never closed, which is fine for tools that do not stop cleanly anyway.
	Visits *visit.Recorder
	// Collector takes the postbacks. Like Visits, the caller creates it
	// (collect.New) and closes it after the HTTP server has stopped, so that
	// queued postbacks and rejected-call counts are written; when nil, New
	// makes one from Collect that is never closed.
	Collector *collect.Collector
	// Collect tunes the postback endpoint (rate limits, batching) when New
	// makes the collector; the zero value is the production default.
	Collect collect.Options
	// Tag sets the tag ingest's rate limits (load tests lift them); the
	// zero value is the production default.
	Tag TagLimits
}

// New returns the handler of every route.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.DB.Ready(ctx); err != nil {
			d.Logger.WarnContext(ctx, "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": readyReason(err)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	collector := d.Collector
	if collector == nil {
		collector = collect.New(collect.Deps{DB: d.DB, River: d.River, Logger: d.Logger, Options: d.Collect})
	}
	mux.Handle("GET /{accountKey}/collect/{integrationSlug}", collector)
	mux.Handle("POST /{accountKey}/collect/{integrationSlug}", collector)
	dests, err := destination.NewService(d.Config)
	if err != nil {
		// config.Load checks the keys; only a hand-built Config gets here.
		d.Logger.Error("destinations unavailable: bad encryption key", "err", err)
	}
	gql := graph.NewHandler(graph.Config{
		Collector:     collector,
		Client:        d.DB.Ent,
		River:         d.River,
		Auth:          d.Auth,
		PublicURL:     d.Config.PublicURL,
		Introspection: d.Config.Introspection,
		Logger:        d.Logger,
		Destinations:  dests,
	})
	mux.Handle("/graphql", limitBody(maxGraphQLBody, gql))
	visits := d.Visits
	if visits == nil {
		visits = visit.NewRecorder(d.DB, visit.Options{})
	}
	tagLimits := defaultTagLimits
	if d.Tag != (TagLimits{}) {
		tagLimits = d.Tag
	}
	th := newTagHandler(d.DB.Ent, visits, d.Config.PublicURL, d.Logger, tagLimits)
	mux.HandleFunc("GET /tag/{file}", th.serveScript)
	mux.HandleFunc("POST /t/{propertyKey}", th.serveIngest)
	mux.HandleFunc("OPTIONS /t/{propertyKey}", th.servePreflight)
	mux.Handle("GET /{$}", playground.Handler("clickback", "/graphql"))
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusNotFound, "not found")
	})
	return observe(d.Logger, withRiverUI(riverUI(d.DB, d.River, d.Auth, d.Logger), mux))
}

func readyReason(err error) string {
	switch {
	case errors.Is(err, database.ErrNotMigrated):
		return "database schema is not up to date"
	case errors.Is(err, database.ErrDiskFull):
		return "no space left for the database"
	}
	return "database unreachable"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
