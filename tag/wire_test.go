package tag

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

const testClickID = "cb_AbCdEfGhIjKlMnOpQrSt-_"

// batch wraps events (JSON objects) into a body.
func batch(events ...string) []byte {
	return []byte(`{"v":1,"events":[` + strings.Join(events, ",") + `]}`)
}

// event is a valid custom event with extra JSON members.
func event(members string) string {
	if members != "" {
		members = "," + members
	}
	return `{"t":"tr","n":"Signup","c":"` + testClickID + `"` + members + `}`
}

func TestParseBatch(t *testing.T) {
	t.Parallel()

	body := batch(
		`{"t":"pv","c":"`+testClickID+`","ts":1700000000123,"u":"https://shop.example/?gclid=G","r":"android-app://com.google.android.gm/",
		  "ti":"Spring \u00e9","utm_source":"google","utm_medium":"cpc","utm_campaign":"spring","utm_term":"shoes","utm_content":"ad1",
		  "gclid":"G","gbraid":"GB","wbraid":"WB","fbclid":"F","ttclid":"TT","msclkid":"MS","li_fat_id":"LI","twclid":"TW","epik":"EP","ScCid":"SC",
		  "fbp":"fb.1.1700000000000.1234567890","fbc":"fb.1.1700000000000.F","ttp":"ttp1","sc":"1440x900","lg":"en-GB","future":{"x":[1]}}`,
		`{"t":"oc","c":"`+testClickID+`","u":"https://shop.example/","l":"https://network.example/o?sub1=`+testClickID+`","lt":"Get it"}`,
		`{"t":"tr","c":"tenant-set.id~1","n":"Add to cart: v2","val":"12.345678","cur":"EUR","p":{"plan":"pro","seats":3,"ratio":-1.5e3,"trial":false}}`,
		`{"t":"id","c":"`+testClickID+`","xid":"u-42","em":"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"}`,
		`{"t":"er","m":"TypeError: x is undefined\n at tag.js:1"}`,
	)
	got, err := ParseBatch(body)
	require.NoError(t, err)
	require.Equal(t, Batch{Events: []Event{
		{
			Type: PageView, Name: "PageView", ClickID: testClickID, ClientTime: time.UnixMilli(1700000000123).UTC(),
			URL: "https://shop.example/?gclid=G", Referrer: "android-app://com.google.android.gm/", Title: "Spring é",
			UTM:        UTM{Source: "google", Medium: "cpc", Campaign: "spring", Term: "shoes", Content: "ad1"},
			AdClickIDs: AdClickIDs{GCLID: "G", GBRAID: "GB", WBRAID: "WB", FBCLID: "F", TTCLID: "TT", MSCLKID: "MS", LiFatID: "LI", TWCLID: "TW", EPIK: "EP", ScCID: "SC"},
			FBP:        "fb.1.1700000000000.1234567890", FBC: "fb.1.1700000000000.F", TTP: "ttp1", Screen: "1440x900", Language: "en-GB",
		},
		{
			Type: OutboundClick, Name: "OutboundClick", ClickID: testClickID, URL: "https://shop.example/",
			LinkURL: "https://network.example/o?sub1=" + testClickID, LinkText: "Get it",
		},
		{
			Type: Custom, Name: "Add to cart: v2", ClickID: "tenant-set.id~1", Value: 12_345_678, HasValue: true, Currency: "EUR",
			Props: map[string]any{"plan": "pro", "seats": json.Number("3"), "ratio": json.Number("-1.5e3"), "trial": false},
		},
		{Type: Identify, Name: "Identify", ClickID: testClickID, ExternalID: "u-42", EmailSHA256: "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"},
		{Type: Error, Name: "Error", Message: "TypeError: x is undefined\n at tag.js:1"},
	}}, got)
}

