package postback_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

// query parses a query string into Params, for tables of postbacks.
func query(t *testing.T, rawQuery string) postback.Params {
	t.Helper()
	ps, err := postback.ParseParams(rawQuery, "", nil)
	require.NoError(t, err)
	return ps
}

func TestParse(t *testing.T) {
	t.Parallel()

	usd := postback.Config{DefaultCurrency: "usd"}
	received := func(pb postback.Postback) postback.Postback {
		pb.Outcome = postback.OutcomeReceived
		if pb.Kind == "" {
			pb.Kind, pb.EventName = postback.KindLead, postback.EventLead
		}
		return pb
	}
	purchase := func(pb postback.Postback) postback.Postback {
		pb.Kind, pb.EventName = postback.KindPurchase, postback.EventPurchase
		return received(pb)
	}
	invalid := func(reason string, pb postback.Postback) postback.Postback {
		pb = received(pb)
		pb.Outcome, pb.Reason = postback.OutcomeInvalid, reason
		return pb
	}
	missing := func(reason string, pb postback.Postback) postback.Postback {
		pb = received(pb)
		pb.Outcome, pb.Reason = postback.OutcomeMissingClickID, reason
		return pb
	}

	tests := []struct {
		name  string
		query string
		cfg   postback.Config
		want  postback.Postback
	}{
		{
			name:  "typical purchase",
			query: "click_id=cb_8f3a&amount=32.50&transaction_id=T-1&currency=eur&status=approved&secret=s",
			cfg:   usd,
			want: purchase(postback.Postback{ClickID: "cb_8f3a", AmountMicros: 32_500_000, TransactionID: "T-1",
				Currency: "EUR", Status: postback.StatusApproved, RawStatus: "approved"}),
		},
		{
			name:  "lead without amount, default currency",
			query: "click_id=abc",
			cfg:   usd,
			want:  received(postback.Postback{ClickID: "abc", Currency: "USD"}),
		},
		{
			name:  "amount 0 is a lead",
			query: "click_id=abc&amount=0.00",
			want:  received(postback.Postback{ClickID: "abc"}),
		},
		{
			name:  "amount rounding to 0 is a lead",
			query: "click_id=abc&amount=0.0000001",
			want:  received(postback.Postback{ClickID: "abc"}),
		},
		{
			name:  "event names the event of a purchase",
			query: "click_id=abc&amount=5&event=Sale",
			want: received(postback.Postback{ClickID: "abc", AmountMicros: 5_000_000,
				Kind: postback.KindPurchase, EventName: "Sale"}),
		},
		{
			name:  "event names the event of a lead",
			query: "click_id=abc&event=+Signup+",
			want:  received(postback.Postback{ClickID: "abc", Kind: postback.KindLead, EventName: "Signup"}),
		},
		{
			name:  "loose names",
			query: "Click-ID=abc&AMOUNT=1&Transaction-Id=T&CURRENCY=gbp&First-Name=Ann&ZIP_CODE=10115",
			want: purchase(postback.Postback{ClickID: "abc", AmountMicros: 1_000_000, TransactionID: "T", Currency: "GBP",
				Attributes: postback.Attributes{FirstName: "Ann", Zipcode: "10115"}}),
		},
		{
			name:  "aliases",
			query: "clickid=abc&payout=2&txid=T&ref_id=R&e-mail=a@b.c&dob=1990-01-02&ua=Mozilla&ip_address=1.2.3.4",
			want: purchase(postback.Postback{ClickID: "abc", AmountMicros: 2_000_000, TransactionID: "T",
				Attributes: postback.Attributes{ExternalID: "R", Email: "a@b.c", DateOfBirth: "1990-01-02", UserAgent: "Mozilla", IP: "1.2.3.4"}}),
		},
		{
			name:  "every attribute",
			query: "click_id=a&country=DE&state=BE&city=Berlin&zipcode=10115&email=a@b.c&phone=%2B49&first_name=Ann&last_name=Lee&external_id=X&ip=::1&user_agent=UA&date_of_birth=19900102&gender=f",
			want: received(postback.Postback{ClickID: "a", Attributes: postback.Attributes{
				Country: "DE", State: "BE", City: "Berlin", Zipcode: "10115", Email: "a@b.c", Phone: "+49",
				FirstName: "Ann", LastName: "Lee", ExternalID: "X", IP: "::1", UserAgent: "UA", DateOfBirth: "19900102", Gender: "f"}}),
		},
		{
			name:  "canonical name beats an alias sent first",
			query: "payout=5&amount=7&click_id=a",
			want:  purchase(postback.Postback{ClickID: "a", AmountMicros: 7_000_000}),
		},
		{
			name:  "aliases rank in their listed order",
			query: "revenue=3&payout=5&click_id=a",
			want:  purchase(postback.Postback{ClickID: "a", AmountMicros: 5_000_000}),
		},
		{
			name:  "first of equals wins",
			query: "click_id=a&clickid=b&CLICK_ID=c",
			want:  received(postback.Postback{ClickID: "a"}),
		},
		{
			name:  "mapping wins over the canonical name",
			query: "click_id=b&sub1=a&s2=T",
			cfg:   postback.Config{Mappings: map[string]string{"SUB1": "click_id", "s2": "Transaction-ID"}},
			want:  received(postback.Postback{ClickID: "a", TransactionID: "T"}),
		},
		{
			name:  "a mapped name is only its target",
			query: "click_id=a&amount=9&txid=T",
			cfg:   postback.Config{Mappings: map[string]string{"amount": "external_id"}},
			want:  received(postback.Postback{ClickID: "a", TransactionID: "T", Attributes: postback.Attributes{ExternalID: "9"}}),
		},
		{
			name:  "unsubstituted macros are missing, so another parameter provides",
			query: "click_id={aff_sub}&clkid=real&amount=%7Bpayout%7D&transaction_id=${tid}&currency=#cur#&email=!!!email!!!",
			cfg:   usd,
			want:  received(postback.Postback{ClickID: "real", Currency: "USD"}),
		},
		{
			name:  "values are trimmed",
			query: "click_id=+abc+&transaction_id=%09T%20&amount=+5+",
			want:  purchase(postback.Postback{ClickID: "abc", TransactionID: "T", AmountMicros: 5_000_000}),
		},
		{
			name:  "blank transaction id is none",
			query: "click_id=a&transaction_id=+",
			want:  received(postback.Postback{ClickID: "a"}),
		},
		{
			name:  "currency named by the amount",
			query: "click_id=a&amount=€12,50",
			cfg:   usd,
			want:  purchase(postback.Postback{ClickID: "a", AmountMicros: 12_500_000, Currency: "EUR"}),
		},
		{
			name:  "ambiguous sign leaves the default",
			query: "click_id=a&amount=$12",
			cfg:   postback.Config{DefaultCurrency: "CAD"},
			want:  purchase(postback.Postback{ClickID: "a", AmountMicros: 12_000_000, Currency: "CAD"}),
		},
		{
			name:  "amount and currency agree",
			query: "click_id=a&amount=12 EUR&currency=eur",
			want:  purchase(postback.Postback{ClickID: "a", AmountMicros: 12_000_000, Currency: "EUR"}),
		},
		{
			name:  "status words: built in",
			query: "click_id=a&status=Declined",
			want:  received(postback.Postback{ClickID: "a", Status: postback.StatusRejected, RawStatus: "Declined"}),
		},
		{
			name:  "status words: the preset's codes",
			query: "click_id=a&status=5",
			cfg:   postback.Config{Network: postback.PresetAffise},
			want:  received(postback.Postback{ClickID: "a", Status: postback.StatusPending, RawStatus: "5"}),
		},
		{
			name:  "status words: the preset's codes need the preset",
			query: "click_id=a&status=1",
			want:  received(postback.Postback{ClickID: "a", RawStatus: "1"}),
		},
		{
			name:  "status words: the integration's win",
			query: "click_id=a&status=1",
			cfg:   postback.Config{Network: postback.PresetAffise, StatusWords: map[string]string{"1": "chargeback"}},
			want:  received(postback.Postback{ClickID: "a", Status: postback.StatusReversed, RawStatus: "1"}),
		},
		{
			name:  "status words: the integration's match loosely",
			query: "click_id=a&status=Super-OK",
			cfg:   postback.Config{StatusWords: map[string]string{"super ok": "APPROVED"}},
			want:  received(postback.Postback{ClickID: "a", Status: postback.StatusApproved, RawStatus: "Super-OK"}),
		},
		{
			name:  "unknown status is kept raw",
			query: "click_id=a&status=+teleported+",
			want:  received(postback.Postback{ClickID: "a", RawStatus: "teleported"}),
		},
		{
			name:  "negative amount on a reversal",
			query: "click_id=a&amount=-12.50&status=refund",
			want: purchase(postback.Postback{ClickID: "a", AmountMicros: 12_500_000,
				Status: postback.StatusReversed, RawStatus: "refund"}),
		},
		{
			name:  "extra parameters",
			query: "click_id=a&sub2=x&sub2=y&Secret=s&sub3=&sub4={sub4}&offer_id=+7+",
			want:  received(postback.Postback{ClickID: "a", Extra: map[string]string{"sub2": "x", "offer_id": "7"}}),
		},
		{
			name:  "the secret is never data, even mapped",
			query: "secret=s",
			cfg:   postback.Config{Mappings: map[string]string{"secret": "click_id"}},
			want: missing("missing click_id: no parameter carries a click id; add click_id to the postback URL or map the network's parameter to click_id",
				postback.Postback{}),
		},
		{
			name:  "missing click id",
			query: "amount=5",
			want: missing("missing click_id: no parameter carries a click id; add click_id to the postback URL or map the network's parameter to click_id",
				postback.Postback{AmountMicros: 5_000_000, Kind: postback.KindPurchase, EventName: postback.EventPurchase}),
		},
		{
			name:  "unsubstituted click id",
			query: "click_id=%7Baff_sub%7D",
			want: missing(`missing click_id: parameter "click_id" holds the macro "{aff_sub}", which the network did not fill in; check the network's click id macro and that its offer link carries the Click ID`,
				postback.Postback{}),
		},
		{
			name:  "tag placeholder as click id",
			query: "sub1=--CLICK-ID--",
			cfg:   postback.Config{Mappings: map[string]string{"sub1": "click_id"}},
			want: missing(`missing click_id: parameter "sub1" holds the macro "--CLICK-ID--", which the network did not fill in; check the network's click id macro and that its offer link carries the Click ID`,
				postback.Postback{}),
		},
		{
			name:  "empty click id",
			query: "clickid=&amount=x",
			want: missing(`missing click_id: parameter "clickid" is empty; check that the network's offer link carries the Click ID; amount "x" is not a number`,
				postback.Postback{}),
		},
		{
			name:  "click id too long",
			query: "click_id=" + strings.Repeat("a", postback.MaxClickIDLen+1),
			want:  invalid("click_id is 257 bytes long, the limit is 256", postback.Postback{}),
		},
		{
			name:  "click id with a control character",
			query: "click_id=a%09b",
			want:  invalid("click_id contains a control character U+0009", postback.Postback{}),
		},
		{
			name:  "amount that is not a number",
			query: "click_id=a&amount=12,3,4&currency=usd",
			want:  invalid(`amount "12,3,4" is not a number`, postback.Postback{ClickID: "a", Currency: "USD"}),
		},
		{
			name:  "negative amount",
			query: "click_id=a&amount=-5&status=approved",
			want: invalid(`amount "-5" is negative, which only a reversed or rejected status allows`,
				postback.Postback{ClickID: "a", Status: postback.StatusApproved, RawStatus: "approved"}),
		},
		{
			name:  "currency that is not ISO 4217",
			query: "click_id=a&currency=XYZ",
			cfg:   usd,
			want:  invalid(`currency "XYZ" is not an ISO 4217 code`, postback.Postback{ClickID: "a"}),
		},
		{
			name:  "amount and currency disagree",
			query: "click_id=a&amount=€5&currency=USD",
			want: invalid(`amount "€5" is in EUR but currency is USD`,
				postback.Postback{ClickID: "a", AmountMicros: 5_000_000, Kind: postback.KindPurchase, EventName: postback.EventPurchase}),
		},
		{
			name:  "account currency that is not ISO 4217",
			query: "click_id=a",
			cfg:   postback.Config{DefaultCurrency: "dollars"},
			want:  invalid(`the account currency "dollars" is not an ISO 4217 code`, postback.Postback{ClickID: "a"}),
		},
		{
			name:  "transaction id too long",
			query: "click_id=a&txid=" + strings.Repeat("t", postback.MaxTransactionIDLen+1),
			want:  invalid("transaction_id is 257 bytes long, the limit is 256", postback.Postback{ClickID: "a"}),
		},
		{
			name:  "event too long",
			query: "click_id=a&event=" + strings.Repeat("e", postback.MaxEventNameLen+1),
			want:  invalid("event is 101 bytes long, the limit is 100", postback.Postback{ClickID: "a"}),
		},
		{
			name:  "mapping to no field",
			query: "click_id=a&sub1=x",
			cfg:   postback.Config{Mappings: map[string]string{"sub1": "clickid", "sub2": "payout", "sub3": "nothing"}},
			want: invalid(`the integration maps "sub2" to "payout", which is not a field; the integration maps "sub3" to "nothing", which is not a field`,
				postback.Postback{ClickID: "x"}),
		},
		{
			name:  "status mapped to no status",
			query: "click_id=a&status=ok",
			cfg:   postback.Config{StatusWords: map[string]string{"ok": "fine"}},
			want:  invalid(`the integration maps status "ok" to "fine", which is not a status`, postback.Postback{ClickID: "a", RawStatus: "ok"}),
		},
		{
			name:  "unknown network",
			query: "click_id=a&status=approved",
			cfg:   postback.Config{Network: "NOPE"},
			want: invalid(`the integration's network "NOPE" is not a catalog preset`,
				postback.Postback{ClickID: "a", Status: postback.StatusApproved, RawStatus: "approved"}),
		},
		{
			name:  "several problems",
			query: "click_id=a&amount=x&currency=y&txid=" + strings.Repeat("t", 300),
			want: invalid(`amount "x" is not a number; currency "y" is not an ISO 4217 code; transaction_id is 300 bytes long, the limit is 256`,
				postback.Postback{ClickID: "a"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, postback.Parse(query(t, tt.query), tt.cfg))
		})
	}
}

