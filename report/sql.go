package report

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
)

// DB is what reports read: the shared *sql.DB and its dialect
// (dialect.SQLite or dialect.Postgres).
type DB struct {
	SQL     *sql.DB
	Dialect string
	// tx, when set, is what reports read through: Run's transaction.
	tx *sql.Tx
}

func (db DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.tx != nil {
		return db.tx.QueryContext(ctx, query, args...)
	}
	return db.SQL.QueryContext(ctx, query, args...)
}

// Raw buckets are 15 minutes, the finest offset of any time zone, so that
// DAY and HOUR are exact in every zone; rollup buckets are hours, so the
// rollups serve only zones whose offset is a whole number of hours over the
// range (every other zone reads raw rows).
const (
	rawBucket    = 15 * 60
	rollupBucket = 3600
)

// span is a half-open time range read from the raw tables.
type span struct{ from, to time.Time }

// window is what a side reads from the rollups: the whole buckets of
// [from, to) (unix seconds), when ok, and the spans beside it read raw;
// without ok, the side reads the whole range raw. quarter says the window
// reads the quarter-hour rollups: a report by DAY or HOUR in a time zone
// whose offset is not a whole number of hours.
type window struct {
	ok       bool
	quarter  bool
	from, to int64
	rest     []span
}

// queryPlan gives each side its window.
type queryPlan struct {
	clicks, conversions window
	whole               []span
	// late is set when conversions are placed by click time: those received
	// from the sealed point on are not rolled up, and are read raw for
	// the clicks of the window.
	late *time.Time
	// receivedIn holds, by click time, for each span of clicks read raw,
	// the hours in which the conversions of those clicks were received
	// before the sealed point (see receivedHours): a raw read of the
	// conversions of a few minutes of clicks reads those hours and the
	// ones not rolled up yet, rather than every conversion since.
	receivedIn map[span][]span
	sealed     int64
}

// fromRollups reports whether every side q reads comes from the rollups
// but for partial buckets at the edges: a few thousand rows at most.
func (p queryPlan) fromRollups(q *Query) bool {
	return (!q.Need.Clicks || p.clicks.ok) && (!q.Need.Conversions && !q.Need.Deliveries || p.conversions.ok)
}

// rawConversionSpans are the spans whose conversions are read raw.
func (p queryPlan) rawConversionSpans() []span {
	if !p.conversions.ok {
		return p.whole
	}
	return p.conversions.rest
}

func plan(q *Query, sealed int64) queryPlan {
	p := queryPlan{whole: []span{{q.From, q.To}}, sealed: sealed}
	if sealed <= 0 {
		return p
	}
	p.clicks = newWindow(q, sealed)
	if q.Attribution == ClickTime {
		// Every conversion received before the sealed point is rolled
		// up, whenever its click: the window is the range's whole hours.
		p.conversions = newWindow(q, q.To.Unix())
		if p.conversions.ok {
			late := time.Unix(sealed, 0).UTC()
			p.late = &late
		}
	} else {
		p.conversions = p.clicks
	}
	return p
}

// newWindow is the rollup window of q's range up to limit (unix seconds).
func newWindow(q *Query, limit int64) window {
	w := window{ok: true, from: ceilTo(q.From.Unix(), rollupBucket), to: min(q.To.Unix(), limit) / rollupBucket * rollupBucket}
	if q.timeGrouped() && !aligned(q.Location, w.from, w.to, rollupBucket) {
		if !quarterServes(q) {
			return window{}
		}
		w = window{ok: true, quarter: true, from: ceilTo(q.From.Unix(), rawBucket), to: min(q.To.Unix(), limit) / rawBucket * rawBucket}
		if !aligned(q.Location, w.from, w.to, rawBucket) {
			return window{}
		}
	}
	if w.from >= w.to {
		return window{}
	}
	if f := time.Unix(w.from, 0).UTC(); q.From.Before(f) {
		w.rest = append(w.rest, span{q.From, f})
	}
	if t := time.Unix(w.to, 0).UTC(); t.Before(q.To) {
		w.rest = append(w.rest, span{t, q.To})
	}
	return w
}

// part is a stretch of a window read from one set of rollup rows: those of
// size-second buckets (rollupBucket, rawBucket or dayBucket) in [from, to),
// and, when receivedFrom is set, only of the conversions received from
// then on.
type part struct {
	from, to, size, receivedFrom int64
}

