package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/viewer"
)

// team is an account with a token per role: its owner, an admin and a
// viewer who joined by invitation, and a VIEWER API key.
type team struct {
	testserver.Account
	Admin, Viewer, Key string
}

func newTeam(t *testing.T, s *testserver.Server, name string) team {
	t.Helper()
	tm := team{Account: s.Signup(t, name)}
	tm.Admin = join(t, s, tm.Token, viewer.RoleAdmin)
	tm.Viewer = join(t, s, tm.Token, viewer.RoleViewer)
	r := s.GraphQL(t, tm.Token, `mutation { createAPIKey(input: {name: "ci", role: VIEWER}) { key } }`, nil)
	var out struct{ CreateAPIKey struct{ Key string } }
	r.Decode(t, &out)
	tm.Key = out.CreateAPIKey.Key
	return tm
}

// join invites a new person with role and accepts for them, returning
// their token.
func join(t *testing.T, s *testserver.Server, ownerToken string, role viewer.Role) string {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(string(role)), time.Now().UnixNano())
	r := s.GraphQL(t, ownerToken, `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { token invitation { id email role } } }`,
		map[string]any{"in": map[string]any{"email": email, "role": role}})
	var inv struct{ InviteMember struct{ Token string } }
	r.Decode(t, &inv)
	r = s.GraphQL(t, "", `mutation($in: AcceptInvitationInput!) { acceptInvitation(input: $in) { token role } }`,
		map[string]any{"in": map[string]any{"token": inv.InviteMember.Token, "password": "correct horse battery"}})
	var acc struct{ AcceptInvitation struct{ Token, Role string } }
	r.Decode(t, &acc)
	require.Equal(t, string(role), acc.AcceptInvitation.Role)
	return acc.AcceptInvitation.Token
}

const reportQuery = `query($in: ReportInput!) { report(input: $in) {
	currency timezone unconvertedCurrencies
	rows { keys clicks outboundClicks conversions leads purchases revenue currency conversionRate earningsPerClick deliveriesSent deliveriesFailed }
	totals { keys clicks outboundClicks conversions leads purchases revenue currency conversionRate earningsPerClick deliveriesSent deliveriesFailed } } }`

type reportRow struct {
	Keys                                                  []string
	Clicks, OutboundClicks, Conversions, Leads, Purchases int
	Revenue, ConversionRate, EarningsPerClick             float64
	Currency                                              string
	DeliveriesSent, DeliveriesFailed                      int
}

type reportAnswer struct {
	Report struct {
		Currency, Timezone    string
		UnconvertedCurrencies []string
		Rows                  []reportRow
		Totals                reportRow
	}
}

func TestReportAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := newTeam(t, s, "acme")
		b := s.Signup(t, "globex")
		// Rows stamped now are past the rollups' sealed point whatever the
		// job has done, so the report reads them at once.
		now := time.Now()
		ta := seed.NewTenant(t, s.DB.Ent, a.AccountID)
		cl := ta.Clicks(t, seed.Click{At: now, Source: "google", Outbound: 1}, seed.Click{At: now, Source: "bing"})
		ta.Conversions(t,
			seed.Conversion{At: now, Click: cl[0], AmountMicros: 20_000_000, Delivery: delivery.StatusSENT},
			seed.Conversion{At: now, Status: conversion.StatusNO_MATCH})
		tb := seed.NewTenant(t, s.DB.Ent, b.AccountID)
		tb.Clicks(t, seed.Click{At: now, Source: "google"}, seed.Click{At: now}, seed.Click{At: now})
		tb.Conversions(t, seed.Conversion{At: now, AmountMicros: 999_000_000})

		in := map[string]any{
			"from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339),
			"groupBy": []string{"INTEGRATION", "UTM_SOURCE"},
		}
		for role, token := range map[string]string{"owner": a.Token, "admin": a.Admin, "viewer": a.Viewer, "api key": a.Key} {
			var out reportAnswer
			s.GraphQL(t, token, reportQuery, map[string]any{"in": in}).Decode(t, &out)
			require.Equal(t, "USD", out.Report.Currency, role)
			require.Equal(t, "UTC", out.Report.Timezone, role)
			require.Equal(t, reportRow{Keys: []string{}, Clicks: 2, OutboundClicks: 1, Conversions: 2, Leads: 1, Purchases: 1,
				Revenue: 20, ConversionRate: 1, EarningsPerClick: 10, Currency: "USD", DeliveriesSent: 1}, out.Report.Totals, role)
			require.Equal(t, []reportRow{
				{Keys: []string{"", "bing"}, Clicks: 1, Currency: "USD"},
				{Keys: []string{"", "google"}, Clicks: 1, OutboundClicks: 1, Currency: "USD"},
				{Keys: []string{ta.IntegrationID, ""}, Conversions: 1, Leads: 1, Currency: "USD"},
				{Keys: []string{ta.IntegrationID, "google"}, Conversions: 1, Purchases: 1, Revenue: 20, Currency: "USD", DeliveriesSent: 1},
			}, out.Report.Rows, role)
		}
		// Another account, even naming this one's integration, sees its own rows only.
		var other reportAnswer
		in["filters"] = map[string]any{"integrationIDs": []string{ta.IntegrationID, tb.IntegrationID}}
		s.GraphQL(t, b.Token, reportQuery, map[string]any{"in": in}).Decode(t, &other)
		require.Equal(t, 3, other.Report.Totals.Clicks)
		require.Equal(t, 1, other.Report.Totals.Conversions)
		require.Equal(t, 999.0, other.Report.Totals.Revenue)

		for name, bad := range map[string]map[string]any{
			"reversed":  {"from": now.Format(time.RFC3339), "to": now.Add(-time.Hour).Format(time.RFC3339)},
			"time zone": {"from": now.Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339), "timezone": "Mars/Olympus"},
			"local":     {"from": now.Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339), "timezone": "Local"},
			"too long":  {"from": now.Add(-800 * 24 * time.Hour).Format(time.RFC3339), "to": now.Format(time.RFC3339)},
		} {
			r := s.GraphQL(t, a.Token, reportQuery, map[string]any{"in": bad})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), name)
		}
		require.Equal(t, "UNAUTHENTICATED", s.GraphQL(t, "", reportQuery, map[string]any{"in": in}).Code())
	})
}

func TestExchangeRatesAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		operator := newTeam(t, s, "operator") // the oldest account
		tenant := s.Signup(t, "tenant")
		const set = `mutation($r: [ExchangeRateInput!]!) { setExchangeRates(rates: $r) { currency perUsd } }`
		rates := map[string]any{"r": []map[string]any{{"currency": "eur", "perUSD": 0.5}}}
		for name, token := range map[string]string{"admin": operator.Admin, "viewer": operator.Viewer, "api key": operator.Key, "another account's owner": tenant.Token} {
			require.Equal(t, "FORBIDDEN", s.GraphQL(t, token, set, rates).Code(), name)
		}
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, operator.Token, set, map[string]any{"r": []map[string]any{{"currency": "ZZZ", "perUSD": 1}}}).Code())
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, operator.Token, set, map[string]any{"r": []map[string]any{{"currency": "EUR", "perUSD": -1}}}).Code())
		var out struct {
			SetExchangeRates []struct {
				Currency string
				PerUsd   float64
			}
		}
		s.GraphQL(t, operator.Token, set, rates).Decode(t, &out)
		require.Len(t, out.SetExchangeRates, 1)
		require.Equal(t, "EUR", out.SetExchangeRates[0].Currency)

		// The tenant reports in EUR: its USD revenue is converted.
		r := s.GraphQL(t, tenant.Token, `mutation { updateAccount(input: {currency: "€"}) { currency } }`, nil)
		require.Empty(t, r.Errors)
		now := time.Now()
		seed.NewTenant(t, s.DB.Ent, tenant.AccountID).Conversions(t, seed.Conversion{At: now, AmountMicros: 10_000_000})
		var rep reportAnswer
		s.GraphQL(t, tenant.Token, reportQuery, map[string]any{"in": map[string]any{
			"from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339)}}).Decode(t, &rep)
		require.Equal(t, "EUR", rep.Report.Currency)
		require.Equal(t, 5.0, rep.Report.Totals.Revenue)
	})
}

// wsClient is a minimal graphql-transport-ws client.
type wsClient struct {
	conn *websocket.Conn
	// probes are conversion ids next skips.
	probes map[string]bool
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialGraphQL(t *testing.T, s *testserver.Server, token string) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseNow() })
	c := &wsClient{conn: conn}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	require.NoError(t, wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}))
	m, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	if m.Type != "connection_ack" {
		return nil, fmt.Errorf("got %s %s", m.Type, m.Payload)
	}
	return c, nil
}

// read returns the next message that is not a ping.
func (c *wsClient) read(ctx context.Context) (wsMessage, error) {
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return m, err
		}
		if m.Type == "ping" {
			_ = wsjson.Write(ctx, c.conn, wsMessage{Type: "pong"})
			continue
		}
		return m, nil
	}
}

// next waits for the next event of subscription id.
func (c *wsClient) next(t *testing.T, id string) (conversionID, status string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		cid, st := c.nextAny(ctx, t, id)
		if !c.probes[cid] {
			return cid, st
		}
	}
}

func (c *wsClient) nextAny(ctx context.Context, t *testing.T, id string) (conversionID, status string) {
	t.Helper()
	m, err := c.read(ctx)
	require.NoError(t, err)
	require.Equal(t, "next", m.Type, "%s", m.Payload)
	require.Equal(t, id, m.ID)
	var p struct {
		Data struct {
			ConversionEvents struct{ ID, Status string }
		}
		Errors []any
	}
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	require.Empty(t, p.Errors)
	return p.Data.ConversionEvents.ID, p.Data.ConversionEvents.Status
}

