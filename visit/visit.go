// Package visit records what the tracking tag sends: the Click of each visit
// and its TrackEvents, written through a group committer so that one
// transaction (and one fsync) pays for the events of many browsers.
//
// A Click is created by the first event of its Click ID and enriched by later
// ones. The attribution context (landing page, referrer, UTM parameters, ad
// click ids, cookies, IP, user agent) is first-touch: a value once stored is
// kept, and only empty fields are filled by later events, so that the second
// page of a visit never overwrites where the visit came from. What identifies
// the visitor (external id, email hash) is last-touch: a later identify wins.
// Every event moves last_seen_at forward.
//
// No River job is enqueued per event: tag traffic is the bulk of all writes,
// and nothing needs to happen to an event after it is stored.
package visit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/ent/trackevent"
	"github.com/clickback/clickback/groupcommit"
	"github.com/clickback/clickback/metrics"
	"github.com/clickback/clickback/tag"
)

// Batch is what one request of the tag brings: its events, validated by
// tag.ParseBatch, and what the server knows about the request.
type Batch struct {
	// AccountID and PropertyID are those of the property the tag belongs to.
	AccountID, PropertyID string
	// IP and UserAgent are taken from the request, never from the body.
	IP, UserAgent string
	// Bot marks visits whose user agent is a crawler or a headless browser
	// (tag.IsBot): they are stored, marked, not dropped.
	Bot bool
	// Received is when the server got the batch; it is the time of every row
	// written from it (the browser's clock is only a hint).
	Received time.Time
	Events   []tag.Event
}

// Recorder writes Batches. Create it with NewRecorder, stop it with Close
// after the HTTP server has stopped.
type Recorder struct {
	c *groupcommit.Committer[*Batch]
}

// Options tune a Recorder; the zero value picks settings for the database's
// dialect.
type Options = groupcommit.Options

// NewRecorder starts a recorder writing into db. Zero fields of opts get
// defaults: batches of up to 256 requests; on SQLite (one connection, one
// writer) gathered for 2 ms; on PostgreSQL two writers gathering for 5 ms,
// which on a small machine writes more events per second than more writers
// with smaller transactions (measured with server.TestTagIngestLoad).
func NewRecorder(db *database.DB, opts Options) *Recorder {
	pg := db.Dialect == dialect.Postgres
	if opts.Writers <= 0 {
		opts.Writers = 1
		if pg {
			opts.Writers = 2
		}
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Window <= 0 {
		opts.Window = 2 * time.Millisecond
		if pg {
			opts.Window = 5 * time.Millisecond
		}
	}
	if db.Pool != nil {
		return &Recorder{c: groupcommit.NewFunc(writePgx(db.Pool), opts)}
	}
	return &Recorder{c: groupcommit.New(db.Ent, writeSQLite(), opts)}
}

// Record writes b and returns once it is committed. An error means nothing of
// b may be assumed stored (the tag does not retry; the caller answers 503).
func (r *Recorder) Record(ctx context.Context, b *Batch) error {
	if len(b.Events) == 0 {
		return nil
	}
	if err := r.c.Submit(ctx, b); err != nil {
		return err
	}
	countEvents(b.Events)
	return nil
}

// countEvents adds the TrackEvents of a committed batch to
// metrics.TagEvents, by class: PageView, OutboundClick or custom.
func countEvents(events []tag.Event) {
	var pv, oc, custom float64
	for i := range events {
		if events[i].ClickID == "" {
			continue // not stored (see rows)
		}
		switch events[i].Type {
		case tag.PageView:
			pv++
		case tag.OutboundClick:
			oc++
		case tag.Custom:
			custom++
		}
	}
	metrics.TagEvents.Add(pv, "PageView")
	metrics.TagEvents.Add(oc, "OutboundClick")
	metrics.TagEvents.Add(custom, "custom")
}

// Close writes what is queued and stops the recorder. Record fails with
// groupcommit.ErrClosed afterwards.
func (r *Recorder) Close() { r.c.Close() }

// Rows per INSERT statement on SQLite, which takes at most 32766 parameters.
const (
	clickChunk = 500
	eventChunk = 1500
)

// writeSQLite is the group committer's write function on SQLite
// (PostgreSQL's is writePgx).
//
// It writes with statements of its own rather than ent's bulk builders
// (multi-row INSERTs here; on PostgreSQL arrays through unnest):
// this is the hottest path of the product, and ent's per-row mutations,
// hooks and maps cost more CPU than the database's work. Nothing is lost by
// it: the rows are system writes for the account the property belongs to
// (no viewer's rights to check), every value is cut to its column's size,
// and the columns are ent's (click.Field…).
func writeSQLite() groupcommit.WriteFunc[*Batch] {
	return func(ctx context.Context, tx *ent.Tx, items []*Batch) error {
		clicks, events := sortedRows(items)
		stx := tx.SQLTx()
		for chunk := range slices.Chunk(clicks, clickChunk) {
			q, args := clickInsert(chunk)
			if _, err := stx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("error writing clicks: %w", err)
			}
		}
		for chunk := range slices.Chunk(events, eventChunk) {
			q, args, err := eventInsert(chunk)
			if err != nil {
				return err
			}
			if _, err := stx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("error writing track events: %w", err)
			}
		}
		return nil
	}
}

