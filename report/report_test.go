package report_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/report"
	"github.com/clickback/clickback/viewer"
)

var day0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

type testBundle struct {
	db    *database.DB
	rdb   report.DB
	a, b  *seed.Tenant
	int2  string
	rates report.Rates
}

// setup seeds two accounts; account a holds the data the expectations of
// the tests are about, b holds rows a must never see.
func setup(t *testing.T, d string) *testBundle {
	t.Helper()
	db := dbtest.Open(t, d)
	a := seed.NewTenant(t, db.Ent, "")
	b := seed.NewTenant(t, db.Ent, "")
	int2 := a.Integration(t, "second")
	h := func(hours float64) time.Time { return day0.Add(time.Duration(hours * float64(time.Hour))) }
	cl := a.Clicks(t,
		seed.Click{At: h(10), Source: "google", Medium: "cpc", Campaign: "spring", Landing: "https://shop.example/a?gclid=x", Outbound: 2},
		seed.Click{At: h(23.5), Source: "google", Medium: "cpc", Campaign: "spring", Landing: "https://shop.example/a#top"},
		seed.Click{At: h(29), Source: "facebook", Medium: "paid", Campaign: "summer", Landing: "https://shop.example/b", Outbound: 1},
		seed.Click{At: h(30), Source: "google", Bot: true, Outbound: 1},
	)
	a.Conversions(t,
		seed.Conversion{At: h(11), Click: cl[0], AmountMicros: 10_000_000, Delivery: delivery.StatusSENT},
		seed.Conversion{At: h(26), Click: cl[1], Delivery: delivery.StatusFAILED},
		seed.Conversion{At: h(31), Click: cl[2], IntegrationID: int2, AmountMicros: 5_000_000, Currency: "EUR", Event: "Sale"},
		seed.Conversion{At: h(32)},
		seed.Conversion{At: h(33), AmountMicros: 100_000_000, Test: true},
		seed.Conversion{At: h(34), Status: conversion.StatusDUPLICATE, AmountMicros: 100_000_000},
		seed.Conversion{At: h(35), Status: conversion.StatusINVALID},
	)
	bc := b.Clicks(t, seed.Click{At: h(10), Source: "google", Outbound: 3}, seed.Click{At: h(10), Source: "google"})
	b.Conversions(t,
		seed.Conversion{At: h(11), Click: bc[0], AmountMicros: 1_000_000_000, Delivery: delivery.StatusSENT},
		seed.Conversion{At: h(11), IntegrationID: b.IntegrationID, AmountMicros: 7_000_000},
	)
	require.NoError(t, report.SetRates(context.Background(), db.Ent, map[string]float64{"EUR": 0.5}))
	rates, err := report.LoadRates(viewer.SystemContext(context.Background(), a.AccountID), db.Ent)
	require.NoError(t, err)
	return &testBundle{db: db, rdb: report.DB{SQL: db.SQL, Dialect: db.Dialect}, a: a, b: b, int2: int2, rates: rates}
}

func (tb *testBundle) run(t *testing.T, q report.Query) *report.Report {
	t.Helper()
	if q.AccountID == "" {
		q.AccountID = tb.a.AccountID
	}
	if q.From.IsZero() {
		q.From, q.To = day0, day0.Add(72*time.Hour)
	}
	q.Currency = "USD"
	q.Need = report.All
	r, err := report.Run(context.Background(), tb.rdb, q, tb.rates)
	require.NoError(t, err)
	return r
}

// metrics is a row's numbers, for comparisons.
type metrics struct {
	Keys                                                          []string
	Clicks, Outbound, Conversions, Leads, Purchases, Sent, Failed int64
	Revenue                                                       float64
}

func m(r report.Row) metrics {
	return metrics{r.Keys, r.Clicks, r.OutboundClicks, r.Conversions, r.Leads, r.Purchases, r.DeliveriesSent, r.DeliveriesFailed, r.Revenue}
}

func rows(r *report.Report) []metrics {
	out := []metrics{}
	for _, x := range r.Rows {
		out = append(out, m(x))
	}
	return out
}