func TestParseBatchErrors(t *testing.T) {
	t.Parallel()

	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name  string
		body  []byte
		want  error  // a sentinel, or nil for a *FieldError
		field string // the FieldError's field
		text  string // part of the error text
	}{
		{name: "too large", body: []byte(`{"v":1,"events":[]}` + strings.Repeat(" ", MaxBodyBytes)), want: ErrBodyTooLarge},
		{name: "invalid UTF-8", body: batch(event(`"ti":"` + "\xff\xfe" + `"`)), want: ErrInvalidUTF8},
		{name: "empty", body: nil, want: ErrMalformed},
		{name: "not JSON", body: []byte(`v=1`), want: ErrMalformed},
		{name: "array", body: []byte(`[1]`), want: ErrMalformed},
		{name: "truncated", body: batch(event(""))[:40], want: ErrMalformed},
		{name: "trailing garbage", body: append(batch(event("")), '}'), want: ErrMalformed},
		{name: "events not an array", body: []byte(`{"v":1,"events":{}}`), want: ErrMalformed},
		{name: "deep nesting", body: []byte(`{"v":1,"events":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), want: ErrMalformed},
		{name: "no version", body: []byte(`{"events":[` + event("") + `]}`), want: ErrVersion},
		{name: "version 2", body: []byte(`{"v":2,"events":[` + event("") + `]}`), want: ErrVersion},
		{name: "version as string", body: []byte(`{"v":"1","events":[` + event("") + `]}`), want: ErrVersion},
		{name: "no events", body: []byte(`{"v":1}`), want: ErrNoEvents},
		{name: "empty events", body: batch(), want: ErrNoEvents},
		{name: "too many events", body: batch(strings.Split(strings.Repeat(event("")+"\x00", MaxEvents+1), "\x00")[:MaxEvents+1]...), want: ErrTooManyEvents},

		{name: "event not an object", body: batch(`"pv"`), text: "invalid event 0: not a JSON object"},
		{name: "null event", body: batch(`null`), field: "t"},
		{name: "unknown type", body: batch(`{"t":"PageView","c":"` + testClickID + `"}`), field: "t"},
		{name: "wrong type of field", body: batch(event(`"u":42`)), field: "u", text: "must be a string"},
		{name: "props not an object", body: batch(event(`"p":[1]`)), field: "p", text: "must be an object"},
		{name: "missing click id", body: batch(`{"t":"pv","u":"https://a.example/"}`), field: "c"},
		{name: "click id with a slash", body: batch(event(`"c":"cb/x"`)), field: "c"},
		{name: "click id too long", body: batch(event(`"c":"` + strings.Repeat("a", MaxClickIDLen+1) + `"`)), field: "c"},
		{name: "pageview without url", body: batch(`{"t":"pv","c":"` + testClickID + `"}`), field: "u", text: "is required"},
		{name: "relative url", body: batch(event(`"u":"/landing"`)), field: "u", text: "absolute URL"},
		{name: "url too long", body: batch(event(`"u":"https://a.example/` + strings.Repeat("a", MaxURLLen) + `"`)), field: "u", text: "longer than 2048 characters"},
		{name: "outbound click without link", body: batch(`{"t":"oc","c":"` + testClickID + `","u":"https://a.example/"}`), field: "l"},
		{name: "title too long", body: batch(event(`"ti":"` + long(MaxTitleLen+1) + `"`)), field: "ti"},
		{name: "NUL in title", body: batch(event(`"ti":"a\u0000b"`)), field: "ti", text: "NUL"},
		{name: "utm too long", body: batch(event(`"utm_campaign":"` + long(MaxParamLen+1) + `"`)), field: "utm_campaign"},
		{name: "gclid too long", body: batch(event(`"gclid":"` + long(MaxParamLen+1) + `"`)), field: "gclid"},
		{name: "fbc too long", body: batch(event(`"fbc":"` + long(MaxCookieLen+1) + `"`)), field: "fbc"},
		{name: "link text too long", body: batch(event(`"lt":"` + long(MaxLinkTextLen+1) + `"`)), field: "lt"},
		{name: "screen", body: batch(event(`"sc":"1440*900"`)), field: "sc"},
		{name: "screen too wide", body: batch(event(`"sc":"144000x900"`)), field: "sc"},
		{name: "language", body: batch(event(`"lg":"en_GB"`)), field: "lg"},
		{name: "timestamp float", body: batch(event(`"ts":1.5`)), field: "ts"},
		{name: "timestamp negative", body: batch(event(`"ts":-1`)), field: "ts"},
		{name: "timestamp string", body: batch(event(`"ts":"1700000000000"`)), field: "ts"},
		{name: "timestamp after 9999", body: batch(event(`"ts":253402300800000`)), field: "ts"},
		{name: "custom without name", body: batch(`{"t":"tr","c":"` + testClickID + `"}`), field: "n", text: "is required"},
		{name: "name starting with _", body: batch(`{"t":"tr","n":"_x","c":"` + testClickID + `"}`), field: "n"},
		{name: "name with slash", body: batch(`{"t":"tr","n":"a/b","c":"` + testClickID + `"}`), field: "n"},
		{name: "name too long", body: batch(`{"t":"tr","n":"` + strings.Repeat("a", MaxNameLen+1) + `","c":"` + testClickID + `"}`), field: "n"},
		{name: "reserved name", body: batch(`{"t":"tr","n":"PageView","c":"` + testClickID + `"}`), field: "n", text: "reserved"},
		{name: "negative value", body: batch(event(`"val":-1`)), field: "val"},
		{name: "value too large", body: batch(event(`"val":1000000000000.000001`)), field: "val", text: "at most 1e12"},
		{name: "value with exponent too large", body: batch(event(`"val":1e13`)), field: "val"},
		{name: "value huge exponent", body: batch(event(`"val":1e999999999999`)), field: "val"},
		{name: "value string with sign", body: batch(event(`"val":"+1"`)), field: "val"},
		{name: "value string with comma", body: batch(event(`"val":"1,50"`)), field: "val"},
		{name: "value string with exponent", body: batch(event(`"val":"1e3"`)), field: "val"},
		{name: "value string empty", body: batch(event(`"val":""`)), field: "val"},
		{name: "value bool", body: batch(event(`"val":true`)), field: "val"},
		{name: "value object", body: batch(event(`"val":{}`)), field: "val"},
		{name: "currency lower case", body: batch(event(`"cur":"eur"`)), field: "cur"},
		{name: "currency too long", body: batch(event(`"cur":"EURO"`)), field: "cur"},
		{name: "too many props", body: batch(event(`"p":{"k":1` + manyProps(MaxProps) + `}`)), field: "p"},
		{name: "prop key", body: batch(event(`"p":{"a b!":1}`)), field: "p", text: "key"},
		{name: "prop nested", body: batch(event(`"p":{"a":{"b":1}}`)), field: "p.a"},
		{name: "prop array", body: batch(event(`"p":{"a":[1]}`)), field: "p.a"},
		{name: "prop null", body: batch(event(`"p":{"a":null}`)), field: "p.a"},
		{name: "prop too long", body: batch(event(`"p":{"a":"` + long(MaxParamLen+1) + `"}`)), field: "p.a"},
		{name: "prop long number", body: batch(event(`"p":{"a":1` + strings.Repeat("0", 40) + `}`)), field: "p.a"},
		{name: "identify without ids", body: batch(`{"t":"id","c":"` + testClickID + `"}`), text: "needs xid or em"},
		{name: "email not hashed", body: batch(`{"t":"id","c":"` + testClickID + `","em":"ann@example.com"}`), field: "em"},
		{name: "email hash upper case", body: batch(`{"t":"id","c":"` + testClickID + `","em":"` + strings.Repeat("A", 64) + `"}`), field: "em"},
		{name: "email hash of nothing", body: batch(`{"t":"id","c":"` + testClickID + `","em":"` + emptySHA256 + `"}`), field: "em"},
		{name: "second event invalid", body: batch(event(""), event(`"u":"nope"`)), field: "u", text: "invalid event 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBatch(tt.body)
			require.Error(t, err)
			require.Empty(t, got.Events)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			} else {
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.ErrorIs(t, err, ErrInvalidEvent)
				require.Equal(t, tt.field, fe.Field, err.Error())
			}
			require.Contains(t, err.Error(), tt.text)
			require.True(t, utf8.ValidString(err.Error()))
		})
	}
}

// manyProps returns n more JSON members ",\"p0\":0…".
func manyProps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"p%d":%d`, i, i)
	}
	return b.String()
}

