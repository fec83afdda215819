// Package report computes the dashboard's reports: visits, outbound clicks,
// conversions, revenue and deliveries of one account over a time range,
// grouped by time and by the dimensions of PRODUCT.md.
//
// A report is the merge of up to three sides, each one GROUP BY query:
// the click side (visits and outbound clicks), the conversion side
// (conversions, leads, purchases, revenue) and the delivery side (deliveries
// sent and failed). Each side reads the hourly rollups (ClickRollup,
// ConversionRollup, kept by Rollup) for the whole hours before the rollups'
// sealed point when it can, and the raw tables for the rest, so a report is
// always exact and up to date while a 30-day report over millions of rows
// reads thousands.
//
// The SQL is raw, per dialect, and every query filters by account_id
// itself: the ent privacy rules do not see it. Query.AccountID must be the
// viewer's account, and nothing else decides which rows are read.
package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"entgo.io/ent/dialect"
)

// Dimension is what a report groups by.
type Dimension string

// The dimensions of PRODUCT.md.
const (
	Day         Dimension = "DAY"
	Hour        Dimension = "HOUR"
	Integration Dimension = "INTEGRATION"
	UTMSource   Dimension = "UTM_SOURCE"
	UTMMedium   Dimension = "UTM_MEDIUM"
	UTMCampaign Dimension = "UTM_CAMPAIGN"
	LandingPage Dimension = "LANDING_PAGE"
	Destination Dimension = "DESTINATION"
	EventName   Dimension = "EVENT_NAME"
)

func (d Dimension) valid() bool {
	switch d {
	case Day, Hour, Integration, UTMSource, UTMMedium, UTMCampaign, LandingPage, Destination, EventName:
		return true
	}
	return false
}

func (d Dimension) isTime() bool { return d == Day || d == Hour }

// Attribution says which time places a conversion in the report's range
// and its DAY/HOUR: when it was received, or when its click happened.
type Attribution string

// The attribution times.
const (
	ConversionTime Attribution = "CONVERSION_TIME"
	ClickTime      Attribution = "CLICK_TIME"
)

// Filters narrow a report. The UTM and property filters apply to both
// sides (a conversion's UTM parameters are those of its matched click);
// the integration and event name filters exist only for conversions and
// deliveries, and leave the click side as it is. Values are compared
// exactly; an empty list does not filter.
type Filters struct {
	IntegrationIDs []string
	PropertyIDs    []string
	UTMSources     []string
	UTMMediums     []string
	UTMCampaigns   []string
	EventNames     []string
}

func (f Filters) onUTM() bool {
	return len(f.UTMSources)+len(f.UTMMediums)+len(f.UTMCampaigns) > 0
}

// Need says which sides the caller will read; a side nobody reads is not
// queried.
type Need struct {
	Clicks      bool
	Conversions bool
	Deliveries  bool
}

// All needs every side.
var All = Need{Clicks: true, Conversions: true, Deliveries: true}

// Query is one report request.
type Query struct {
	// AccountID is the only account whose rows are read.
	AccountID string
	// From (inclusive) and To (exclusive) bound the report.
	From, To time.Time
	GroupBy  []Dimension
	// Location gives DAY and HOUR their meaning.
	Location    *time.Location
	Attribution Attribution
	// Currency is the account's currency, which revenue is reported in.
	Currency string
	Filters  Filters
	Need     Need
	// MaxRows bounds the rows of the answer (DefaultMaxRows when 0): a
	// report with more fails with ErrTooManyRows rather than being cut.
	MaxRows int
}

// Limits of a query.
const (
	MaxRange       = 2 * 366 * 24 * time.Hour
	DefaultMaxRows = 10_000
	maxFilterItems = 100
	maxFilterLen   = 2048
)

// ErrTooManyRows means the report would have more rows than allowed.
var ErrTooManyRows = errors.New("report has too many rows: group by fewer dimensions, filter, or shorten the range")

