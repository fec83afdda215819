package postback_test

import (
	"errors"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

var paramsErrors = []error{
	postback.ErrTooManyParams, postback.ErrNameTooLong, postback.ErrValueTooLong, postback.ErrInvalidUTF8,
	postback.ErrControlChar, postback.ErrBodyTooLarge, postback.ErrUnsupportedContentType, postback.ErrInvalidJSON,
}

func FuzzParseParams(f *testing.F) {
	f.Add("click_id=abc&amount=32.50&transaction_id=T1&secret=s", "", []byte(nil))
	f.Add("a=%7Bx%7D&b=+%20&c=%zz&&=x", "application/x-www-form-urlencoded", []byte("d=%C3%A9&e=%FF"))
	f.Add("", "application/json", []byte(`{"click_id":"abc","amount":32.50,"n":null,"o":{"p":[1,{"q":true}]}}`))
	f.Add("", "", []byte(` {"a":"\u0000"}`))
	f.Add("", "application/json; charset=utf-8", []byte(`[[[[[[[[[[`))
	f.Add("", "text/plain", []byte("\x89PNG\r\n\x1a\n"))
	f.Add("x=1", "multipart/form-data; boundary=z", []byte("--z"))
	f.Add(strings.Repeat("a=1&", 250), "", []byte(nil))

	f.Fuzz(func(t *testing.T, rawQuery, contentType string, body []byte) {
		ps, err := postback.ParseParams(rawQuery, contentType, body)
		if err != nil {
			require.Nil(t, ps)
			known := false
			for _, e := range paramsErrors {
				known = known || errors.Is(err, e)
			}
			require.True(t, known, "unexpected error %v", err)
			return
		}
		require.LessOrEqual(t, len(ps), postback.MaxParams)
		for _, p := range ps {
			require.NotEmpty(t, p.Name)
			require.LessOrEqual(t, len(p.Name), postback.MaxNameLen)
			require.LessOrEqual(t, len(p.Value), postback.MaxValueLen)
			require.True(t, utf8.ValidString(p.Name))
			require.True(t, utf8.ValidString(p.Value))
			require.False(t, strings.ContainsFunc(p.Name, isControl), "control character in name %q", p.Name)
			require.False(t, strings.ContainsFunc(p.Value, func(r rune) bool {
				return isControl(r) && r != '\t' && r != '\n' && r != '\r'
			}), "control character in value %q", p.Value)
		}
	})
}

func isControl(r rune) bool { return r < 0x20 || 0x7f <= r && r <= 0x9f }

func FuzzParse(f *testing.F) {
	f.Add("click_id=abc&amount=32.50&transaction_id=T1&currency=usd&status=approved&secret=s", "", "", "", "", "", "")
	f.Add("sub1={sub1}&payout=1,234.56&txid=%20&cur=XYZ&status=1", "sub1", "click_id", "1", "chargeback", "AFFISE", "EUR")
	f.Add("clickid=a&amount=-5&status=refund&email=x&ref_id=r&extra=v", "extra", "nothing", "x", "y", "NOPE", "dollars")
	f.Add("Click-ID=a%09b&amount=€5&currency=USD&event="+strings.Repeat("e", 101), "", "", "", "", "", "")
	f.Add("click_id=--CLICK-ID--&clkid=#s2#&amount=1e3", "CLKID", "amount", "On Hold", "pending", "IMPACT", "jpy")

	f.Fuzz(func(t *testing.T, rawQuery, mapName, mapTarget, statusWord, statusTarget, network, currency string) {
		ps, err := postback.ParseParams(rawQuery, "", nil)
		if err != nil {
			return
		}
		cfg := postback.Config{
			Network:         network,
			DefaultCurrency: currency,
			Mappings:        map[string]string{mapName: mapTarget, "sub1": "click_id"},
			StatusWords:     map[string]string{statusWord: statusTarget},
		}
		pb := postback.Parse(ps, cfg)
		require.Equal(t, pb, postback.Parse(ps, cfg), "Parse is deterministic")

		switch pb.Outcome {
		case postback.OutcomeReceived:
			require.Empty(t, pb.Reason)
			require.NotEmpty(t, pb.ClickID)
		case postback.OutcomeMissingClickID:
			require.NotEmpty(t, pb.Reason)
			require.Empty(t, pb.ClickID)
		case postback.OutcomeInvalid:
			require.NotEmpty(t, pb.Reason)
		default:
			t.Fatalf("outcome %q", pb.Outcome)
		}
		require.LessOrEqual(t, len(pb.ClickID), postback.MaxClickIDLen)
		require.LessOrEqual(t, len(pb.TransactionID), postback.MaxTransactionIDLen)
		require.LessOrEqual(t, len(pb.EventName), postback.MaxEventNameLen)
		require.False(t, postback.IsMacro(pb.ClickID) && pb.ClickID != "")
		require.Equal(t, strings.TrimSpace(pb.ClickID), pb.ClickID)
		require.GreaterOrEqual(t, pb.AmountMicros, int64(0))
		if pb.AmountMicros > 0 {
			require.Equal(t, postback.KindPurchase, pb.Kind)
		} else {
			require.Equal(t, postback.KindLead, pb.Kind)
		}
		require.NotEmpty(t, pb.EventName)
		if pb.Currency != "" {
			code, ok := postback.NormalizeCurrency(pb.Currency)
			require.True(t, ok)
			require.Equal(t, code, pb.Currency)
		}
		switch pb.Status {
		case "", postback.StatusPending, postback.StatusApproved, postback.StatusRejected, postback.StatusReversed:
		default:
			t.Fatalf("status %q", pb.Status)
		}
		if pb.Status != "" {
			require.NotEmpty(t, pb.RawStatus)
		}
		require.LessOrEqual(t, len(pb.Extra), postback.MaxExtra)
		for name, v := range pb.Extra {
			require.NotEqual(t, "secret", strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(name)))
			require.NotEmpty(t, v)
		}
		require.LessOrEqual(t, len(pb.Reason), 6*(200+2*64))
	})
}