// sortedRows is rows with the Clicks in a fixed order (account, Click ID):
// a fixed order of the upserts keeps concurrent writers from deadlocking on
// each other's rows.
func sortedRows(items []*Batch) ([]*clickRow, []*eventRow) {
	clicks, events := rows(items)
	slices.SortFunc(clicks, func(a, b *clickRow) int {
		if c := strings.Compare(a.AccountID, b.AccountID); c != 0 {
			return c
		}
		return strings.Compare(a.ClickID, b.ClickID)
	})
	return clicks, events
}

// firstTouch are the Click columns kept once set; later events only fill
// them while empty.
var firstTouch = []string{
	click.FieldLandingPage, click.FieldReferrer, click.FieldTitle,
	click.FieldUtmSource, click.FieldUtmMedium, click.FieldUtmCampaign, click.FieldUtmTerm, click.FieldUtmContent,
	click.FieldGclid, click.FieldGbraid, click.FieldWbraid, click.FieldFbclid, click.FieldTtclid,
	click.FieldMsclkid, click.FieldLiFatID, click.FieldTwclid, click.FieldEpik, click.FieldSccid,
	click.FieldFbp, click.FieldFbc, click.FieldTtp,
	click.FieldIP, click.FieldUserAgent, click.FieldLanguage, click.FieldScreen,
}

// lastTouch are the Click columns a later non-empty value replaces.
var lastTouch = []string{click.FieldExternalID, click.FieldEmailSha256}

// clickColumns are the columns of a Click insert, in order: the fixed ones,
// then the first-touch and last-touch strings.
var clickColumns = slices.Concat([]string{
	click.FieldID, click.FieldAccountID, click.FieldPropertyID, click.FieldClickID,
	click.FieldBot, click.FieldCreatedAt, click.FieldLastSeenAt,
}, firstTouch, lastTouch)

// clickConflict is the DO UPDATE of a Click that exists already.
var clickConflict = func() string {
	var b strings.Builder
	b.WriteString(` ON CONFLICT ("account_id", "click_id") DO UPDATE SET `)
	sep := ""
	set := func(col, expr string) {
		fmt.Fprintf(&b, `%s"%s" = %s`, sep, col, expr)
		sep = ", "
	}
	for _, c := range firstTouch {
		set(c, fmt.Sprintf(`COALESCE(NULLIF("clicks"."%[1]s", ''), "excluded"."%[1]s")`, c))
	}
	for _, c := range lastTouch {
		set(c, fmt.Sprintf(`COALESCE(NULLIF("excluded"."%[1]s", ''), "clicks"."%[1]s")`, c))
	}
	// A visit is a bot's once any of its requests was.
	set(click.FieldBot, `("clicks"."bot" OR "excluded"."bot")`)
	// Writers may commit out of order: last_seen_at only moves forward.
	set(click.FieldLastSeenAt, `CASE WHEN "excluded"."last_seen_at" > "clicks"."last_seen_at" THEN "excluded"."last_seen_at" ELSE "clicks"."last_seen_at" END`)
	return b.String()
}()