func TestParseExtraIsBounded(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString("click_id=a")
	for i := range postback.MaxParams - 1 {
		fmt.Fprintf(&b, "&x%d=%d", i, i)
	}
	pb := postback.Parse(query(t, b.String()), postback.Config{})
	require.Equal(t, postback.OutcomeReceived, pb.Outcome)
	require.Len(t, pb.Extra, postback.MaxExtra)
	require.Equal(t, "0", pb.Extra["x0"])
	require.Equal(t, "49", pb.Extra["x49"])
}

func TestParseJSON(t *testing.T) {
	t.Parallel()

	ps, err := postback.ParseParams("secret=s", "application/json",
		[]byte(`{"clickId":"abc","payout":19.99,"currency":"EUR","customer":{"email":"A@B.C"},"status":2}`))
	require.NoError(t, err)
	pb := postback.Parse(ps, postback.Config{
		Network:  postback.PresetAffise,
		Mappings: map[string]string{"customer.email": "email"},
	})
	require.Equal(t, postback.Postback{
		Outcome: postback.OutcomeReceived, ClickID: "abc", AmountMicros: 19_990_000, Currency: "EUR",
		Kind: postback.KindPurchase, EventName: postback.EventPurchase,
		Status: postback.StatusPending, RawStatus: "2",
		Attributes: postback.Attributes{Email: "A@B.C"},
	}, pb)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		cfg  postback.Config
		err  string
	}{
		{name: "zero", cfg: postback.Config{}},
		{
			name: "valid",
			cfg: postback.Config{
				Network: postback.PresetAffise, DefaultCurrency: "eur",
				Mappings:    map[string]string{"sub1": "click_id", "Payout-Amount": "AMOUNT", "ord": "transaction-id"},
				StatusWords: map[string]string{"ok": "approved", "9": "REVERSED", "held back": "hold"},
			},
		},
		{name: "network", cfg: postback.Config{Network: "affise"}, err: `network "affise" is not a catalog preset`},
		{name: "currency", cfg: postback.Config{DefaultCurrency: "EURO"}, err: `currency "EURO" is not an ISO 4217 code`},
		{name: "mapping target", cfg: postback.Config{Mappings: map[string]string{"sub1": "payout"}}, err: `mapping "sub1": "payout" is not a field`},
		{name: "mapping name", cfg: postback.Config{Mappings: map[string]string{"_-": "amount"}}, err: `mapping "_-": not a parameter name`},
		{name: "mapping name control", cfg: postback.Config{Mappings: map[string]string{"a\x00": "amount"}}, err: `mapping "a\x00": not a parameter name`},
		{name: "mapping name spaces", cfg: postback.Config{Mappings: map[string]string{" sub1": "amount"}}, err: `mapping " sub1": not a parameter name`},
		{name: "mapping secret", cfg: postback.Config{Mappings: map[string]string{"SECRET": "click_id"}}, err: `mapping "SECRET": the secret cannot be mapped`},
		{
			name: "mapping twice",
			cfg:  postback.Config{Mappings: map[string]string{"sub1": "click_id", "SUB-1": "amount"}},
			err:  `mappings "SUB-1" and "sub1" are the same name`,
		},
		{name: "too many mappings", cfg: postback.Config{Mappings: manyMappings(postback.MaxMappings+1, "email")}, err: "101 mappings, the limit is 100"},
		{name: "too many status words", cfg: postback.Config{StatusWords: manyMappings(postback.MaxMappings+1, "approved")}, err: "101 status words, the limit is 100"},
		{name: "status target", cfg: postback.Config{StatusWords: map[string]string{"ok": "fine"}}, err: `status word "ok": "fine" is not a status`},
		{name: "status word", cfg: postback.Config{StatusWords: map[string]string{" ": "approved"}}, err: `status word " ": not a word of 1 to 32 characters`},
		{
			name: "status twice",
			cfg:  postback.Config{StatusWords: map[string]string{"on hold": "pending", "ON-HOLD": "approved"}},
			err:  `status words "ON-HOLD" and "on hold" are the same word`,
		},
		{
			name: "several",
			cfg:  postback.Config{Network: "X", DefaultCurrency: "Y", Mappings: map[string]string{"a": "b"}},
			err:  "network \"X\" is not a catalog preset\ncurrency \"Y\" is not an ISO 4217 code\nmapping \"a\": \"b\" is not a field",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := tt.cfg.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.err)
		})
	}
}