// checkExpectations asserts the numbers of account a's reports; it runs
// before and after the rollups, which must not change a thing.
func checkExpectations(t *testing.T, tb *testBundle) {
	t.Helper()
	total := tb.run(t, report.Query{})
	require.Equal(t, metrics{[]string{}, 3, 3, 4, 2, 2, 1, 1, 20}, m(total.Totals))
	require.Empty(t, total.UnconvertedCurrencies)

	byDay := tb.run(t, report.Query{GroupBy: []report.Dimension{report.Day}})
	require.Equal(t, []metrics{
		{[]string{"2026-03-10"}, 2, 2, 1, 0, 1, 1, 0, 10},
		{[]string{"2026-03-11"}, 1, 1, 3, 2, 1, 0, 1, 10},
	}, rows(byDay))
	require.Equal(t, m(total.Totals), m(byDay.Totals))

	ny, _ := time.LoadLocation("America/New_York")
	byDayNY := tb.run(t, report.Query{GroupBy: []report.Dimension{report.Day}, Location: ny})
	require.Equal(t, []metrics{
		{[]string{"2026-03-10"}, 2, 2, 2, 1, 1, 1, 1, 10},
		{[]string{"2026-03-11"}, 1, 1, 2, 1, 1, 0, 0, 10},
	}, rows(byDayNY))

	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	byHourIST := tb.run(t, report.Query{GroupBy: []report.Dimension{report.Hour}, Location: kolkata, From: day0.Add(10 * time.Hour), To: day0.Add(12 * time.Hour)})
	require.Equal(t, []metrics{
		{[]string{"2026-03-10T15:00:00+05:30"}, 1, 2, 0, 0, 0, 0, 0, 0},
		{[]string{"2026-03-10T16:00:00+05:30"}, 0, 0, 1, 0, 1, 1, 0, 10},
	}, rows(byHourIST))

	byClickTime := tb.run(t, report.Query{GroupBy: []report.Dimension{report.Day}, Attribution: report.ClickTime})
	require.Equal(t, []metrics{
		{[]string{"2026-03-10"}, 2, 2, 2, 1, 1, 1, 1, 10},
		{[]string{"2026-03-11"}, 1, 1, 1, 0, 1, 0, 0, 10},
	}, rows(byClickTime))

	bySource := tb.run(t, report.Query{GroupBy: []report.Dimension{report.UTMSource, report.UTMCampaign}})
	require.Equal(t, []metrics{
		{[]string{"", ""}, 0, 0, 1, 1, 0, 0, 0, 0},
		{[]string{"facebook", "summer"}, 1, 1, 1, 0, 1, 0, 0, 10},
		{[]string{"google", "spring"}, 2, 2, 2, 1, 1, 1, 1, 10},
	}, rows(bySource))

	byPage := tb.run(t, report.Query{GroupBy: []report.Dimension{report.LandingPage}})
	require.Equal(t, []metrics{
		{[]string{""}, 0, 0, 1, 1, 0, 0, 0, 0},
		{[]string{"https://shop.example/a"}, 2, 2, 2, 1, 1, 1, 1, 10},
		{[]string{"https://shop.example/b"}, 1, 1, 1, 0, 1, 0, 0, 10},
	}, rows(byPage))

	byIntegration := tb.run(t, report.Query{GroupBy: []report.Dimension{report.Integration, report.EventName}})
	require.ElementsMatch(t, []metrics{
		{[]string{"", ""}, 3, 3, 0, 0, 0, 0, 0, 0},
		{[]string{tb.a.IntegrationID, "Lead"}, 0, 0, 2, 2, 0, 0, 1, 0},
		{[]string{tb.a.IntegrationID, "Purchase"}, 0, 0, 1, 0, 1, 1, 0, 10},
		{[]string{tb.int2, "Sale"}, 0, 0, 1, 0, 1, 0, 0, 10},
	}, rows(byIntegration))

	byDestination := tb.run(t, report.Query{GroupBy: []report.Dimension{report.Destination}})
	require.Equal(t, []metrics{
		{[]string{""}, 3, 3, 0, 0, 0, 0, 0, 0},
		{[]string{tb.a.DestinationID}, 0, 0, 2, 1, 1, 1, 1, 10},
	}, rows(byDestination))
	require.Equal(t, m(total.Totals), m(byDestination.Totals), "totals count each conversion once")

	google := tb.run(t, report.Query{Filters: report.Filters{UTMSources: []string{"google"}}})
	require.Equal(t, metrics{[]string{}, 2, 2, 2, 1, 1, 1, 1, 10}, m(google.Totals))
	second := tb.run(t, report.Query{Filters: report.Filters{IntegrationIDs: []string{tb.int2}}})
	require.Equal(t, metrics{[]string{}, 3, 3, 1, 0, 1, 0, 0, 10}, m(second.Totals))
	property := tb.run(t, report.Query{Filters: report.Filters{PropertyIDs: []string{tb.a.PropertyID}}, GroupBy: []report.Dimension{report.Day}})
	require.Equal(t, metrics{[]string{}, 3, 3, 3, 1, 2, 1, 1, 20}, m(property.Totals), "unmatched conversions have no property")

	// Another account's rows are never read, even when asked for by id.
	foreign := tb.run(t, report.Query{Filters: report.Filters{IntegrationIDs: []string{tb.b.IntegrationID}, PropertyIDs: []string{tb.b.PropertyID}}})
	require.Equal(t, metrics{[]string{}, 0, 0, 0, 0, 0, 0, 0, 0}, m(foreign.Totals))
	other := tb.run(t, report.Query{AccountID: tb.b.AccountID})
	require.Equal(t, metrics{[]string{}, 2, 3, 2, 0, 2, 1, 0, 1007}, m(other.Totals))
}