func (c *wsClient) subscribe(t *testing.T, id string, integrationID string) {
	t.Helper()
	vars := map[string]any{}
	if integrationID != "" {
		vars["i"] = integrationID
	}
	payload, _ := json.Marshal(map[string]any{
		"query":     `subscription($i: ID) { conversionEvents(integrationID: $i) { id status } }`,
		"variables": vars,
	})
	require.NoError(t, wsjson.Write(context.Background(), c.conn, wsMessage{ID: id, Type: "subscribe", Payload: payload}))
}

func TestConversionEventsSubscription(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := newTeam(t, s, "acme")
		b := s.Signup(t, "globex")
		ta := seed.NewTenant(t, s.DB.Ent, a.AccountID)
		tb := seed.NewTenant(t, s.DB.Ent, b.AccountID)
		second := ta.Integration(t, "second")

		_, err := dialGraphQL(t, s, "not-a-token")
		require.Error(t, err, "a bad token is refused at connection_init")

		all, err := dialGraphQL(t, s, a.Viewer) // VIEWERs watch the Events Log too
		require.NoError(t, err)
		all.subscribe(t, "all", "")
		only, err := dialGraphQL(t, s, a.Key)
		require.NoError(t, err)
		only.subscribe(t, "second", second)

		// A subscription starts listening once the server has read the
		// subscribe message: write probes (of the second integration, which
		// both subscriptions see) until one arrives; later reads skip them.
		probes := map[string]bool{}
		deadline := time.Now().Add(20 * time.Second)
		for _, c := range []*wsClient{all, only} {
			for listening := false; !listening; {
				require.True(t, time.Now().Before(deadline), "the subscription never listened")
				p := ta.Conversions(t, seed.Conversion{At: time.Now(), IntegrationID: second, Status: conversion.StatusRECEIVED})[0]
				probes[p.ID] = true
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				m, err := c.read(ctx)
				cancel()
				listening = err == nil && m.Type == "next"
			}
		}
		all.probes, only.probes = probes, probes

		// Another account's conversion, then one of this account.
		tb.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})
		own := ta.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})[0]
		id, status := all.next(t, "all")
		require.Equal(t, own.ID, id, "the other account's conversion is never sent")
		require.Equal(t, "RECEIVED", status)

		// A status change, whatever writes it, is an event.
		mine := ta.Conversions(t, seed.Conversion{At: time.Now(), IntegrationID: second, Status: conversion.StatusRECEIVED})[0]
		id, _ = all.next(t, "all")
		require.Equal(t, mine.ID, id)
		id, _ = only.next(t, "second")
		require.Equal(t, mine.ID, id, "the filtered subscription skipped the first integration's conversion")
		require.NoError(t, s.DB.Ent.Conversion.UpdateOneID(mine.ID).SetStatus(conversion.StatusNO_MATCH).SetReason("no click").
			Exec(viewer.SystemContext(context.Background(), a.AccountID)))
		id, status = all.next(t, "all")
		require.Equal(t, mine.ID, id)
		require.Equal(t, "NO_MATCH", status)
		id, status = only.next(t, "second")
		require.Equal(t, mine.ID, id)
		require.Equal(t, "NO_MATCH", status)

		// Integration health reflects the same rows.
		var h struct {
			Node struct {
				Health struct {
					LastConversionAt *time.Time
					StatusCounts24h  []struct {
						Status string
						Count  int
					}
					TopFailureReason *string
					TopFailureCount  int
				}
			}
		}
		s.GraphQL(t, a.Viewer, `query($id: ID!) { node(id: $id) { ... on Integration { health {
			lastConversionAt statusCounts24h { status count } topFailureReason topFailureCount } } } }`,
			map[string]any{"id": second}).Decode(t, &h)
		require.NotNil(t, h.Node.Health.LastConversionAt)
		require.Equal(t, "no click", *h.Node.Health.TopFailureReason)
		require.Equal(t, 1, h.Node.Health.TopFailureCount)
		counts := map[string]int{}
		for _, c := range h.Node.Health.StatusCounts24h {
			counts[c.Status] = c.Count
		}
		require.Equal(t, 1, counts["NO_MATCH"])
		require.Positive(t, counts["RECEIVED"])
		// Another account cannot read it.
		r := s.GraphQL(t, b.Token, `query($id: ID!) { node(id: $id) { ... on Integration { health { topFailureCount } } } }`, map[string]any{"id": second})
		require.Contains(t, string(r.Data), `"node":null`)
	})
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, "sqlite3")
	// The rollup job runs at start; its run time shows up once worked.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/metrics")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, string(body), "# TYPE clickback_deliveries_total counter")
		if strings.Contains(string(body), `clickback_job_duration_seconds_count{kind="report_rollup",outcome="completed"}`) {
			return
		}
		require.True(t, time.Now().Before(deadline), "no rollup job in:\n%s", body)
		time.Sleep(50 * time.Millisecond) // polling the endpoint, with a deadline
	}
}