// manyMappings returns n distinct entries mapped to target: valid
// mappings or status words except for their number.
func manyMappings(n int, target string) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("p%d", i)] = target
	}
	return m
}

func TestFields(t *testing.T) {
	t.Parallel()

	fields := postback.Fields()
	require.Equal(t, postback.FieldClickID, fields[0])
	require.Contains(t, fields, postback.FieldExternalID)
	fields[0] = "changed"
	require.Equal(t, postback.FieldClickID, postback.Fields()[0], "Fields returns a copy")

	for _, f := range postback.Fields() {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()

			for _, name := range []string{string(f), strings.ToUpper(string(f)), strings.ReplaceAll(string(f), "_", "-"), strings.ReplaceAll(string(f), "_", "")} {
				got, ok := postback.ParseField(name)
				require.True(t, ok, name)
				require.Equal(t, f, got)
			}
		})
	}
}

func TestParseField(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		want postback.Field
		ok   bool
	}{
		{"Click-ID", postback.FieldClickID, true},
		{"transactionid", postback.FieldTransactionID, true},
		{"payout", "", false}, // an alias, not a field
		{"sub1", "", false},
		{"", "", false},
		{strings.Repeat("a", 200), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, ok := postback.ParseField(tt.name)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.ok, ok)
		})
	}
}