// machineDecimal is the subset of amounts big.Rat reads the same way.
var machineDecimal = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"32.50", "32,50", "1,234.56", "1.234,56", "$32.50", "€12", "32.50 USD", " 7 ", "0", "-5",
		"12,3,4", "9223372036854.775807", "9223372036854.775808", "0.0000005", "1e-7", "1.5E2",
		"1 234,56", "1'234.56", "R$ 9,90", "€12 USD", "−5", ".5", "5.", "1e9999",
	} {
		f.Add(s)
	}

	million := big.NewRat(postback.MicrosPerUnit, 1)
	f.Fuzz(func(t *testing.T, s string) {
		micros, currency, err := postback.ParseAmount(s)
		if err != nil {
			var amountErr *postback.AmountError
			require.True(t, errors.As(err, &amountErr))
			require.Zero(t, micros)
			require.Empty(t, currency)
			return
		}
		require.NotEqual(t, int64(math.MinInt64), micros)
		back, _, err := postback.ParseAmount(postback.FormatAmount(micros))
		require.NoError(t, err)
		require.Equal(t, micros, back, "FormatAmount round trip")
		if currency != "" {
			_, ok := postback.NormalizeCurrency(currency)
			require.True(t, ok)
		}

		// Check the arithmetic against big.Rat for plain decimals.
		if !machineDecimal.MatchString(s) {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		require.True(t, ok)
		r.Mul(r, million)
		q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
		if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom()) >= 0 {
			q.Add(q, big.NewInt(int64(r.Sign())))
		}
		require.True(t, q.IsInt64())
		require.Equal(t, q.Int64(), micros)
	})
}

func FuzzIsMacro(f *testing.F) {
	for _, s := range []string{
		"{clickid}", "${sub1}", "#s2#", "[sub1]", "!!afftrack!!", "!!!clickRef!!!", "--CLICK-ID--",
		"%7Bclickid%7D", "%257Bclickid%257D", "{{x}}", "abc", "{}", "[1]", "!!!!x!!!!", "%", "%%7B",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		macro := postback.IsMacro(s)
		require.Equal(t, macro, postback.IsMacro(" "+s+"\t"), "surrounding space is ignored")
		if !macro || strings.Contains(s, "%") {
			return
		}
		// A macro as written is still one when a network escapes it twice.
		s = strings.TrimSpace(s)
		require.True(t, postback.IsMacro(url.QueryEscape(url.QueryEscape(s))))
		require.LessOrEqual(t, len(s), 70)
	})
}
