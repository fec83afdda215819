package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/privacy"

	"github.com/99designs/gqlgen/graphql"

	"github.com/clickback/clickback/admin"
	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/eventlog"
	"github.com/clickback/clickback/graph/model"
	"github.com/clickback/clickback/metrics"
	"github.com/clickback/clickback/report"
	"github.com/clickback/clickback/viewer"
)

// runReport turns a ReportInput into a report.Query for the viewer's
// account — the only account a report ever reads — runs it, and shapes
// the answer. Sides whose fields the operation does not select are not
// queried.
func runReport(ctx context.Context, in model.ReportInput) (*model.Report, error) {
	began := time.Now()
	defer func() { metrics.Reports.Observe(time.Since(began).Seconds()) }()
	v, _ := viewer.FromContext(ctx)
	client := ent.FromContext(ctx)
	acc, err := client.Account.Get(ctx, v.AccountID)
	if err != nil {
		return nil, err
	}
	tz := acc.Timezone
	if in.Timezone != nil {
		tz = *in.Timezone
	}
	loc, err := admin.LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	q := report.Query{AccountID: acc.ID, From: in.From, To: in.To, Location: loc, Currency: acc.Currency, Need: reportNeed(ctx)}
	for _, d := range in.GroupBy {
		q.GroupBy = append(q.GroupBy, report.Dimension(d))
	}
	if in.Attribution != nil {
		q.Attribution = report.Attribution(*in.Attribution)
	}
	if f := in.Filters; f != nil {
		q.Filters = report.Filters{IntegrationIDs: f.IntegrationIDs, PropertyIDs: f.PropertyIDs, UTMSources: f.UtmSources,
			UTMMediums: f.UtmMediums, UTMCampaigns: f.UtmCampaigns, EventNames: f.EventNames}
	}
	db, dialect, ok := client.SQLDB()
	if !ok {
		return nil, errors.New("report: no database handle under the ent client")
	}
	rates, err := report.LoadRates(ctx, client)
	if err != nil {
		return nil, err
	}
	r, err := report.Run(ctx, report.DB{SQL: db, Dialect: dialect}, q, rates)
	var ie *report.InputError
	switch {
	case errors.As(err, &ie):
		return nil, &auth.InputError{Msg: ie.Msg}
	case errors.Is(err, report.ErrTooManyRows):
		return nil, &auth.InputError{Msg: err.Error()}
	case err != nil:
		return nil, err
	}
	out := &model.Report{Currency: r.Currency, Timezone: tz, UnconvertedCurrencies: r.UnconvertedCurrencies, Totals: reportRow(r.Totals, r.Currency)}
	if out.UnconvertedCurrencies == nil {
		out.UnconvertedCurrencies = []string{}
	}
	out.Rows = make([]*model.ReportRow, len(r.Rows))
	for i, row := range r.Rows {
		out.Rows[i] = reportRow(row, r.Currency)
	}
	return out, nil
}

func reportRow(r report.Row, currency string) *model.ReportRow {
	keys := r.Keys
	if keys == nil {
		keys = []string{}
	}
	return &model.ReportRow{
		Keys: keys, Clicks: int(r.Clicks), OutboundClicks: int(r.OutboundClicks), Conversions: int(r.Conversions),
		Leads: int(r.Leads), Purchases: int(r.Purchases), Revenue: r.Revenue, Currency: currency,
		ConversionRate: r.ConversionRate(), EarningsPerClick: r.EarningsPerClick(),
		DeliveriesSent: int(r.DeliveriesSent), DeliveriesFailed: int(r.DeliveriesFailed),
	}
}

// reportNeed says which sides of a report the operation reads, from the
// fields it selects in rows and totals.
func reportNeed(ctx context.Context) report.Need {
	var need report.Need
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name != "rows" && f.Name != "totals" {
			continue
		}
		for _, m := range graphql.CollectFields(oc, f.Selections, nil) {
			switch m.Name {
			case "clicks", "outboundClicks":
				need.Clicks = true
			case "conversions", "leads", "purchases", "revenue":
				need.Conversions = true
			case "conversionRate", "earningsPerClick":
				need.Clicks, need.Conversions = true, true
			case "deliveriesSent", "deliveriesFailed":
				need.Deliveries = true
			}
		}
	}
	return need
}

// setRates stores the operator's exchange rates and returns them all.
func setRates(ctx context.Context, in []*model.ExchangeRateInput) ([]*ent.ExchangeRate, error) {
	client := ent.FromContext(ctx)
	ok, err := admin.IsOperator(ctx, client)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errForbidden(admin.ErrNotOperator)
	}
	rates := make(map[string]float64, len(in))
	for _, r := range in {
		if _, dup := rates[r.Currency]; dup {
			return nil, &auth.InputError{Msg: r.Currency + " is given twice"}
		}
		rates[r.Currency] = r.PerUsd
	}
	err = report.SetRates(ctx, client, rates)
	var ie *report.InputError
	if errors.As(err, &ie) {
		return nil, &auth.InputError{Msg: ie.Msg}
	}
	if err != nil {
		return nil, err
	}
	return client.ExchangeRate.Query().Order(ent.Asc("currency")).All(ctx)
}

// session shapes an auth session as the GraphQL payload.
func session(s *auth.Session, err error) (*model.AuthPayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{Token: s.Token, User: s.User, Account: s.Account, Role: s.Role}, nil
}

// integrationHealth shapes eventlog's health of an integration.
func integrationHealth(ctx context.Context, obj *ent.Integration) (*model.IntegrationHealth, error) {
	h, err := eventlog.IntegrationHealth(ctx, ent.FromContext(ctx), obj.ID, timeNow())
	if err != nil {
		return nil, err
	}
	out := &model.IntegrationHealth{LastConversionAt: h.LastConversionAt, StatusCounts24h: []*model.ConversionStatusCount{}, TopFailureCount: h.TopFailureCount}
	if h.TopFailure != "" {
		out.TopFailureReason = &h.TopFailure
	}
	for _, c := range h.StatusCounts {
		out.StatusCounts24h = append(out.StatusCounts24h, &model.ConversionStatusCount{Status: c.Status, Count: c.Count})
	}
	return out, nil
}

// timeNow is the clock of integration health.
var timeNow = time.Now

// errForbidden makes err a FORBIDDEN error for the client.
func errForbidden(err error) error { return fmt.Errorf("%w: %w", privacy.Deny, err) }