func TestReport(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		tb := setup(t, d)
		checkExpectations(t, tb)
		ctx := context.Background()
		// The seeded hours are months back: the first runs catch up a
		// month at a time, and the report stays exact all along.
		var sealed int64
		for i := 0; ; i++ {
			next, err := report.Rollup(ctx, tb.rdb, time.Now())
			require.NoError(t, err)
			if next == sealed {
				break
			}
			sealed = next
			require.Less(t, i, 24, "the rollups never catch up")
			checkExpectations(t, tb)
		}
		require.Greater(t, sealed, day0.Add(72*time.Hour).Unix())
		var n int
		require.NoError(t, tb.db.SQL.QueryRow("SELECT count(*) FROM click_rollups").Scan(&n))
		require.Positive(t, n, "the rollups hold the seeded hours")
		require.NoError(t, tb.db.SQL.QueryRow("SELECT count(*) FROM conversion_rollups").Scan(&n))
		require.Positive(t, n)
		checkExpectations(t, tb)
		// A second run has nothing left to do and counts nothing twice.
		again, err := report.Rollup(ctx, tb.rdb, time.Now())
		require.NoError(t, err)
		require.Equal(t, sealed, again)
		checkExpectations(t, tb)
	})
}

func TestReportCurrencies(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		tb := setup(t, d)
		q := report.Query{AccountID: tb.a.AccountID, From: day0, To: day0.Add(72 * time.Hour), Currency: "EUR", Need: report.All}
		r, err := report.Run(context.Background(), tb.rdb, q, tb.rates)
		require.NoError(t, err)
		require.Equal(t, 10.0, r.Totals.Revenue, "10 USD = 5 EUR, plus 5 EUR")
		require.Equal(t, "EUR", r.Currency)
		r, err = report.Run(context.Background(), tb.rdb, q, report.Rates{})
		require.NoError(t, err)
		require.Equal(t, 5.0, r.Totals.Revenue, "USD without a EUR rate is left out")
		require.Equal(t, []string{"USD"}, r.UnconvertedCurrencies)
	})
}

func TestSetRates(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite3")
	ctx := context.Background()
	for _, bad := range []map[string]float64{{"ABC": 1}, {"EUR": 0}, {"EUR": -1}, {"eurodollar": 1}} {
		var ie *report.InputError
		require.ErrorAs(t, report.SetRates(ctx, db.Ent, bad), &ie, "%v", bad)
	}
	require.NoError(t, report.SetRates(ctx, db.Ent, map[string]float64{"eur": 0.9, "GBP": 0.8}))
	require.NoError(t, report.SetRates(ctx, db.Ent, map[string]float64{"EUR": 0.95}))
	r, err := report.LoadRates(viewer.SystemContext(ctx, ""), db.Ent)
	require.NoError(t, err)
	require.Equal(t, report.Rates{"EUR": 0.95, "GBP": 0.8}, r)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, q := range map[string]report.Query{
		"empty range":    {AccountID: "a", From: day0, To: day0},
		"reversed":       {AccountID: "a", From: day0, To: day0.Add(-time.Hour)},
		"too long":       {AccountID: "a", From: day0, To: day0.Add(report.MaxRange + time.Hour)},
		"bad dimension":  {AccountID: "a", From: day0, To: day0.Add(time.Hour), GroupBy: []report.Dimension{"COUNTRY"}},
		"twice":          {AccountID: "a", From: day0, To: day0.Add(time.Hour), GroupBy: []report.Dimension{report.Day, report.Day}},
		"attribution":    {AccountID: "a", From: day0, To: day0.Add(time.Hour), Attribution: "FIRST"},
		"filter too big": {AccountID: "a", From: day0, To: day0.Add(time.Hour), Filters: report.Filters{EventNames: make([]string, 101)}},
	} {
		var ie *report.InputError
		require.ErrorAs(t, q.Validate(), &ie, name)
	}
}