func TestParseBatchValue(t *testing.T) {
	t.Parallel()

	tests := []struct {
		val  string // the JSON value of val
		want int64
	}{
		{`0`, 0},
		{`"0"`, 0},
		{`12`, 12_000_000},
		{`12.5`, 12_500_000},
		{`"12.50"`, 12_500_000},
		{`"0012.50"`, 12_500_000},
		{`0.000001`, 1},
		{`0.0000005`, 1},
		{`0.00000049999`, 0},
		{`1e-7`, 0},
		{`5e-7`, 1},
		{`0.30000000000000004`, 300_000},
		{`19.999999`, 19_999_999},
		{`19.9999995`, 20_000_000},
		{`1.5E+3`, 1_500_000_000},
		{`1234e-2`, 12_340_000},
		{`0e999999999999`, 0},
		{`1e-999999999999`, 0},
		{`999999999999.9999994`, 999_999_999_999_999_999},
		{`1000000000000`, MaxValue},
		{`"1000000000000.000000"`, MaxValue},
		{`9007199254740993e-6`, 9_007_199_254_740_993}, // beyond float64 precision
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			t.Parallel()
			b, err := ParseBatch(batch(event(`"val":` + tt.val)))
			require.NoError(t, err)
			require.True(t, b.Events[0].HasValue)
			require.Equal(t, tt.want, b.Events[0].Value)
		})
	}

	t.Run("absent", func(t *testing.T) {
		t.Parallel()
		for _, members := range []string{"", `"val":null`} {
			b, err := ParseBatch(batch(event(members)))
			require.NoError(t, err)
			require.False(t, b.Events[0].HasValue)
			require.Zero(t, b.Events[0].Value)
		}
	})
}

