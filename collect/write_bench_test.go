package collect

import (
	"testing"
	"time"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/postback"
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
