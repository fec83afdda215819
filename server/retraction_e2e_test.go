package server_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// adjustedDelivery is a delivery as the Events Log shows its adjustment.
type adjustedDelivery struct {
	ID, Status         string
	Adjustment         *string
	AdjustmentAttempts int
	AdjustmentResponse *string
	AdjustedAt         *time.Time
	Destination        struct{ Kind string }
}

// adjustedDeliveries returns the deliveries of the first conversion of tx
// by destination kind.
func adjustedDeliveries(t *testing.T, s *testserver.Server, token, tx string) map[string]adjustedDelivery {
	t.Helper()
	var out struct {
		Conversions struct {
			Edges []struct {
				Node struct{ Deliveries []adjustedDelivery }
			}
		}
	}
	s.GraphQL(t, token, `query($tx: String!) { conversions(first: 10, where: {transactionID: $tx}, orderBy: {field: RECEIVED_AT, direction: ASC}) { edges { node {
		deliveries { id status adjustment adjustmentAttempts adjustmentResponse adjustedAt destination { kind } } } } } }`,
		map[string]any{"tx": tx}).Decode(t, &out)
	require.NotEmpty(t, out.Conversions.Edges, "no conversion with transaction id %s", tx)
	by := map[string]adjustedDelivery{}
	for _, d := range out.Conversions.Edges[0].Node.Deliveries {
		by[d.Destination.Kind] = d
	}
	return by
}

