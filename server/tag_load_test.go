package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/pgtest"
	"github.com/clickback/clickback/viewer"
	"github.com/clickback/clickback/visit"
)

// TestTagIngestLoad measures POST /t/{key} over HTTP: clients send what the
// tag sends for fresh visits (a landing PageView with its attribution, then a
// second page's PageView with a custom event and an OutboundClick), as fast
// as the server answers, on PostgreSQL with real durability (fsync on) and
// on SQLite. It reports events/s and the p50/p99 latency of a request.
//
// It runs only when asked, since it takes the machine for a while:
//
//	CLICKBACK_LOADTEST=10s go test ./server -run TestTagIngestLoad -v
//
// The value is how long each database is loaded. CLICKBACK_LOADTEST_CLIENTS
// (concurrent clients, default 128) and CLICKBACK_LOADTEST_WRITERS, _BATCH and
// _WINDOW (the recorder's options; default: visit.NewRecorder's) tune it.
func TestTagIngestLoad(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("CLICKBACK_LOADTEST"))
	if err != nil {
		t.Skip("load test: set CLICKBACK_LOADTEST to a duration (e.g. 10s) to run it")
	}
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(dbtest.Name(d), func(t *testing.T) {
			var db *database.DB
			if d == dialect.Postgres {
				url := pgtest.DurableURL(t)
				db, err = database.OpenPostgres(context.Background(), url)
				require.NoError(t, err)
				require.NoError(t, db.Migrate(context.Background()))
				t.Cleanup(func() { db.Close() })
			} else {
				db = dbtest.Open(t, d)
			}
			loadTagIngest(t, db, dur)
		})
	}
}

func loadTagIngest(t *testing.T, db *database.DB, dur time.Duration) {
	ctx := context.Background()
	sys := viewer.SystemContext(ctx, "")
	acc, err := db.Ent.Account.Create().SetName("load").SetKey("load").Save(sys)
	require.NoError(t, err)
	_, err = db.Ent.Property.Create().SetName("load").SetKey("loadprop").SetAccountID(acc.ID).Save(sys)
	require.NoError(t, err)

	var opts visit.Options
	opts.Writers, _ = strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_WRITERS"))
	opts.MaxBatch, _ = strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_BATCH"))
	opts.Window, _ = time.ParseDuration(os.Getenv("CLICKBACK_LOADTEST_WINDOW"))
	rec := visit.NewRecorder(db, opts)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := newTagHandler(db.Ent, rec, "http://load.test", logger, tagLimits{IPRate: 1e9, IPBurst: 1e9, PropertyRate: 1e9, PropertyBurst: 1e9})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/{propertyKey}", h.serveIngest)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer rec.Close()

	clients := 128
	if n, err := strconv.Atoi(os.Getenv("CLICKBACK_LOADTEST_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	url := hs.URL + "/t/loadprop"
	landing := func(id string) []byte {
		return fmt.Appendf(nil, `{"v":1,"events":[{"t":"pv","c":"%s","ts":1732500000000,"u":"https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=EAIaIQobChMI%s","r":"https://www.google.com/","ti":"Spring sale","utm_source":"google","utm_medium":"cpc","utm_campaign":"spring","gclid":"EAIaIQobChMI%s","fbp":"fb.1.1732500000000.1234567890","sc":"1280x800","lg":"en-GB"}]}`, id, id, id)
	}
	second := func(id string) []byte {
		return fmt.Appendf(nil, `{"v":1,"events":[{"t":"pv","c":"%s","ts":1732500001000,"u":"https://shop.example/offer","r":"https://shop.example/landing","ti":"Offer"},{"t":"tr","c":"%s","ts":1732500001100,"u":"https://shop.example/offer","n":"ViewContent","val":"12.50","cur":"EUR","p":{"plan":"pro"}},{"t":"oc","c":"%s","ts":1732500002000,"u":"https://shop.example/offer","l":"https://network.example/o?sub1=%s","lt":"Buy now"}]}`, id, id, id, id)
	}
	post := func(body []byte) (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(url, "text/plain;charset=UTF-8", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}

	var events, visits, failures atomic.Int64
	lat := make([][]time.Duration, clients)
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				id := "cb_load" + strconv.Itoa(c) + "x" + strconv.Itoa(n)
				for i, body := range [][]byte{landing(id), second(id)} {
					d, err := post(body)
					if err != nil {
						failures.Add(1)
						continue
					}
					lat[c] = append(lat[c], d)
					if i == 0 {
						visits.Add(1)
					}
					events.Add(int64(1 + 2*i))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	require.NotEmpty(t, all)
	require.Zero(t, failures.Load(), "every request answered 204")
	p := func(q float64) time.Duration { return all[int(q*float64(len(all)-1))] }
	rate := float64(events.Load()) / elapsed.Seconds()
	t.Logf("%s: %d events in %d requests over %s: %.0f events/s, %.0f requests/s; latency p50 %s, p99 %s, max %s",
		db.Dialect, events.Load(), len(all), elapsed.Round(time.Millisecond), rate, float64(len(all))/elapsed.Seconds(),
		p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), all[len(all)-1].Round(time.Millisecond))

	// Everything acknowledged is stored: one Click per visit, every event.
	stored, err := db.Ent.TrackEvent.Query().Count(sys)
	require.NoError(t, err)
	require.Equal(t, int(events.Load()), stored)
	clicks, err := db.Ent.Click.Query().Count(sys)
	require.NoError(t, err)
	require.Equal(t, int(visits.Load()), clicks)
}
