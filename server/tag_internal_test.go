package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/viewer"
	"github.com/clickback/clickback/visit"
)

// TestTagIngestNotRecorded: when the recorder cannot write (here: closed,
// as during shutdown), the ingest answers 503 and never a success.
func TestTagIngestNotRecorded(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.Dialects[0])
	sys := viewer.SystemContext(context.Background(), "")
	acc, err := db.Ent.Account.Create().SetName("a").SetKey("a").Save(sys)
	require.NoError(t, err)
	_, err = db.Ent.Property.Create().SetName("p").SetKey("pkey").SetAccountID(acc.ID).Save(sys)
	require.NoError(t, err)
	rec := visit.NewRecorder(db, visit.Options{})
	rec.Close()
	h := newTagHandler(db.Ent, rec, "http://x.test", slog.New(slog.NewTextHandler(io.Discard, nil)), defaultTagLimits)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/{propertyKey}", h.serveIngest)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "/t/pkey", strings.NewReader(`{"v":1,"events":[{"t":"pv","c":"cb_x","u":"https://a.example/"}]}`)))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
	n, err := db.Ent.Click.Query().Count(sys)
	require.NoError(t, err)
	require.Zero(t, n)
}