// waitAdjustment polls tx's deliveries until the one of kind has
// adjustment want.
func waitAdjustment(t *testing.T, s *testserver.Server, token, tx, kind, want string) map[string]adjustedDelivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		by := adjustedDeliveries(t, s, token, tx)
		if d, ok := by[kind]; ok && d.Adjustment != nil && *d.Adjustment == want {
			return by
		}
		if time.Now().After(deadline) {
			d := by[kind]
			r := s.GraphQL(t, token, `query($tx: String!) { conversions(first: 10, where: {transactionID: $tx}) { edges { node { id status networkStatus reason } } } }`, map[string]any{"tx": tx})
			t.Fatalf("the %s delivery of %s never became %s: %+v adjustment=%s response=%s; conversions %s", kind, tx, want, d, deref(d.Adjustment), deref(d.AdjustmentResponse), r.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusApplied waits until the status job has handled n repeats of tx.
func statusApplied(t *testing.T, s *testserver.Server, token, tx string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out struct {
			Conversions struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		s.GraphQL(t, token, `query($w: ConversionWhereInput) { conversions(first: 100, where: $w) { edges { node { id } } } }`,
			map[string]any{"w": map[string]any{"transactionID": tx, "status": "DUPLICATE", "reasonContains": "was applied"}}).Decode(t, &out)
		if len(out.Conversions.Edges) == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "the status of %d repeats of %s was never applied", n, tx)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRetractionEndToEnd: a conversion forwarded to Google Ads and Meta,
// then reversed by a later postback of the same transaction: the Google Ads
// fake receives one RETRACTION for its order id (after one 503, retried),
// the Events Log shows the Google Ads delivery RETRACTED with Google's
// answer and the Meta one NOT_RETRACTABLE; more reversals and a rejection
// send nothing more. A partial reversal restates the value, and a full one
// after it retracts.
func TestRetractionEndToEnd(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		f := newForwardTenant(t, d, "retract", "GOOGLE_ADS", "META")
		p, s, a, key, in := f.p, f.s, f.a, f.key, f.in
		recordVisit(t, s, key, "cb_ret1")

		postback(t, s, in, map[string]string{"{c}": "cb_ret1", "{p}": "40", "{t}": "ret-1", "{s}": "approved"})
		c := waitDeliveries(t, s, a.Token, "ret-1", allSettled(2))
		for _, d := range c.Deliveries {
			require.Equal(t, "SENT", d.Status, "%+v", d)
		}
		require.Equal(t, map[string]int{"ret-1": 1}, p.ads.CountByEventID())

		p.ads.FailNext(1, capitest.Unavailable())
		postback(t, s, in, map[string]string{"{c}": "cb_ret1", "{p}": "40", "{t}": "ret-1", "{s}": "reversed"})
		adjs := p.ads.WaitForAdjustments(t, 1, 30*time.Second)
		require.Len(t, adjs, 1)
		require.Equal(t, "RETRACTION", adjs[0].Type)
		require.Equal(t, "ret-1", adjs[0].OrderID)
		require.Equal(t, "customers/1234567890/conversionActions/987654321", adjs[0].ConversionAction)
		require.NotContains(t, adjs[0].Fields, "restatementValue")

		by := waitAdjustment(t, s, a.Token, "ret-1", "GOOGLE_ADS", "RETRACTED")
		ads := by["GOOGLE_ADS"]
		require.Equal(t, "SENT", ads.Status, "the delivery stays SENT: it was delivered, then retracted")
		require.Equal(t, 2, ads.AdjustmentAttempts, "one 503, then the retraction")
		require.NotNil(t, ads.AdjustedAt)
		require.Contains(t, deref(ads.AdjustmentResponse), "Google Ads retracted the conversion (HTTP 200)")
		meta := by["META"]
		require.Equal(t, "NOT_RETRACTABLE", deref(meta.Adjustment))
		require.Contains(t, deref(meta.AdjustmentResponse), "not retractable on this platform")
		require.Equal(t, "SENT", meta.Status)

		// Reversed again, then rejected: nothing more is sent.
		requests := p.ads.Requests()
		postback(t, s, in, map[string]string{"{c}": "cb_ret1", "{p}": "40", "{t}": "ret-1", "{s}": "reversed"})
		postback(t, s, in, map[string]string{"{c}": "cb_ret1", "{p}": "40", "{t}": "ret-1", "{s}": "rejected"})
		statusApplied(t, s, a.Token, "ret-1", 3)
		time.Sleep(200 * time.Millisecond) // room for a wrongly inserted retract job to run
		require.Len(t, p.ads.Adjustments(), 1)
		require.Equal(t, requests, p.ads.Requests(), "no further request to Google Ads")
		ads = adjustedDeliveries(t, s, a.Token, "ret-1")["GOOGLE_ADS"]
		require.Equal(t, "RETRACTED", deref(ads.Adjustment))
		require.Equal(t, 2, ads.AdjustmentAttempts)

		// A partial reversal restates the value; a full one then retracts.
		// (Another visit: Google takes a second conversion of the same
		// click in the same second for the first one.)
		recordVisit(t, s, key, "cb_ret2")
		postback(t, s, in, map[string]string{"{c}": "cb_ret2", "{p}": "40", "{t}": "ret-2", "{s}": "approved"})
		waitDeliveries(t, s, a.Token, "ret-2", allSettled(2))
		postback(t, s, in, map[string]string{"{c}": "cb_ret2", "{p}": "15", "{t}": "ret-2", "{s}": "reversed"})
		by = waitAdjustment(t, s, a.Token, "ret-2", "GOOGLE_ADS", "RESTATED")
		adjs = p.ads.Adjustments()
		require.Len(t, adjs, 2)
		require.Equal(t, "RESTATEMENT", adjs[1].Type)
		require.Equal(t, "ret-2", adjs[1].OrderID)
		require.Equal(t, 15.0, adjs[1].Value)
		require.Equal(t, "USD", adjs[1].Currency)
		require.Contains(t, deref(by["GOOGLE_ADS"].AdjustmentResponse), "restated the conversion's value to 15")

		postback(t, s, in, map[string]string{"{c}": "cb_ret2", "{p}": "0", "{t}": "ret-2", "{s}": "reversed"})
		waitAdjustment(t, s, a.Token, "ret-2", "GOOGLE_ADS", "RETRACTED")
		adjs = p.ads.Adjustments()
		require.Len(t, adjs, 3)
		require.Equal(t, "RETRACTION", adjs[2].Type)
		require.Equal(t, "ret-2", adjs[2].OrderID)
		require.True(t, adjs[2].At.After(adjs[1].At), "the retraction is later than the restatement: %v, %v", adjs[1].At, adjs[2].At)
		require.Len(t, p.ads.Adjustments(), 3)
		require.Empty(t, p.ads.Rejections())
	})
}