// insertHead writes INSERT INTO table (cols) VALUES and the placeholders of
// n rows, for SQLite.
func insertHead(table string, cols []string, n int) string {
	var b strings.Builder
	b.Grow(64 + len(cols)*16 + n*len(cols)*6)
	b.WriteString(`INSERT INTO "` + table + `" (`)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + c + `"`)
	}
	b.WriteString(") VALUES ")
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// orNull is nil for an empty string, so that absent values are NULL as ent
// would write them.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func clickInsert(rows []*clickRow) (string, []any) {
	args := make([]any, 0, len(rows)*len(clickColumns))
	for _, c := range rows {
		args = append(args, pulid.New("clk"), c.AccountID, c.PropertyID, c.ClickID, c.Bot, c.CreatedAt, c.LastSeen)
		for _, col := range clickColumns[7:] {
			args = append(args, orNull(c.Fields[col]))
		}
	}
	return insertHead(click.Table, clickColumns, len(rows)) + clickConflict, args
}

var eventColumns = []string{
	trackevent.FieldID, trackevent.FieldAccountID, trackevent.FieldPropertyID, trackevent.FieldClickID,
	trackevent.FieldName, trackevent.FieldURL, trackevent.FieldLinkURL, trackevent.FieldValueMicros,
	trackevent.FieldCurrency, trackevent.FieldProps, trackevent.FieldBot, trackevent.FieldCreatedAt,
}

func eventInsert(rows []*eventRow) (string, []any, error) {
	args := make([]any, 0, len(rows)*len(eventColumns))
	for _, e := range rows {
		var value, props any
		if e.HasValue {
			value = e.Value
		}
		if len(e.Props) > 0 {
			b, err := json.Marshal(e.Props)
			if err != nil {
				return "", nil, fmt.Errorf("error marshaling event properties: %w", err)
			}
			props = b
		}
		args = append(args, pulid.New("evt"), e.AccountID, e.PropertyID, e.ClickID, e.Name,
			orNull(e.URL), orNull(e.LinkURL), value, orNull(e.Currency), props, e.Bot, e.CreatedAt)
	}
	return insertHead(trackevent.Table, eventColumns, len(rows)), args, nil
}

// clickRow is one Click to create or enrich: the events of a batch of
// requests merged per Click ID, first-touch.
type clickRow struct {
	AccountID, PropertyID, ClickID string
	// Fields holds the string columns by name, already cut to their sizes.
	Fields    map[string]string
	Bot       bool
	CreatedAt time.Time
	LastSeen  time.Time
}

// eventRow is one TrackEvent.
type eventRow struct {
	AccountID, PropertyID, ClickID string
	Name, URL, LinkURL             string
	Value                          int64
	HasValue                       bool
	Currency                       string
	Props                          map[string]string
	Bot                            bool
	CreatedAt                      time.Time
}

// Column sizes of the schema, in bytes (ent checks bytes; the wire format
// counts characters, so a value within the wire's limits may still need
// cutting).
var sizes = map[string]int{
	click.FieldLandingPage: 2048, click.FieldReferrer: 2048, click.FieldTitle: 512,
	click.FieldUtmSource: 256, click.FieldUtmMedium: 256, click.FieldUtmCampaign: 256,
	click.FieldUtmTerm: 256, click.FieldUtmContent: 256,
	click.FieldGclid: 512, click.FieldGbraid: 512, click.FieldWbraid: 512, click.FieldFbclid: 512,
	click.FieldTtclid: 512, click.FieldMsclkid: 512, click.FieldLiFatID: 512, click.FieldTwclid: 512,
	click.FieldEpik: 512, click.FieldSccid: 512,
	click.FieldFbp: 256, click.FieldFbc: 768, click.FieldTtp: 256,
	click.FieldIP: 64, click.FieldUserAgent: 1024, click.FieldLanguage: 64, click.FieldScreen: 32,
	click.FieldExternalID: 256, click.FieldEmailSha256: 64,
}

