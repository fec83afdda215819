package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/internal/loadgen"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/viewer"
)

// forwardFixture is a server whose platforms are the fakes, with an
// account holding a Meta destination and an integration: for tests that
// plant deliveries by hand and watch the forward jobs.
type forwardFixture struct {
	p             *loadgen.Platforms
	s             *testserver.Server
	accountID     string
	ctx           context.Context // the account's system viewer
	meta          *ent.Destination
	integrationID string
}

func newForwardFixture(t *testing.T, d, name string, configure func(*config.Config)) *forwardFixture {
	t.Helper()
	p := loadgen.StartPlatforms()
	t.Cleanup(p.Close)
	s := testserver.Start(t, d, func(c *config.Config) {
		c.Platforms = p.URLs
		if configure != nil {
			configure(c)
		}
	})
	a := s.Signup(t, name)
	ctx := viewer.SystemContext(context.Background(), a.AccountID)
	svc, err := destination.NewService(s.Config)
	require.NoError(t, err)
	meta, err := svc.Create(ctx, s.DB.Ent, p.Destinations()[0])
	require.NoError(t, err)
	network := "network"
	in, err := integration.Create(ctx, s.DB.Ent, integration.Input{Name: &network})
	require.NoError(t, err)
	return &forwardFixture{p: p, s: s, accountID: a.AccountID, ctx: ctx, meta: meta, integrationID: in.ID}
}

// delivery plants a MATCHED conversion of transaction tx, received at
// received, and its PENDING Meta delivery held by claim until until; conv
// and dl, when not nil, set more on them before they are saved.
func (f *forwardFixture) delivery(t *testing.T, tx string, received time.Time, claim string, until time.Time,
	conv func(*ent.ConversionCreate), dl func(*ent.DeliveryCreate)) (*ent.Conversion, *ent.Delivery) {
	t.Helper()
	c := f.conversion(t, tx, received, conv)
	event, ok, _ := destination.Map(f.meta.Kind, f.meta.EventMapping, c.EventName)
	require.True(t, ok)
	dc := f.s.DB.Ent.Delivery.Create().SetAccountID(f.accountID).SetConversionID(c.ID).SetDestinationID(f.meta.ID).
		SetEventID(c.ID).SetEventName(event).SetClaim(claim).SetClaimedUntil(until)
	if dl != nil {
		dl(dc)
	}
	d, err := dc.Save(f.ctx)
	require.NoError(t, err)
	return c, d
}

// conversion plants a MATCHED conversion of transaction tx, received at
// received; conv, when not nil, sets more on it before it is saved.
func (f *forwardFixture) conversion(t *testing.T, tx string, received time.Time, conv func(*ent.ConversionCreate)) *ent.Conversion {
	t.Helper()
	cc := f.s.DB.Ent.Conversion.Create().SetAccountID(f.accountID).SetIntegrationID(f.integrationID).
		SetStatus("MATCHED").SetTransactionID(tx).SetReceivedAt(received).
		SetAttribution(map[string]string{"landing_page": "https://shop.example/offer"}).
		SetAttributes(map[string]string{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (" + t.Name() + ")"})
	if conv != nil {
		conv(cc)
	}
	c, err := cc.Save(f.ctx)
	require.NoError(t, err)
	return c
}
