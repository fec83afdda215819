package report_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/report"
	"github.com/clickback/clickback/viewer"
)

// rollupCases are report shapes over every dimension, alone and combined,
// with filters, both attribution times, time zones of whole, half and
// quarter hours, partial hours and each side alone.
func rollupCases(tb *testBundle, now time.Time) []report.Query {
	d := func(ds ...report.Dimension) []report.Dimension { return ds }
	dims := [][]report.Dimension{
		nil, d(report.Day), d(report.Hour), d(report.Integration), d(report.UTMSource), d(report.UTMMedium),
		d(report.UTMCampaign), d(report.LandingPage), d(report.Destination), d(report.EventName),
		d(report.Day, report.UTMSource), d(report.Hour, report.Integration, report.EventName),
		d(report.UTMCampaign, report.LandingPage), d(report.Destination, report.Day), d(report.Destination, report.UTMSource),
		d(report.LandingPage, report.Hour), d(report.Integration, report.Destination, report.EventName),
		d(report.Day, report.Hour, report.Integration, report.UTMSource, report.UTMMedium, report.UTMCampaign,
			report.LandingPage, report.Destination, report.EventName),
	}
	filters := []report.Filters{
		{},
		{UTMSources: []string{"google"}},
		{UTMCampaigns: []string{"spring", "summer"}, UTMMediums: []string{"cpc"}},
		{PropertyIDs: []string{tb.a.PropertyID}},
		{IntegrationIDs: []string{tb.int2}},
		{EventNames: []string{"Lead"}, IntegrationIDs: []string{tb.a.IntegrationID}},
	}
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"}
	ranges := [][2]time.Time{
		{day0, day0.Add(72 * time.Hour)},
		{day0.Add(10*time.Hour + 30*time.Minute), day0.Add(30*time.Hour + 15*time.Minute)},
		{now.Add(-3 * time.Hour), now.Add(time.Hour)},
		{day0, now.Add(time.Hour)},
	}
	needs := []report.Need{report.All, {Clicks: true, Conversions: true}, {Deliveries: true}, {Conversions: true}, {Conversions: true, Deliveries: true}}
	var out []report.Query
	i := 0
	for _, ds := range dims {
		for _, f := range filters {
			for _, attr := range []report.Attribution{report.ConversionTime, report.ClickTime} {
				loc, err := time.LoadLocation(zones[i%len(zones)])
				if err != nil {
					panic(err)
				}
				r := ranges[i/3%len(ranges)]
				out = append(out, report.Query{
					AccountID: tb.a.AccountID, From: r[0], To: r[1], GroupBy: ds, Location: loc, Attribution: attr,
					Currency: "USD", Filters: f, Need: needs[i/7%len(needs)], MaxRows: 100_000,
				})
				i++
			}
		}
	}
	return out
}

// requireAsRaw runs every case with the rollups and from the raw tables
// alone, and requires the same answers.
func requireAsRaw(t *testing.T, tb *testBundle, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, q := range rollupCases(tb, now) {
		name := fmt.Sprintf("%v by %v in %s from %s to %s, %+v, %+v", q.Attribution, q.GroupBy, q.Location, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.Filters, q.Need)
		want, err := report.RunRaw(ctx, tb.rdb, q, tb.rates)
		require.NoError(t, err, name)
		got, err := report.Run(ctx, tb.rdb, q, tb.rates)
		require.NoError(t, err, name)
		require.Equal(t, rows(want), rows(got), name)
		require.Equal(t, m(want.Totals), m(got.Totals), name)
		require.Equal(t, want.UnconvertedCurrencies, got.UnconvertedCurrencies, name)
	}
}