// parts splits a window: a report without a time dimension reads the day
// rows for the whole UTC days of the window and the hour rows for the rest.
// By click time, the day rows hold the conversions received before the
// last complete day; the hour rows add those received since.
func (w window) parts(q *Query, conversions bool, sealed int64) []part {
	if w.quarter {
		return []part{{from: w.from, to: w.to, size: rawBucket}}
	}
	df, dt := ceilTo(w.from, dayBucket), w.to/dayBucket*dayBucket
	if q.timeGrouped() || df >= dt {
		return []part{{from: w.from, to: w.to, size: rollupBucket}}
	}
	out := []part{{from: df, to: dt, size: dayBucket}}
	if conversions && q.Attribution == ClickTime {
		out = append(out, part{from: df, to: dt, size: rollupBucket, receivedFrom: sealed / dayBucket * dayBucket})
	}
	if w.from < df {
		out = append(out, part{from: w.from, to: df, size: rollupBucket})
	}
	if dt < w.to {
		out = append(out, part{from: dt, to: w.to, size: rollupBucket})
	}
	return out
}

// quarterServes reports whether the quarter-hour rollups, which have
// neither UTM parameters, landing pages nor properties, serve q.
func quarterServes(q *Query) bool {
	return !q.has(UTMSource) && !q.has(UTMMedium) && !q.has(UTMCampaign) && !q.has(LandingPage) &&
		!q.Filters.onUTM() && len(q.Filters.PropertyIDs) == 0
}

func ceilTo(unix, size int64) int64 {
	if unix%size == 0 {
		return unix
	}
	return (unix/size + 1) * size
}

// aligned reports whether every size-second bucket of [from, to) starts on
// a whole local hour (size 3600) or quarter hour (size 900) of loc.
func aligned(loc *time.Location, from, to, size int64) bool {
	for t := from; t < to; t += size {
		if _, off := time.Unix(t, 0).In(loc).Zone(); int64(off)%size != 0 {
			return false
		}
	}
	return true
}

// stmt is one GROUP BY query. Every statement selects the same columns:
// the bucket (unix seconds, 0 when the report has no time dimension), one
// string per non-time dimension, then clicks, outbound clicks,
// conversions, leads, purchases, currency, amount micro-units, deliveries
// sent and failed.
type stmt struct {
	sql  string
	args []any
}

// builder writes one statement with the dialect's placeholders.
type builder struct {
	dialect string
	sb      strings.Builder
	args    []any
}

func (b *builder) w(parts ...string) {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return placeholder(b.dialect, len(b.args))
}