// Sizes of TrackEvent columns.
const (
	urlSize      = 2048
	propSize     = 512
	clickIDSize  = 128
	eventNameLen = 64
)

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// rows merges the events of items into the Clicks to upsert (one per account
// and Click ID, in order of first appearance) and the TrackEvents to insert.
func rows(items []*Batch) ([]*clickRow, []*eventRow) {
	type key struct{ account, click string }
	byKey := make(map[key]*clickRow)
	var clicks []*clickRow
	var events []*eventRow
	for _, b := range items {
		for i := range b.Events {
			e := &b.Events[i]
			if e.ClickID == "" || e.Type == tag.Error {
				continue
			}
			id := cut(e.ClickID, clickIDSize)
			k := key{b.AccountID, id}
			c := byKey[k]
			if c == nil {
				c = &clickRow{AccountID: b.AccountID, PropertyID: b.PropertyID, ClickID: id, Fields: make(map[string]string, 8), CreatedAt: b.Received}
				byKey[k] = c
				clicks = append(clicks, c)
			}
			c.merge(b, e)
			switch e.Type {
			case tag.PageView, tag.OutboundClick, tag.Custom:
				events = append(events, &eventRow{
					AccountID: b.AccountID, PropertyID: b.PropertyID, ClickID: id,
					Name: cut(e.Name, eventNameLen), URL: cut(e.URL, urlSize), LinkURL: cut(e.LinkURL, urlSize),
					Value: e.Value, HasValue: e.HasValue, Currency: e.Currency,
					Props: props(e.Props), Bot: b.Bot, CreatedAt: b.Received,
				})
			}
		}
	}
	return clicks, events
}

// merge adds what e knows of its visit to c.
func (c *clickRow) merge(b *Batch, e *tag.Event) {
	first := func(name, v string) {
		if v != "" && c.Fields[name] == "" {
			c.Fields[name] = cut(v, sizes[name])
		}
	}
	last := func(name, v string) {
		if v != "" {
			c.Fields[name] = cut(v, sizes[name])
		}
	}
	if b.Received.After(c.LastSeen) {
		c.LastSeen = b.Received
	}
	c.Bot = c.Bot || b.Bot
	first(click.FieldIP, b.IP)
	first(click.FieldUserAgent, b.UserAgent)
	if e.Type == tag.Identify {
		last(click.FieldExternalID, e.ExternalID)
		last(click.FieldEmailSha256, e.EmailSHA256)
		return
	}
	// The landing page is the page of the visit's first event; normally its
	// PageView, but an OutboundClick whose PageView was lost still says where
	// the visit was.
	first(click.FieldLandingPage, e.URL)
	if e.Type != tag.PageView {
		return
	}
	first(click.FieldReferrer, e.Referrer)
	first(click.FieldTitle, e.Title)
	first(click.FieldUtmSource, e.UTM.Source)
	first(click.FieldUtmMedium, e.UTM.Medium)
	first(click.FieldUtmCampaign, e.UTM.Campaign)
	first(click.FieldUtmTerm, e.UTM.Term)
	first(click.FieldUtmContent, e.UTM.Content)
	a := &e.AdClickIDs
	first(click.FieldGclid, a.GCLID)
	first(click.FieldGbraid, a.GBRAID)
	first(click.FieldWbraid, a.WBRAID)
	first(click.FieldFbclid, a.FBCLID)
	first(click.FieldTtclid, a.TTCLID)
	first(click.FieldMsclkid, a.MSCLKID)
	first(click.FieldLiFatID, a.LiFatID)
	first(click.FieldTwclid, a.TWCLID)
	first(click.FieldEpik, a.EPIK)
	first(click.FieldSccid, a.ScCID)
	first(click.FieldFbp, e.FBP)
	first(click.FieldFbc, e.FBC)
	first(click.FieldTtp, e.TTP)
	first(click.FieldLanguage, e.Language)
	first(click.FieldScreen, e.Screen)
}

// props turns a custom event's properties into the strings the column holds:
// numbers as their exact text, booleans as true or false.
func props(p map[string]any) map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		switch v := v.(type) {
		case string:
			out[k] = cut(v, propSize)
		case bool:
			out[k] = strconv.FormatBool(v)
		case json.Number:
			out[k] = v.String()
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}