func TestParseBatchLimitsCountCharacters(t *testing.T) {
	t.Parallel()

	// 512 characters of 4 bytes each are 2048 bytes, and fit.
	title := strings.Repeat("\U0001F600", MaxTitleLen)
	b, err := ParseBatch(batch(event(`"ti":"` + title + `"`)))
	require.NoError(t, err)
	require.Equal(t, title, b.Events[0].Title)

	// The tag's JSON.stringify escapes a surrogate it cut in half; it decodes to U+FFFD.
	b, err = ParseBatch(batch(event(`"ti":"a\ud83d"`)))
	require.NoError(t, err)
	require.Equal(t, "a\uFFFD", b.Events[0].Title)
}

// FuzzParseBatch checks that ParseBatch never panics and that whatever it accepts keeps
// every documented limit.
func FuzzParseBatch(f *testing.F) {
	f.Add(batch(event(`"val":"12.50","cur":"EUR","p":{"a":"b","n":1.5,"t":true}`)))
	f.Add(batch(`{"t":"pv","c":"`+testClickID+`","u":"https://a.example/?gclid=x","ts":1700000000000,"sc":"1x1","lg":"en"}`, `{"t":"er","m":"x"}`))
	f.Add(batch(`{"t":"oc","c":"x","l":"https://n.example/?s=x","lt":"go"}`, `{"t":"id","c":"x","xid":"1"}`))
	f.Add(batch(event(`"val":1.5e-7`)))
	f.Add(batch(event(`"val":"999999999999.9999995"`)))
	f.Add([]byte(`{"v":1,"events":[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	f.Add([]byte("{\"v\":1,\"events\":[{\"t\":\"pv\",\"ti\":\"\xff\"}]}"))
	f.Add([]byte(`{"v":1,"events":[{"t":"tr","n":"a","c":"x","p":{"k":null}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBatch(body)
		if len(body) <= MaxBodyBytes && utf8.Valid(body) {
			// The one-pass decoding and the event-by-event one agree.
			cb, cerr := checkedBatch(body)
			require.Equal(t, err, cerr)
			require.Equal(t, b, cb)
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				require.Contains(t, []error{ErrBodyTooLarge, ErrInvalidUTF8, ErrMalformed, ErrVersion, ErrNoEvents, ErrTooManyEvents}, err)
			}
			require.Empty(t, b.Events)
			return
		}
		require.NotEmpty(t, b.Events)
		require.LessOrEqual(t, len(b.Events), MaxEvents)
		for _, e := range b.Events {
			require.Contains(t, []EventType{PageView, OutboundClick, Custom, Identify, Error}, e.Type)
			require.True(t, e.ClickID == "" && e.Type == Error || WellFormedClickID(e.ClickID))
			require.True(t, e.Type == Custom || e.Name == string(e.Type))
			require.True(t, validName(e.Name))
			require.LessOrEqual(t, utf8.RuneCountInString(e.URL), MaxURLLen)
			require.LessOrEqual(t, utf8.RuneCountInString(e.Title), MaxTitleLen)
			require.LessOrEqual(t, utf8.RuneCountInString(e.LinkText), MaxLinkTextLen)
			require.True(t, e.Value >= 0 && e.Value <= MaxValue)
			require.True(t, e.HasValue || e.Value == 0)
			require.True(t, e.EmailSHA256 == "" || validSHA256(e.EmailSHA256))
			require.True(t, e.Currency == "" || validCurrency(e.Currency))
			require.LessOrEqual(t, len(e.Props), MaxProps)
			for k, v := range e.Props {
				require.True(t, validName(k))
				switch v := v.(type) {
				case string:
					require.LessOrEqual(t, utf8.RuneCountInString(v), MaxParamLen)
				case json.Number, bool:
				default:
					t.Fatalf("prop %q has type %T", k, v)
				}
			}
			for _, s := range []string{e.URL, e.Referrer, e.Title, e.UTM.Source, e.AdClickIDs.GCLID, e.FBC, e.LinkURL, e.ExternalID, e.Message} {
				require.NotContains(t, s, "\x00")
				require.True(t, utf8.ValidString(s))
			}
		}
	})
}

// BenchmarkParseBatch parses a full batch of MaxEvents typical events: one PageView with
// its whole context, then custom events and outbound clicks.
func BenchmarkParseBatch(b *testing.B) {
	events := []string{`{"t":"pv","c":"` + testClickID + `","ts":1700000000123,"u":"https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=EAIaIQobChMI","r":"https://www.google.com/","ti":"Spring sale – Shop","utm_source":"google","utm_medium":"cpc","utm_campaign":"spring","gclid":"EAIaIQobChMI","fbp":"fb.1.1700000000000.1234567890","sc":"1440x900","lg":"en-GB"}`}
	for i := 1; i < MaxEvents; i++ {
		if i%2 == 0 {
			events = append(events, `{"t":"oc","c":"`+testClickID+`","ts":1700000000123,"u":"https://shop.example/landing","l":"https://network.example/offer?sub1=`+testClickID+`","lt":"Get the offer"}`)
		} else {
			events = append(events, `{"t":"tr","c":"`+testClickID+`","ts":1700000000123,"u":"https://shop.example/cart","n":"AddToCart","val":19.99,"cur":"EUR","p":{"sku":"A-1","qty":2}}`)
		}
	}
	body := batch(events...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBatch(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*MaxEvents)/b.Elapsed().Seconds(), "events/s")
}