// InputError is a problem with a report query, worded for a person.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Validate checks q and fills its defaults.
func (q *Query) Validate() error {
	if q.AccountID == "" {
		return errors.New("report without an account")
	}
	if q.From.IsZero() || q.To.IsZero() || !q.To.After(q.From) {
		return &InputError{"to must be after from"}
	}
	if q.To.Sub(q.From) > MaxRange {
		return &InputError{fmt.Sprintf("a report covers at most %d days", int(MaxRange.Hours()/24))}
	}
	if len(q.GroupBy) > 9 {
		return &InputError{"groupBy has too many dimensions"}
	}
	seen := map[Dimension]bool{}
	for _, d := range q.GroupBy {
		if !d.valid() {
			return &InputError{fmt.Sprintf("%q is not a report dimension", d)}
		}
		if seen[d] {
			return &InputError{fmt.Sprintf("groupBy names %s twice", d)}
		}
		seen[d] = true
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	switch q.Attribution {
	case "":
		q.Attribution = ConversionTime
	case ConversionTime, ClickTime:
	default:
		return &InputError{fmt.Sprintf("%q is not an attribution time", q.Attribution)}
	}
	if q.MaxRows <= 0 {
		q.MaxRows = DefaultMaxRows
	}
	for _, list := range [][]string{q.Filters.IntegrationIDs, q.Filters.PropertyIDs, q.Filters.UTMSources,
		q.Filters.UTMMediums, q.Filters.UTMCampaigns, q.Filters.EventNames} {
		if len(list) > maxFilterItems {
			return &InputError{fmt.Sprintf("a filter holds at most %d values", maxFilterItems)}
		}
		for _, v := range list {
			if len(v) > maxFilterLen {
				return &InputError{"a filter value is too long"}
			}
		}
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	return nil
}

func (q *Query) has(d Dimension) bool {
	for _, g := range q.GroupBy {
		if g == d {
			return true
		}
	}
	return false
}

func (q *Query) timeGrouped() bool { return q.has(Day) || q.has(Hour) }

// Row is one line of a report: the keys (one per GroupBy dimension, in
// order) and the metrics.
type Row struct {
	Keys             []string
	Clicks           int64
	OutboundClicks   int64
	Conversions      int64
	Leads            int64
	Purchases        int64
	DeliveriesSent   int64
	DeliveriesFailed int64
	// Revenue is in the report's currency; conversions in a currency
	// without an exchange rate are counted but their revenue is not (see
	// Report.UnconvertedCurrencies).
	Revenue float64
	// amounts are the revenue micro-units per original currency.
	amounts map[string]int64
}

// ConversionRate is conversions per visit, 0 without visits.
func (r Row) ConversionRate() float64 {
	if r.Clicks == 0 {
		return 0
	}
	return float64(r.Conversions) / float64(r.Clicks)
}

// EarningsPerClick is revenue per visit, 0 without visits.
func (r Row) EarningsPerClick() float64 {
	if r.Clicks == 0 {
		return 0
	}
	return r.Revenue / float64(r.Clicks)
}

func (r *Row) add(o *Row) {
	r.Clicks += o.Clicks
	r.OutboundClicks += o.OutboundClicks
	r.Conversions += o.Conversions
	r.Leads += o.Leads
	r.Purchases += o.Purchases
	r.DeliveriesSent += o.DeliveriesSent
	r.DeliveriesFailed += o.DeliveriesFailed
	for c, a := range o.amounts {
		r.addAmount(c, a)
	}
}

func (r *Row) addAmount(currency string, micros int64) {
	if micros == 0 {
		return
	}
	if r.amounts == nil {
		r.amounts = map[string]int64{}
	}
	r.amounts[currency] += micros
}

// Report is the answer to a Query.
type Report struct {
	Rows   []Row
	Totals Row
	// Currency is the currency of every Revenue.
	Currency string
	// UnconvertedCurrencies are the currencies of conversions whose revenue
	// is left out for want of an exchange rate.
	UnconvertedCurrencies []string
}

// Run computes the report q over db with the exchange rates.
func Run(ctx context.Context, db DB, q Query, rates Rates) (*Report, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	sealed, err := sealedThrough(ctx, db)
	if err != nil {
		return nil, err
	}
	return run(ctx, db, q, rates, sealed)
}

// run computes the validated report q with the rollups sealed through
// sealed (unix seconds; 0 reads only the raw tables).
func run(ctx context.Context, db DB, q Query, rates Rates, sealed int64) (*Report, error) {
	p := plan(&q, sealed)
	if db.Dialect == dialect.Postgres && db.tx == nil && p.fromRollups(&q) {
		// Small reads, each planned alone: PostgreSQL's parallel workers
		// cost more to start than they save (on a busy 2-core machine,
		// tens of milliseconds), so they are turned off for the report's
		// read-only transaction.
		tx, err := db.SQL.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		db.tx = tx
	}
	if q.Attribution == ClickTime && sealed > 0 {
		if err := p.resolveReceived(ctx, db, &q, sealed); err != nil {
			return nil, err
		}
	}
	rows := map[string]*Row{}
	for _, s := range p.statements(&q, db.Dialect) {
		if err := s.run(ctx, db, &q, rows); err != nil {
			return nil, err
		}
		if len(rows) > q.MaxRows {
			return nil, ErrTooManyRows
		}
	}
	out := &Report{Currency: q.Currency}
	missing := map[string]bool{}
	for _, r := range rows {
		r.Revenue = rates.convert(r.amounts, q.Currency, missing)
		out.Rows = append(out.Rows, *r)
	}
	sort.Slice(out.Rows, func(i, j int) bool { return lessKeys(out.Rows[i].Keys, out.Rows[j].Keys) })
	if q.has(Destination) {
		// A conversion forwarded to two destinations is in two rows: the
		// totals are their own query.
		t := q
		t.GroupBy = nil
		tr, err := run(ctx, db, t, rates, sealed)
		if err != nil {
			return nil, err
		}
		out.Totals = tr.Totals
		for _, c := range tr.UnconvertedCurrencies {
			missing[c] = true
		}
	} else {
		out.Totals = Row{Keys: []string{}}
		for i := range out.Rows {
			out.Totals.add(&out.Rows[i])
		}
		out.Totals.Revenue = rates.convert(out.Totals.amounts, q.Currency, missing)
	}
	for c := range missing {
		out.UnconvertedCurrencies = append(out.UnconvertedCurrencies, c)
	}
	sort.Strings(out.UnconvertedCurrencies)
	return out, nil
}

func lessKeys(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// rowKey is the map key of a row's keys.
func rowKey(keys []string) string { return strings.Join(keys, "\x00") }

// timeKey is the key of a time dimension for the bucket starting at unix
// seconds: the local date for DAY, the local hour (RFC 3339, with its
// offset, so the repeated hour of a DST change stays two rows) for HOUR.
func timeKey(d Dimension, unix int64, loc *time.Location) string {
	t := time.Unix(unix, 0).In(loc)
	if d == Day {
		return t.Format(time.DateOnly)
	}
	return t.Add(-time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second).Format(time.RFC3339)
}
