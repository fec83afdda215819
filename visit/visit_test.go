package visit_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/trackevent"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/tag"
	"github.com/clickback/clickback/viewer"
	"github.com/clickback/clickback/visit"
)

type testBundle struct {
	db       *database.DB
	rec      *visit.Recorder
	account  string
	property string
	sys      context.Context
}

func setup(t *testing.T, d string) testBundle {
	t.Helper()
	db := dbtest.Open(t, d)
	sys := viewer.SystemContext(context.Background(), "")
	a, err := db.Ent.Account.Create().SetName("acme").SetKey("acme").Save(sys)
	require.NoError(t, err)
	p, err := db.Ent.Property.Create().SetName("shop").SetKey("prop-key").SetAccountID(a.ID).Save(sys)
	require.NoError(t, err)
	rec := visit.NewRecorder(db, visit.Options{})
	t.Cleanup(rec.Close)
	return testBundle{db: db, rec: rec, account: a.ID, property: p.ID, sys: viewer.SystemContext(context.Background(), a.ID)}
}

func (b testBundle) batch(at time.Time, events ...tag.Event) *visit.Batch {
	return &visit.Batch{AccountID: b.account, PropertyID: b.property, IP: "203.0.113.7", UserAgent: "Mozilla/5.0", Received: at, Events: events}
}

func (b testBundle) click(t *testing.T, id string) *ent.Click {
	t.Helper()
	c, err := b.db.Ent.Click.Query().Where(click.ClickID(id)).Only(b.sys)
	require.NoError(t, err)
	return c
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		t.Run("first touch kept, empty fields filled, identity last touch", func(t *testing.T) {
			t.Parallel()
			b := setup(t, d)
			ctx := context.Background()
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			pv := tag.Event{Type: tag.PageView, Name: "PageView", ClickID: "cb_one", URL: "https://shop.example/land?utm_source=g",
				Referrer: "https://google.com/", UTM: tag.UTM{Source: "google", Campaign: "spring"},
				AdClickIDs: tag.AdClickIDs{GCLID: "g-1"}, FBC: "fb.1.1.abc", Screen: "1280x720", Language: "en-GB"}
			require.NoError(t, b.rec.Record(ctx, b.batch(t0, pv,
				tag.Event{Type: tag.Identify, Name: "Identify", ClickID: "cb_one", ExternalID: "u-1"})))

			// A second page: attribution differs but is first-touch; a new field fills.
			pv2 := tag.Event{Type: tag.PageView, Name: "PageView", ClickID: "cb_one", URL: "https://shop.example/page2",
				UTM: tag.UTM{Source: "other", Medium: "cpc"}, AdClickIDs: tag.AdClickIDs{FBCLID: "fbc-2"}}
			oc := tag.Event{Type: tag.OutboundClick, Name: "OutboundClick", ClickID: "cb_one", URL: "https://shop.example/page2",
				LinkURL: "https://network.example/o?sub1=cb_one"}
			sha := strings.Repeat("ab", 32)
			t1 := t0.Add(time.Minute)
			require.NoError(t, b.rec.Record(ctx, b.batch(t1, pv2, oc,
				tag.Event{Type: tag.Identify, Name: "Identify", ClickID: "cb_one", ExternalID: "u-2", EmailSHA256: sha},
				tag.Event{Type: tag.Error, Name: "Error", Message: "boom"})))

			c := b.click(t, "cb_one")
			require.Equal(t, b.property, c.PropertyID)
			require.Equal(t, "https://shop.example/land?utm_source=g", c.LandingPage)
			require.Equal(t, "google", c.UtmSource)
			require.Equal(t, "cpc", c.UtmMedium, "an empty field is filled later")
			require.Equal(t, "spring", c.UtmCampaign)
			require.Equal(t, "g-1", c.Gclid)
			require.Equal(t, "fbc-2", c.Fbclid)
			require.Equal(t, "fb.1.1.abc", c.Fbc)
			require.Equal(t, "203.0.113.7", c.IP)
			require.Equal(t, "u-2", c.ExternalID, "identity is last touch")
			require.Equal(t, sha, c.EmailSha256)
			require.WithinDuration(t, t0, c.CreatedAt, time.Millisecond)
			require.WithinDuration(t, t1, c.LastSeenAt, time.Millisecond)
			require.False(t, c.Bot)

			evs, err := b.db.Ent.TrackEvent.Query().Where(trackevent.ClickID("cb_one")).Order(ent.Asc(trackevent.FieldCreatedAt), ent.Asc(trackevent.FieldName)).All(b.sys)
			require.NoError(t, err)
			names := []string{}
			for _, e := range evs {
				names = append(names, e.Name)
			}
			require.ElementsMatch(t, []string{"PageView", "PageView", "OutboundClick"}, names, "identify and errors are not TrackEvents")
		})

		t.Run("many requests in one batch, one click id repeated", func(t *testing.T) {
			t.Parallel()
			b := setup(t, d)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			now := time.Now().UTC()
			for i := range 200 {
				wg.Go(func() {
					id := "cb_shared"
					if i%2 == 0 {
						id = "cb_" + strings.Repeat("x", 1+i%50) + "_" + string(rune('a'+i%26))
					}
					errs <- b.rec.Record(ctx, &visit.Batch{AccountID: b.account, PropertyID: b.property, Bot: i == 3, Received: now, Events: []tag.Event{
						{Type: tag.PageView, Name: "PageView", ClickID: id, URL: "https://shop.example/"},
						{Type: tag.Custom, Name: "Signup", ClickID: id, URL: "https://shop.example/", Value: 1_500_000, HasValue: true, Currency: "EUR",
							Props: map[string]any{"plan": "pro", "n": json.Number("3"), "ok": true}},
					}})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			n, err := b.db.Ent.TrackEvent.Query().Count(b.sys)
			require.NoError(t, err)
			require.Equal(t, 400, n)
			shared := b.click(t, "cb_shared")
			require.True(t, shared.Bot, "one bot request marks the visit")
			ev, err := b.db.Ent.TrackEvent.Query().Where(trackevent.Name("Signup")).First(b.sys)
			require.NoError(t, err)
			require.Equal(t, int64(1_500_000), ev.ValueMicros)
			require.Equal(t, map[string]string{"plan": "pro", "n": "3", "ok": "true"}, ev.Props)
		})

		t.Run("longest values the wire allows fit the columns", func(t *testing.T) {
			t.Parallel()
			b := setup(t, d)
			wide := strings.Repeat("€", tag.MaxParamLen) // 3 bytes each
			url := "https://shop.example/" + strings.Repeat("é", tag.MaxURLLen-21)
			e := tag.Event{Type: tag.PageView, Name: "PageView", ClickID: strings.Repeat("c", tag.MaxClickIDLen), URL: url, Referrer: url,
				Title: strings.Repeat("€", tag.MaxTitleLen), UTM: tag.UTM{Source: wide, Medium: wide, Campaign: wide, Term: wide, Content: wide},
				AdClickIDs: tag.AdClickIDs{GCLID: wide, FBCLID: wide}, FBC: strings.Repeat("€", tag.MaxCookieLen), FBP: wide, TTP: wide}
			r := b.batch(time.Now(), e)
			r.UserAgent = strings.Repeat("€", 2000)
			require.NoError(t, b.rec.Record(context.Background(), r))
			c := b.click(t, e.ClickID)
			require.True(t, strings.HasPrefix(wide, c.UtmSource))
			require.Len(t, c.UtmSource, 255, "cut at a character boundary")
			require.LessOrEqual(t, len(c.LandingPage), 2048)
		})
	})
}
