package collect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/viewer"
)

// BenchmarkNewItem measures turning a parsed postback into the row to
// store: ids, cuts, the email hash and the attributes' JSON.
func BenchmarkNewItem(b *testing.B) {
	t := &target{accountID: "acc_1", integration: &ent.Integration{ID: "int_1"}, config: postback.Config{DefaultCurrency: "USD"}}
	pb := postback.Postback{
		Outcome: postback.OutcomeReceived, Kind: postback.KindPurchase, EventName: postback.EventPurchase,
		ClickID: "cb_0123456789abcdef", TransactionID: "T-123456", AmountMicros: 12_500_000, Currency: "EUR",
		Attributes: postback.Attributes{Email: " Jane@Example.com ", Country: "DE", City: "Berlin", IP: "203.0.113.9"},
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = newItem(t, pb, "GET /k/collect/s?click_id=cb_0123456789abcdef&transaction_id=T-123456", "203.0.113.9", false, now)
	}
}

func BenchmarkAttributesJSON(b *testing.B) {
	a := postback.Attributes{Email: "jane@example.com", Country: "DE", City: "Berlin", IP: "203.0.113.9"}
	b.ReportAllocs()
	for b.Loop() {
		_ = attributesJSON(a)
	}
}

func TestAttributesJSON(t *testing.T) {
	if got := attributesJSON(postback.Attributes{}); got != nil {
		t.Fatalf("empty attributes: %s", got)
	}
	got := string(attributesJSON(postback.Attributes{Email: "a\"b@example.com", Country: "DE", Gender: "f"}))
	if want := `{"country":"DE","email":"a\"b@example.com","gender":"f"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// BenchmarkWriteBatch measures storing one batch of 256 fresh conversions
// and its match job, commit included, per database (PostgreSQL: the test
// cluster, without fsync).
func BenchmarkWriteBatch(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(dbtest.Name(d), func(b *testing.B) {
			tb := setup(b, d, Options{})
			tgt, err := tb.collector.cache.get(context.Background(), cacheKey{accountKey: tb.account.Key, slug: tb.it.Slug}, time.Now())
			require.NoError(b, err)
			var n int
			batch := func() []*item {
				items := make([]*item, 256)
				for i := range items {
					n++
					pb := postback.Postback{Outcome: postback.OutcomeReceived, Kind: postback.KindLead, EventName: postback.EventLead,
						ClickID: fmt.Sprint("c", n), TransactionID: fmt.Sprint("t", n), AmountMicros: 1_500_000, Currency: "USD"}
					items[i] = newItem(tgt, pb, `{"method":"GET","path":"/k/collect/s","query":"click_id=c&transaction_id=t&amount=1.50&secret=[redacted]"}`, "127.0.0.1", false, time.Now())
				}
				return items
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				items := batch()
				b.StartTimer()
				writeBatch(b, tb, items)
			}
			b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// writeBatch writes items in one transaction the way the committer does.
func writeBatch(b *testing.B, tb *testBundle, items []*item) {
	ctx := viewer.SystemContext(context.Background(), "")
	w := tb.collector.writer
	if w.pgRiver != nil {
		tx, err := tb.db.Pool.Begin(ctx)
		require.NoError(b, err)
		require.NoError(b, w.writePgx(ctx, tx, items))
		require.NoError(b, tx.Commit(ctx))
		return
	}
	tx, err := tb.db.Ent.Tx(ctx)
	require.NoError(b, err)
	require.NoError(b, w.write(ctx, tx, items))
	require.NoError(b, tx.Commit())
}