// TestRollupsAsRaw requires the reports read from the rollups to be those
// computed from the raw rows, for every shape, with rows in the current
// (unsealed) hour, and after conversions are matched, delivered, failed
// and retried in hours rolled up long before.
func TestRollupsAsRaw(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		tb := setup(t, d)
		ctx := context.Background()
		now := time.Now().UTC()
		h := func(hours float64) time.Time { return day0.Add(time.Duration(hours * float64(time.Hour))) }
		// Rows of the last hours, some in the hour not rolled up yet.
		recent := tb.a.Clicks(t,
			seed.Click{At: now.Add(-150 * time.Minute), Source: "google", Medium: "cpc", Campaign: "spring", Landing: "https://shop.example/a?x=1", Outbound: 1},
			seed.Click{At: now.Add(-2 * time.Minute), Source: "bing", Medium: "cpc", Campaign: "fall", Landing: "https://shop.example/c"},
		)
		tb.a.Conversions(t,
			seed.Conversion{At: now.Add(-90 * time.Minute), Click: recent[0], AmountMicros: 3_000_000, Delivery: delivery.StatusSENT},
			seed.Conversion{At: now.Add(-time.Minute), Click: recent[1], Delivery: delivery.StatusPENDING},
			seed.Conversion{At: now.Add(-time.Minute), Click: recent[0], IntegrationID: tb.int2, Event: "Sale", AmountMicros: 1_000_000, Currency: "EUR"},
		)
		// A conversion that waits for its click, and one whose delivery
		// will fail and be retried.
		waiting := tb.a.Conversions(t, seed.Conversion{At: h(12), Status: conversion.StatusRECEIVED, AmountMicros: 2_000_000})[0]
		clicks := tb.a.Clicks(t, seed.Click{At: h(11.5), Source: "google", Medium: "cpc", Campaign: "autumn", Landing: "https://shop.example/d"})
		retried := tb.a.Conversions(t, seed.Conversion{At: h(13), Click: clicks[0], Delivery: delivery.StatusFAILED})[0]

		requireAsRaw(t, tb, now)
		for {
			sealed, err := report.Rollup(ctx, tb.rdb, now)
			require.NoError(t, err)
			if sealed >= now.Add(-report.RollupGrace).Unix()/3600*3600 {
				break
			}
		}
		requireAsRaw(t, tb, now)

		// Changes to hours rolled up long ago, seen by the next run.
		sys := viewer.SystemContext(ctx, tb.a.AccountID)
		c := tb.db.Ent
		require.NoError(t, c.Conversion.UpdateOne(waiting).SetStatus(conversion.StatusMATCHED).SetVisitID(clicks[0].ID).
			SetAttribution(map[string]string{"clicked_at": clicks[0].CreatedAt.UTC().Format(time.RFC3339Nano), "utm_source": "google",
				"utm_medium": "cpc", "utm_campaign": "autumn", "landing_page": "https://shop.example/d"}).Exec(sys))
		_, err := c.Delivery.Create().SetConversionID(waiting.ID).SetDestinationID(tb.a.DestinationID).SetStatus(delivery.StatusSENT).
			SetEventID(waiting.ID).SetAccountID(tb.a.AccountID).Save(sys)
		require.NoError(t, err)
		n, err := c.Delivery.Update().Where(delivery.ConversionID(retried.ID)).SetStatus(delivery.StatusSENT).Save(sys)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		// A late conversion of an old hour, committed now.
		tb.a.Conversions(t, seed.Conversion{At: h(14), Click: clicks[0], AmountMicros: 4_000_000})
		_, err = c.Conversion.Update().Where(conversion.ReceivedAt(h(14))).SetUpdatedAt(time.Now()).Save(sys)
		require.NoError(t, err)

		later := now.Add(time.Minute)
		_, err = report.Rollup(ctx, tb.rdb, later)
		require.NoError(t, err)
		requireAsRaw(t, tb, later)
		byCampaign := tb.run(t, report.Query{GroupBy: []report.Dimension{report.UTMCampaign}, Filters: report.Filters{UTMCampaigns: []string{"autumn"}}})
		require.Equal(t, []metrics{{[]string{"autumn"}, 1, 0, 3, 1, 2, 2, 0, 6}}, rows(byCampaign), "the late match, delivery and conversion are counted")

		// Another account's rollups are never read.
		other := tb.run(t, report.Query{AccountID: tb.b.AccountID, GroupBy: []report.Dimension{report.Destination, report.UTMSource}})
		require.Equal(t, metrics{[]string{}, 2, 3, 2, 0, 2, 1, 0, 1007}, m(other.Totals))
		for _, r := range other.Rows {
			require.NotContains(t, r.Keys, tb.a.DestinationID)
		}
	})
}