func (b *builder) in(col string, values []string) string {
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = b.arg(v)
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

// epoch is the unix seconds of a time column. SQLite holds times as the
// text modernc.org/sqlite writes ("2006-01-02 15:04:05.999999999 -0700
// MST"), which SQLite's date functions cannot read whole: the offset is
// applied by hand.
func (b *builder) epoch(col string) string {
	if b.dialect == dialect.Postgres {
		return "extract(epoch from " + col + ")"
	}
	sp := "instr(substr(" + col + ", 20), ' ')"
	return "(unixepoch(substr(" + col + ", 1, 19)) - (CASE substr(" + col + ", " + sp + " + 20, 1) WHEN '-' THEN -1 ELSE 1 END) * " +
		"(CAST(substr(" + col + ", " + sp + " + 21, 2) AS INTEGER) * 3600 + CAST(substr(" + col + ", " + sp + " + 23, 2) AS INTEGER) * 60))"
}

// bucket is the start of the size-second bucket of the unix seconds e.
func (b *builder) bucket(e string, size int) string {
	s := strconv.Itoa(size)
	if b.dialect == dialect.Postgres {
		return "(floor(" + e + " / " + s + ") * " + s + ")::bigint"
	}
	return "((" + e + ") / " + s + " * " + s + ")"
}

// jsonText is a text member of a JSON column, ” when absent.
func (b *builder) jsonText(col, key string) string {
	if b.dialect == dialect.Postgres {
		return "coalesce(" + col + "->>'" + key + "', '')"
	}
	return "coalesce(json_extract(" + col + ", '$." + key + "'), '')"
}

// page is a landing page without its query string and fragment, so that
// visits of one page with different ad parameters are one row.
func (b *builder) page(expr string) string {
	if b.dialect == dialect.Postgres {
		return "split_part(split_part(coalesce(" + expr + ", ''), '?', 1), '#', 1)"
	}
	cut := func(e, sep string) string {
		return "(CASE WHEN instr(" + e + ", '" + sep + "') > 0 THEN substr(" + e + ", 1, instr(" + e + ", '" + sep + "') - 1) ELSE " + e + " END)"
	}
	return cut(cut("coalesce("+expr+", '')", "?"), "#")
}

// timeIn is the condition that the time column col falls in one of spans.
func (b *builder) timeIn(col string, spans []span) string {
	parts := make([]string, len(spans))
	for i, s := range spans {
		parts[i] = "(" + col + " >= " + b.arg(s.from) + " AND " + col + " < " + b.arg(s.to) + ")"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// epochIn is timeIn for a time given as unix seconds.
func (b *builder) epochIn(e string, spans []span) string {
	parts := make([]string, len(spans))
	for i, s := range spans {
		parts[i] = "(" + e + " >= " + b.arg(s.from.Unix()) + " AND " + e + " < " + b.arg(s.to.Unix()) + ")"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// columns are the expressions a side selects for each output column.
type columns struct {
	bucket  string               // "" when the report has no time dimension
	dims    map[Dimension]string // absent: ''
	metrics [9]string
}

func (b *builder) selectList(q *Query, c columns) {
	b.w("SELECT ")
	if c.bucket == "" {
		b.w("0")
	} else {
		b.w(c.bucket)
	}
	for _, d := range q.GroupBy {
		if d.isTime() {
			continue
		}
		e, ok := c.dims[d]
		if !ok {
			e = "''"
		}
		b.w(", ", e)
	}
	for i, m := range c.metrics {
		if i != 5 { // every metric but the currency is an integer on both databases
			m = "CAST(" + m + " AS BIGINT)"
		}
		b.w(", ", m)
	}
}

// groupBy groups by the bucket, the dimensions and, when currency is set,
// the currency column (ordinal positions: both dialects take them).
func (b *builder) groupBy(q *Query, currency bool) {
	n := 1
	for _, d := range q.GroupBy {
		if !d.isTime() {
			n++
		}
	}
	cols := make([]string, 0, n+1)
	for i := 1; i <= n; i++ {
		cols = append(cols, strconv.Itoa(i))
	}
	if currency {
		cols = append(cols, strconv.Itoa(n+6)) // the currency column
	}
	b.w(" GROUP BY ", strings.Join(cols, ", "))
}

func (b *builder) done() stmt { return stmt{sql: b.sb.String(), args: b.args} }

const (
	countLeads     = "sum(CASE WHEN v.kind = 'LEAD' THEN 1 ELSE 0 END)"
	countPurchases = "sum(CASE WHEN v.kind = 'PURCHASE' THEN 1 ELSE 0 END)"
	countSent      = "sum(CASE WHEN d.status = 'SENT' THEN 1 ELSE 0 END)"
	countFailed    = "sum(CASE WHEN d.status = 'FAILED' THEN 1 ELSE 0 END)"
	// countedConversion excludes what is not a conversion of the account's
	// traffic: tests, repeats and unusable postbacks. These are fixed when
	// a conversion is received, which is what lets the rollups count them.
	countedConversion = "v.test = false AND v.status NOT IN ('DUPLICATE', 'INVALID')"
)

func (p queryPlan) statements(q *Query, d string) []stmt {
	var out []stmt
	if q.Need.Clicks {
		clickSpans := p.whole
		if p.clicks.ok {
			for _, pt := range p.clicks.parts(q, false, p.sealed) {
				out = append(out, clickRollupStmt(q, d, pt))
			}
			clickSpans = p.clicks.rest
		}
		// One statement per span: a range each is an index range scan,
		// where an OR of ranges may be planned as a scan of the table.
		for _, sp := range clickSpans {
			out = append(out, clickStmt(q, d, []span{sp}), outboundStmt(q, d, []span{sp}))
		}
	}
	byDest := q.has(Destination)
	if !q.Need.Conversions && !q.Need.Deliveries {
		return out
	}
	raw := func(spans []span, bound receivedBound) {
		for _, sp := range spans {
			received := bound
			if in, ok := p.receivedIn[sp]; ok && p.late != nil {
				received = receivedBound{from: *p.late, or: in}
			}
			if byDest {
				out = append(out, deliveryStmt(q, d, []span{sp}, received, true))
				continue
			}
			if q.Need.Conversions {
				out = append(out, conversionStmt(q, d, []span{sp}, received))
			}
			if q.Need.Deliveries {
				out = append(out, deliveryStmt(q, d, []span{sp}, received, false))
			}
		}
	}
	w := p.conversions
	if !w.ok {
		raw(p.whole, receivedBound{})
		return out
	}
	for _, pt := range w.parts(q, true, p.sealed) {
		out = append(out, conversionRollupStmt(q, d, pt))
	}
	raw(w.rest, receivedBound{})
	if p.late != nil {
		raw([]span{{time.Unix(w.from, 0).UTC(), time.Unix(w.to, 0).UTC()}}, receivedBound{from: *p.late})
	}
	return out
}

// receivedBound confines conversions placed by click time to those received
// from a time on, or in one of the spans or (zero: no bound beyond the
// usual).
type receivedBound struct {
	from time.Time
	or   []span
}

func zeroMetrics() [9]string { return [9]string{"0", "0", "0", "0", "0", "''", "0", "0", "0"} }

// clickDims are the dimensions of a visit, from the clicks table c.
func clickDims(b *builder, c string) map[Dimension]string {
	return map[Dimension]string{
		UTMSource:   "coalesce(" + c + ".utm_source, '')",
		UTMMedium:   "coalesce(" + c + ".utm_medium, '')",
		UTMCampaign: "coalesce(" + c + ".utm_campaign, '')",
		LandingPage: b.page(c + ".landing_page"),
	}
}

func clickFilters(b *builder, q *Query, c, property string) {
	f := q.Filters
	if len(f.PropertyIDs) > 0 {
		b.w(" AND ", b.in(property, f.PropertyIDs))
	}
	for _, x := range []struct {
		col    string
		values []string
	}{{"utm_source", f.UTMSources}, {"utm_medium", f.UTMMediums}, {"utm_campaign", f.UTMCampaigns}} {
		if len(x.values) > 0 {
			b.w(" AND ", b.in("coalesce("+c+"."+x.col+", '')", x.values))
		}
	}
}

func clickStmt(q *Query, d string, spans []span) stmt {
	b := &builder{dialect: d}
	c := columns{dims: clickDims(b, "c"), metrics: zeroMetrics()}
	c.metrics[0] = "count(*)"
	if q.timeGrouped() {
		c.bucket = b.bucket(b.epoch("c.created_at"), rawBucket)
	}
	b.selectList(q, c)
	b.w(" FROM clicks c WHERE c.account_id = ", b.arg(q.AccountID), " AND c.bot = false AND ", b.timeIn("c.created_at", spans))
	clickFilters(b, q, "c", "c.property_id")
	b.groupBy(q, false)
	return b.done()
}

func outboundStmt(q *Query, d string, spans []span) stmt {
	b := &builder{dialect: d}
	c := columns{dims: clickDims(b, "c"), metrics: zeroMetrics()}
	c.metrics[1] = "count(*)"
	if q.timeGrouped() {
		c.bucket = b.bucket(b.epoch("e.created_at"), rawBucket)
	}
	b.selectList(q, c)
	acc := b.arg(q.AccountID)
	b.w(" FROM track_events e LEFT JOIN clicks c ON c.account_id = ", acc, " AND c.click_id = e.click_id",
		" WHERE e.account_id = ", acc, " AND e.name = 'OutboundClick' AND e.bot = false AND ", b.timeIn("e.created_at", spans))
	clickFilters(b, q, "c", "e.property_id")
	b.groupBy(q, false)
	return b.done()
}

func clickRollupStmt(q *Query, d string, pt part) stmt {
	b := &builder{dialect: d}
	c := columns{dims: map[Dimension]string{
		UTMSource: "r.utm_source", UTMMedium: "r.utm_medium", UTMCampaign: "r.utm_campaign", LandingPage: "r.landing_page",
	}, metrics: zeroMetrics()}
	c.metrics[0], c.metrics[1] = "sum(r.clicks)", "sum(r.outbound_clicks)"
	if q.timeGrouped() {
		c.bucket = "r.hour"
	}
	b.selectList(q, c)
	// The rows per landing page only when the report needs pages.
	pages := q.has(LandingPage)
	b.w(" FROM click_rollups r WHERE r.account_id = ", b.arg(q.AccountID), " AND r.pages = ", b.arg(pages),
		" AND r.hour >= ", b.arg(pt.from), " AND r.hour < ", b.arg(pt.to), " AND r.minutes = ", strconv.FormatInt(pt.size/60, 10))
	clickFilters(b, q, "r", "r.property_id")
	b.groupBy(q, false)
	return b.done()
}

// conversionTime is the unix seconds that place a conversion v in time.
func conversionTime(b *builder, q *Query) string {
	if q.Attribution == ClickTime {
		if b.dialect == dialect.Postgres {
			return "extract(epoch from (v.attribution->>'clicked_at')::timestamptz)"
		}
		return "unixepoch(json_extract(v.attribution, '$.clicked_at'))"
	}
	return b.epoch("v.received_at")
}

// conversionWhere confines conversions v to the account, the counted
// statuses, the spans and the filters.
func conversionWhere(b *builder, q *Query, spans []span, received receivedBound) {
	acc := b.arg(q.AccountID)
	b.w(" WHERE v.account_id = ", acc, " AND ", countedConversion)
	if q.Attribution == ClickTime {
		// A conversion comes after its click, give or take a late click:
		// the received time bounds the scan, the click time decides.
		lo := spans[0].from.Add(-24 * time.Hour)
		if len(received.or) == 0 && received.from.After(lo) {
			lo = received.from
		}
		b.w(" AND v.received_at >= ", b.arg(lo))
		if len(received.or) > 0 {
			b.w(" AND (v.received_at >= ", b.arg(received.from), " OR ", b.timeIn("v.received_at", received.or), ")")
		}
		b.w(" AND v.attribution IS NOT NULL AND ", b.epochIn(conversionTime(b, q), spans))
	} else {
		b.w(" AND ", b.timeIn("v.received_at", spans))
	}
	f := q.Filters
	if len(f.IntegrationIDs) > 0 {
		b.w(" AND ", b.in("v.integration_id", f.IntegrationIDs))
	}
	if len(f.EventNames) > 0 {
		b.w(" AND ", b.in("v.event_name", f.EventNames))
	}
	if len(f.PropertyIDs) > 0 {
		b.w(" AND v.visit_id IN (SELECT p.id FROM clicks p WHERE p.account_id = ", acc, " AND ", b.in("p.property_id", f.PropertyIDs), ")")
	}
	for _, x := range []struct {
		key    string
		values []string
	}{{"utm_source", f.UTMSources}, {"utm_medium", f.UTMMediums}, {"utm_campaign", f.UTMCampaigns}} {
		if len(x.values) > 0 {
			b.w(" AND ", b.in(b.jsonText("v.attribution", x.key), x.values))
		}
	}
}

func conversionDims(b *builder) map[Dimension]string {
	return map[Dimension]string{
		Integration: "v.integration_id",
		EventName:   "v.event_name",
		UTMSource:   b.jsonText("v.attribution", "utm_source"),
		UTMMedium:   b.jsonText("v.attribution", "utm_medium"),
		UTMCampaign: b.jsonText("v.attribution", "utm_campaign"),
		LandingPage: b.page(b.jsonText("v.attribution", "landing_page")),
	}
}

func conversionStmt(q *Query, d string, spans []span, received receivedBound) stmt {
	b := &builder{dialect: d}
	c := columns{dims: conversionDims(b), metrics: zeroMetrics()}
	c.metrics[2], c.metrics[3], c.metrics[4], c.metrics[5], c.metrics[6] = "count(*)", countLeads, countPurchases, "v.currency", "sum(v.amount_micros)"
	if q.timeGrouped() {
		c.bucket = b.bucket(conversionTime(b, q), rawBucket)
	}
	b.selectList(q, c)
	b.w(" FROM conversions v")
	conversionWhere(b, q, spans, received)
	b.groupBy(q, true)
	return b.done()
}

// rollupLevel is the level of detail of the conversion rollups that q
// needs.
func rollupLevel(q *Query, pt part) int {
	switch {
	case pt.size == rawBucket:
		return levelQuarter
	case pt.size == dayBucket:
		return dayLevel(rollupLevel(q, part{size: rollupBucket}))
	case q.has(LandingPage):
		return levelPage
	case q.has(UTMSource) || q.has(UTMMedium) || q.has(UTMCampaign) || q.Filters.onUTM() || len(q.Filters.PropertyIDs) > 0:
		return levelUTM
	}
	return levelBasic
}

// conversionRollupStmt reads the conversion side (conversions and
// deliveries, as q needs) of the hours [from, to) from the rollups, by
// received or click hour.
func conversionRollupStmt(q *Query, d string, pt part) stmt {
	b := &builder{dialect: d}
	c := columns{dims: map[Dimension]string{
		Integration: "r.integration_id", EventName: "r.event_name", Destination: "r.destination_id",
		UTMSource: "r.utm_source", UTMMedium: "r.utm_medium", UTMCampaign: "r.utm_campaign", LandingPage: "r.landing_page",
	}, metrics: zeroMetrics()}
	byDest := q.has(Destination)
	// Rows with a destination count deliveries; the others conversions.
	conv := func(col string) string {
		if byDest || !q.Need.Conversions {
			return "sum(r." + col + ")"
		}
		return "sum(CASE WHEN r.destination_id = '' THEN r." + col + " ELSE 0 END)"
	}
	if byDest || q.Need.Conversions {
		c.metrics[2], c.metrics[3], c.metrics[4], c.metrics[6] = conv("conversions"), conv("leads"), conv("purchases"), conv("amount_micros")
	}
	c.metrics[5] = "r.currency"
	if q.Need.Deliveries || byDest {
		c.metrics[7], c.metrics[8] = "sum(r.deliveries_sent)", "sum(r.deliveries_failed)"
	}
	hour := "r.hour"
	if q.Attribution == ClickTime {
		hour = "r.click_hour"
	}
	if q.timeGrouped() {
		c.bucket = hour
	}
	b.selectList(q, c)
	b.w(" FROM conversion_rollups r WHERE r.account_id = ", b.arg(q.AccountID), " AND r.level = ", strconv.Itoa(rollupLevel(q, pt)),
		" AND ", hour, " >= ", b.arg(pt.from), " AND ", hour, " < ", b.arg(pt.to))
	if pt.receivedFrom > 0 {
		b.w(" AND r.hour >= ", b.arg(pt.receivedFrom))
	}
	switch {
	case byDest || !q.Need.Conversions:
		b.w(" AND r.destination_id <> ''")
	case !q.Need.Deliveries:
		b.w(" AND r.destination_id = ''")
	}
	f := q.Filters
	if len(f.IntegrationIDs) > 0 {
		b.w(" AND ", b.in("r.integration_id", f.IntegrationIDs))
	}
	if len(f.EventNames) > 0 {
		b.w(" AND ", b.in("r.event_name", f.EventNames))
	}
	if len(f.PropertyIDs) > 0 {
		b.w(" AND ", b.in("r.property_id", f.PropertyIDs))
	}
	for _, x := range []struct {
		col    string
		values []string
	}{{"r.utm_source", f.UTMSources}, {"r.utm_medium", f.UTMMediums}, {"r.utm_campaign", f.UTMCampaigns}} {
		if len(x.values) > 0 {
			b.w(" AND ", b.in(x.col, x.values))
		}
	}
	b.groupBy(q, true)
	return b.done()
}

// deliveryStmt counts the deliveries of the conversions in the spans,
// placed in time by their conversion. With withConversions (a report by
// DESTINATION), it also counts the conversions each destination was sent.
func deliveryStmt(q *Query, d string, spans []span, received receivedBound, withConversions bool) stmt {
	b := &builder{dialect: d}
	dims := conversionDims(b)
	dims[Destination] = "d.destination_id"
	c := columns{dims: dims, metrics: zeroMetrics()}
	c.metrics[7], c.metrics[8] = countSent, countFailed
	if withConversions {
		c.metrics[2], c.metrics[3], c.metrics[4], c.metrics[5], c.metrics[6] = "count(*)", countLeads, countPurchases, "v.currency", "sum(v.amount_micros)"
	}
	if q.timeGrouped() {
		c.bucket = b.bucket(conversionTime(b, q), rawBucket)
	}
	b.selectList(q, c)
	acc := b.arg(q.AccountID)
	b.w(" FROM deliveries d JOIN conversions v ON v.id = d.conversion_id AND v.account_id = d.account_id")
	conversionWhere(b, q, spans, received)
	b.w(" AND d.account_id = ", acc)
	b.groupBy(q, withConversions)
	return b.done()
}

// run executes s and adds its rows into rows. The result is read whole and
// closed before anything else is asked of the database (SQLite has one
// connection).
func (s stmt) run(ctx context.Context, db DB, q *Query, rows map[string]*Row) error {
	rs, err := db.query(ctx, s.sql, s.args...)
	if err != nil {
		return fmt.Errorf("report query: %w", err)
	}
	defer rs.Close()
	var dims []Dimension
	for _, d := range q.GroupBy {
		if !d.isTime() {
			dims = append(dims, d)
		}
	}
	vals := make([]string, len(dims))
	var bucket, clicks, outbound, conv, leads, purchases, amount, sent, failed sql.NullInt64
	var currency sql.NullString
	dest := []any{&bucket}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	dest = append(dest, &clicks, &outbound, &conv, &leads, &purchases, &currency, &amount, &sent, &failed)
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return fmt.Errorf("report row: %w", err)
		}
		keys := make([]string, len(q.GroupBy))
		j := 0
		for i, d := range q.GroupBy {
			if d.isTime() {
				keys[i] = timeKey(d, bucket.Int64, q.Location)
				continue
			}
			keys[i] = vals[j]
			j++
		}
		k := rowKey(keys)
		r := rows[k]
		if r == nil {
			r = &Row{Keys: keys}
			rows[k] = r
		}
		r.add(&Row{
			Clicks: clicks.Int64, OutboundClicks: outbound.Int64, Conversions: conv.Int64,
			Leads: leads.Int64, Purchases: purchases.Int64, DeliveriesSent: sent.Int64, DeliveriesFailed: failed.Int64,
		})
		r.addAmount(currency.String, amount.Int64)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("report rows: %w", err)
	}
	return nil
}

// resolveReceived fills p.receivedIn: for each span of clicks whose
// conversions are read raw, the hours before the sealed point in which
// conversions of clicks of the span's hours were received, from the
// rollups, as spans.
func (p *queryPlan) resolveReceived(ctx context.Context, db DB, q *Query, sealed int64) error {
	if !q.Need.Conversions && !q.Need.Deliveries {
		return nil
	}
	if p.late == nil {
		late := time.Unix(sealed, 0).UTC()
		p.late = &late
	}
	p.receivedIn = map[span][]span{}
	for _, sp := range p.rawConversionSpans() {
		b := &builder{dialect: db.Dialect}
		b.w("SELECT DISTINCT r.hour FROM conversion_rollups r WHERE r.account_id = ", b.arg(q.AccountID), " AND r.level = 0",
			" AND r.click_hour >= ", b.arg(sp.from.Unix()/rollupBucket*rollupBucket), " AND r.click_hour < ", b.arg(ceilTo(sp.to.Unix(), rollupBucket)),
			" ORDER BY r.hour")
		s := b.done()
		rs, err := db.query(ctx, s.sql, s.args...)
		if err != nil {
			return fmt.Errorf("report received hours: %w", err)
		}
		var in []span
		for rs.Next() {
			var h int64
			if err := rs.Scan(&h); err != nil {
				rs.Close()
				return fmt.Errorf("report received hours: %w", err)
			}
			from, to := time.Unix(h, 0).UTC(), time.Unix(h+rollupBucket, 0).UTC()
			if n := len(in); n > 0 && in[n-1].to.Equal(from) {
				in[n-1].to = to
			} else {
				in = append(in, span{from, to})
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("report received hours: %w", err)
		}
		if len(in) == 0 {
			// No rolled-up conversion of these clicks: only those
			// received since the sealed point.
			in = append(in, span{*p.late, *p.late})
		}
		p.receivedIn[sp] = in
	}
	return nil
}
