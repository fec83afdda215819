package postback_test

import (
	"testing"

	"github.com/clickback/clickback/postback"
)

// typicalQuery is a postback as a network sends it to a URL BuildURL made.
const typicalQuery = "click_id=cb_01JD8X4N5R6T7V8W9YZABCDEF&amount=32.50&transaction_id=1234567890&currency=EUR" +
	"&status=approved&secret=Zm9vYmFyYmF6cXV4cXV1eHF1dXg"

var typicalConfig = postback.Config{
	Network:         postback.PresetAffise,
	DefaultCurrency: "USD",
	Mappings:        map[string]string{"sub2": "external_id"},
}

// BenchmarkParse is the collect endpoint's hot path: params, then Parse.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ps, err := postback.ParseParams(typicalQuery, "", nil)
		if err != nil {
			b.Fatal(err)
		}
		if pb := postback.Parse(ps, typicalConfig); pb.Outcome != postback.OutcomeReceived {
			b.Fatal(pb.Reason)
		}
	}
}

func BenchmarkParseParams(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := postback.ParseParams(typicalQuery, "", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOnly(b *testing.B) {
	ps, err := postback.ParseParams(typicalQuery, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		postback.Parse(ps, typicalConfig)
	}
}

func BenchmarkParseJSON(b *testing.B) {
	body := []byte(`{"click_id":"cb_01JD8X4N5R6T7V8W9YZABCDEF","amount":32.50,"transaction_id":"1234567890","currency":"EUR","status":"approved"}`)
	b.ReportAllocs()
	for b.Loop() {
		ps, err := postback.ParseParams("secret=Zm9vYmFyYmF6cXV4cXV1eHF1dXg", "application/json", body)
		if err != nil {
			b.Fatal(err)
		}
		postback.Parse(ps, typicalConfig)
	}
}

func BenchmarkParseAmount(b *testing.B) {
	for _, s := range []string{"32.50", "1.234,56 €"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := postback.ParseAmount(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIsMacro(b *testing.B) {
	for _, s := range []string{"cb_01JD8X4N5R6T7V8W9YZABCDEF", "{clickid}", "%7Bclickid%7D"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				postback.IsMacro(s)
			}
		})
	}
}

func BenchmarkRedactQuery(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		postback.RedactQuery(typicalQuery)
	}
}
