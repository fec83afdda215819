// Package seed writes tenant data straight into a test database, as the
// collect, tag and forwarding paths would, so that the tests of what reads
// it (reports, the Events Log) do not depend on those paths.
package seed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/viewer"
)

// Tenant is one account with a property, an integration and a destination.
type Tenant struct {
	AccountID     string
	PropertyID    string
	IntegrationID string
	DestinationID string
	client        *ent.Client
	ctx           context.Context
}

// NewTenant creates an account (or uses accountID when not empty) with a
// property, an integration and a META destination.
func NewTenant(tb testing.TB, client *ent.Client, accountID string) *Tenant {
	tb.Helper()
	ctx := context.Background()
	if accountID == "" {
		acc, err := client.Account.Create().SetName("seed").SetKey(auth.NewPublicKey()).Save(viewer.SystemContext(ctx, ""))
		must(tb, err)
		accountID = acc.ID
	}
	sys := viewer.SystemContext(ctx, accountID)
	t := &Tenant{AccountID: accountID, client: client, ctx: sys}
	p, err := client.Property.Create().SetName("site").SetKey(auth.NewPublicKey()).Save(sys)
	must(tb, err)
	t.PropertyID = p.ID
	t.IntegrationID = t.Integration(tb, "network")
	d, err := client.Destination.Create().SetName("meta").SetKind("META").Save(sys)
	must(tb, err)
	t.DestinationID = d.ID
	return t
}

// Integration creates another integration and returns its id.
func (t *Tenant) Integration(tb testing.TB, name string) string {
	tb.Helper()
	i, err := t.client.Integration.Create().SetName(name).SetSlug(fmt.Sprintf("%s-%d", name, time.Now().UnixNano())).
		SetSecret("s3cret-" + auth.NewPublicKey()).Save(t.ctx)
	must(tb, err)
	return i.ID
}

// Click is a visit to record.
type Click struct {
	At                                time.Time
	Source, Medium, Campaign, Landing string
	Bot                               bool
	Outbound                          int // OutboundClick events of the visit, at At
}

// Clicks records visits and returns their rows.
func (t *Tenant) Clicks(tb testing.TB, clicks ...Click) []*ent.Click {
	tb.Helper()
	var out []*ent.Click
	for _, c := range clicks {
		id := auth.NewPublicKey()
		row, err := t.client.Click.Create().SetPropertyID(t.PropertyID).SetClickID(id).SetCreatedAt(c.At).SetLastSeenAt(c.At).
			SetUtmSource(c.Source).SetUtmMedium(c.Medium).SetUtmCampaign(c.Campaign).SetLandingPage(c.Landing).SetBot(c.Bot).
			Save(t.ctx)
		must(tb, err)
		for range c.Outbound {
			_, err := t.client.TrackEvent.Create().SetPropertyID(t.PropertyID).SetClickID(id).SetName("OutboundClick").
				SetBot(c.Bot).SetCreatedAt(c.At).Save(t.ctx)
			must(tb, err)
		}
		out = append(out, row)
	}
	return out
}

// Conversion is a conversion to record.
type Conversion struct {
	At            time.Time
	IntegrationID string // the tenant's integration when empty
	Click         *ent.Click
	Status        conversion.Status // MATCHED with a click, NO_MATCH without, when empty
	Event         string
	AmountMicros  int64
	Currency      string // USD when empty
	Test          bool
	Delivery      delivery.Status // no delivery when empty
}

// Conversions records conversions and returns their rows.
func (t *Tenant) Conversions(tb testing.TB, convs ...Conversion) []*ent.Conversion {
	tb.Helper()
	var out []*ent.Conversion
	for _, c := range convs {
		integ := c.IntegrationID
		if integ == "" {
			integ = t.IntegrationID
		}
		cur := c.Currency
		if cur == "" {
			cur = "USD"
		}
		kind := conversion.KindLEAD
		if c.AmountMicros > 0 {
			kind = conversion.KindPURCHASE
		}
		ev := c.Event
		if ev == "" {
			ev = map[conversion.Kind]string{conversion.KindLEAD: "Lead", conversion.KindPURCHASE: "Purchase"}[kind]
		}
		st := c.Status
		if st == "" {
			st = conversion.StatusNO_MATCH
			if c.Click != nil {
				st = conversion.StatusMATCHED
			}
		}
		m := t.client.Conversion.Create().SetIntegrationID(integ).SetReceivedAt(c.At).SetUpdatedAt(c.At).SetStatus(st).
			SetKind(kind).SetEventName(ev).SetAmountMicros(c.AmountMicros).SetCurrency(cur).SetTest(c.Test).
			SetClickID(auth.NewPublicKey())
		if c.Click != nil {
			m.SetVisitID(c.Click.ID).SetMatchedAt(c.At).SetAttribution(map[string]string{
				"clicked_at":   c.Click.CreatedAt.UTC().Format(time.RFC3339Nano),
				"utm_source":   c.Click.UtmSource,
				"utm_medium":   c.Click.UtmMedium,
				"utm_campaign": c.Click.UtmCampaign,
				"landing_page": c.Click.LandingPage,
			})
		}
		row, err := m.Save(t.ctx)
		must(tb, err)
		if c.Delivery != "" {
			_, err := t.client.Delivery.Create().SetConversionID(row.ID).SetDestinationID(t.DestinationID).
				SetStatus(c.Delivery).SetEventID(row.ID).Save(t.ctx)
			must(tb, err)
		}
		out = append(out, row)
	}
	return out
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
}
