package postback_test

import (
	"errors"
	"fmt"

	"github.com/clickback/clickback/postback"
)

// A network calls the postback URL; the collect handler reads the request's
// parameters, then parses them with the integration's configuration.
func Example() {
	ps, err := postback.ParseParams("sub1=cb_8f3a&sum=1.234,50&transactionid=T-77&status=1&secret=s3cret", "", nil)
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	pb := postback.Parse(ps, postback.Config{
		Network:         postback.PresetAffise,
		DefaultCurrency: "EUR",
		Mappings:        map[string]string{"sub1": "click_id"},
	})
	fmt.Println(pb.Outcome, pb.ClickID, pb.Kind, pb.EventName)
	fmt.Println(postback.FormatAmount(pb.AmountMicros), pb.Currency, pb.TransactionID, pb.Status)
	fmt.Println(ps.Redacted())
	// Output:
	// RECEIVED cb_8f3a PURCHASE Purchase
	// 1234.5 EUR T-77 APPROVED
	// [{sub1 cb_8f3a} {sum 1.234,50} {transactionid T-77} {status 1} {secret REDACTED}]
}

// A network that did not substitute its click id macro sent no click id.
func ExampleParse_missingClickID() {
	ps, _ := postback.ParseParams("click_id=%7Bclickid%7D&amount=5", "", nil)
	pb := postback.Parse(ps, postback.Config{})
	fmt.Println(pb.Outcome)
	fmt.Println(pb.Reason)
	// Output:
	// MISSING_CLICK_ID
	// missing click_id: parameter "click_id" holds the macro "{clickid}", which the network did not fill in; check the network's click id macro and that its offer link carries the Click ID
}

func ExampleParse_invalid() {
	ps, _ := postback.ParseParams("click_id=cb_1&amount=12,3,4&currency=XYZ", "", nil)
	pb := postback.Parse(ps, postback.Config{})
	fmt.Println(pb.Outcome)
	fmt.Println(pb.Reason)
	// Output:
	// INVALID
	// amount "12,3,4" is not a number; currency "XYZ" is not an ISO 4217 code
}

func ExampleParseParams_errors() {
	_, err := postback.ParseParams("click_id=a%00b", "", nil)
	fmt.Println(errors.Is(err, postback.ErrControlChar), err)
	// Output:
	// true control character U+0000 in the value of parameter "click_id"
}

func ExampleParseAmount() {
	for _, s := range []string{"32.50", "32,50", "1,234.56", "1.234,56", "$32.50", "€12", "32.50 USD"} {
		micros, currency, err := postback.ParseAmount(s)
		fmt.Println(s, "→", micros, currency, err)
	}
	// Output:
	// 32.50 → 32500000  <nil>
	// 32,50 → 32500000  <nil>
	// 1,234.56 → 1234560000  <nil>
	// 1.234,56 → 1234560000  <nil>
	// $32.50 → 32500000  <nil>
	// €12 → 12000000 EUR <nil>
	// 32.50 USD → 32500000 USD <nil>
}

// The postback URL for an integration created from a preset.
func ExampleBuildURL() {
	preset, _ := postback.LookupPreset(postback.PresetCAKE)
	u, err := postback.BuildURL("https://track.example.com", "acc_1", "cake", "s3cret", preset.Macros,
		postback.QueryParam{Name: "event", Value: "Sale"})
	fmt.Println(u, err)
	fmt.Println(postback.RedactURL(u))
	// Output:
	// https://track.example.com/acc_1/collect/cake?click_id=#s2#&amount=#price#&transaction_id=#leadid#&event=Sale&secret=s3cret <nil>
	// https://track.example.com/acc_1/collect/cake?click_id=#s2#&amount=#price#&transaction_id=#leadid#&event=Sale&secret=REDACTED
}

func ExampleCatalog() {
	for _, p := range postback.Catalog() {
		fmt.Printf("%s link=%s click=%s\n", p.ID, p.LinkParam, p.Macros[postback.FieldClickID])
	}
	// Output:
	// CUSTOM link= click=
	// TUNE link=aff_sub click={aff_sub}
	// EVERFLOW link=sub1 click={sub1}
	// CAKE link=s2 click=#s2#
	// ADTRACTION link=epi click=${epi}
	// IMPACT link=subId1 click={SubId1}
	// SHAREASALE link=afftrack click=!!afftrack!!
	// AWIN link=clickref click=!!!clickRef!!!
	// DIGISTORE24 link=cid click={cid}
	// AFFISE link=sub1 click={sub1}
	// MAXBOUNTY link=s1 click=#S1#
	// CLICKBANK link=tid click=
	// CJ link=sid click=
}
