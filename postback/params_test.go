package postback_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

func TestParseParams(t *testing.T) {
	t.Parallel()

	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		want        postback.Params
	}{
		{
			name:  "query string",
			query: "click_id=abc&amount=32.50&transaction_id=T1",
			want:  postback.Params{{"click_id", "abc"}, {"amount", "32.50"}, {"transaction_id", "T1"}},
		},
		{
			name:  "decoding keeps names and values as sent",
			query: "Click-ID=a%20b+c&e%6Dail=x%40y.z&note=100%&semi=a;b",
			want:  postback.Params{{"Click-ID", "a b c"}, {"email", "x@y.z"}, {"note", "100%"}, {"semi", "a;b"}},
		},
		{
			name:  "repeated names are all kept in order",
			query: "a=1&a=2&b=&a=3",
			want:  postback.Params{{"a", "1"}, {"a", "2"}, {"b", ""}, {"a", "3"}},
		},
		{
			name:  "empty pairs and empty names are dropped",
			query: "&&a=1&=x&&b&",
			want:  postback.Params{{"a", "1"}, {"b", ""}},
		},
		{
			name:  "unsubstituted macros stay as data here",
			query: "click_id={clickid}&amount=%7Bpayout%7D",
			want:  postback.Params{{"click_id", "{clickid}"}, {"amount", "{payout}"}},
		},
		{
			name:        "form body after the query",
			query:       "secret=s",
			contentType: form + "; charset=UTF-8",
			body:        "click_id=abc&amount=1%2C50",
			want:        postback.Params{{"secret", "s"}, {"click_id", "abc"}, {"amount", "1,50"}},
		},
		{
			name: "form body without content type",
			body: "click_id=abc",
			want: postback.Params{{"click_id", "abc"}},
		},
		{
			name:        "text/plain form body",
			contentType: "text/plain",
			body:        "click_id=abc\n",
			want:        postback.Params{{"click_id", "abc\n"}},
		},
		{
			name:        "JSON body",
			query:       "secret=s",
			contentType: "application/json",
			body:        `{"click_id":"abc","amount":32.50,"big":12345678901234567890.123,"ok":true,"no":false,"none":null}`,
			want: postback.Params{
				{"secret", "s"}, {"click_id", "abc"}, {"amount", "32.50"},
				{"big", "12345678901234567890.123"}, {"ok", "true"}, {"no", "false"}, {"none", ""},
			},
		},
		{
			name: "JSON body sniffed without content type",
			body: ` {"click_id":"abc"} `,
			want: postback.Params{{"click_id", "abc"}},
		},
		{
			name:        "JSON +json type",
			contentType: "application/vnd.network+json",
			body:        `{"a":"1"}`,
			want:        postback.Params{{"a", "1"}},
		},
		{
			name:        "nested JSON is flattened with dots",
			contentType: "application/json",
			body:        `{"customer":{"email":"a@b.c","address":{"zip":"10115"}},"items":["x",{"sku":"y"}],"empty":{},"list":[]}`,
			want: postback.Params{
				{"customer.email", "a@b.c"}, {"customer.address.zip", "10115"},
				{"items.0", "x"}, {"items.1.sku", "y"},
			},
		},
		{
			name:        "JSON keeps escaped text and duplicate keys",
			contentType: "application/json",
			body:        `{"a":"caf\u00e9 \"q\"\n","a":"2"}`,
			want:        postback.Params{{"a", "café \"q\"\n"}, {"a", "2"}},
		},
		{
			name:        "blank body of any type is ignored",
			query:       "a=1",
			contentType: "image/png",
			body:        " \r\n",
			want:        postback.Params{{"a", "1"}},
		},
		{
			name:  "values may hold tabs and newlines",
			query: "a=x%09y%0D%0Az",
			want:  postback.Params{{"a", "x\ty\r\nz"}},
		},
		{
			name:  "unicode is fine",
			query: "city=M%C3%BCnchen&name=%E5%BC%A0",
			want:  postback.Params{{"city", "München"}, {"name", "张"}},
		},
		{
			name: "nothing",
			want: postback.Params{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := postback.ParseParams(tt.query, tt.contentType, []byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseParamsLimits(t *testing.T) {
	t.Parallel()

	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "p%d=%d&", i, i)
		}
		return b.String()
	}
	manyJSON := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"p%d":%d`, i, i)
		}
		b.WriteString("}")
		return b.String()
	}

	t.Run("AtTheLimits", func(t *testing.T) {
		t.Parallel()

		ps, err := postback.ParseParams(many(postback.MaxParams), "", nil)
		require.NoError(t, err)
		require.Len(t, ps, postback.MaxParams)

		name, value := strings.Repeat("n", postback.MaxNameLen), strings.Repeat("v", postback.MaxValueLen)
		ps, err = postback.ParseParams(name+"="+value, "", nil)
		require.NoError(t, err)
		require.Equal(t, postback.Params{{name, value}}, ps)

		// Escapes count decoded: 2048 escaped bytes are 6144 raw ones.
		ps, err = postback.ParseParams("a="+strings.Repeat("%41", postback.MaxValueLen), "", nil)
		require.NoError(t, err)
		require.Len(t, ps[0].Value, postback.MaxValueLen)

		body := []byte("a=" + strings.Repeat("v", postback.MaxBodyBytes-2))
		_, err = postback.ParseParams("", "", body)
		require.ErrorIs(t, err, postback.ErrValueTooLong) // the body limit itself is not hit
	})

	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		err         error
		message     string
	}{
		{name: "too many in the query", query: many(postback.MaxParams + 1), err: postback.ErrTooManyParams,
			message: "too many parameters: more than 200"},
		{name: "10,000 parameters", query: many(10_000), err: postback.ErrTooManyParams},
		{name: "too many across query and body", query: many(150), body: many(51), err: postback.ErrTooManyParams},
		{name: "too many in JSON", body: manyJSON(postback.MaxParams + 1), err: postback.ErrTooManyParams},
		{name: "name too long", query: strings.Repeat("n", postback.MaxNameLen+1) + "=1", err: postback.ErrNameTooLong,
			message: `parameter name too long: "` + strings.Repeat("n", 64) + `"… is 129 bytes, the limit is 128`},
		{name: "huge name", query: strings.Repeat("n", 1<<20), err: postback.ErrNameTooLong},
		{name: "value too long", query: "click_id=" + strings.Repeat("v", postback.MaxValueLen+1), err: postback.ErrValueTooLong,
			message: `parameter value too long: "click_id" is 2049 bytes, the limit is 2048`},
		{name: "huge value", query: "a=" + strings.Repeat("v", 1<<20), err: postback.ErrValueTooLong},
		{name: "JSON name too long", body: `{"` + strings.Repeat("n", postback.MaxNameLen+1) + `":1}`, err: postback.ErrNameTooLong},
		{name: "JSON flattened name too long", body: `{"` + strings.Repeat("n", 100) + `":{"` + strings.Repeat("m", 100) + `":{}}}`, err: postback.ErrNameTooLong},
		{name: "JSON value too long", body: `{"a":"` + strings.Repeat("v", postback.MaxValueLen+1) + `"}`, err: postback.ErrValueTooLong},
		{name: "body too large", body: strings.Repeat("a", postback.MaxBodyBytes+1), err: postback.ErrBodyTooLarge,
			message: "body too large: 65537 bytes, the limit is 65536"},
		{name: "invalid UTF-8 in a value", query: "a=%FF%FE", err: postback.ErrInvalidUTF8,
			message: `not valid UTF-8 in the value of parameter "a"`},
		{name: "invalid UTF-8 in a name", query: "%C3=1", err: postback.ErrInvalidUTF8},
		{name: "raw invalid UTF-8 in a form body", body: "a=\xff", err: postback.ErrInvalidUTF8},
		{name: "invalid UTF-8 in JSON", contentType: "application/json", body: "{\"a\":\"\xff\"}", err: postback.ErrInvalidUTF8,
			message: "not valid UTF-8: the JSON body"},
		{name: "NUL in a value", query: "a=x%00y", err: postback.ErrControlChar,
			message: `control character U+0000 in the value of parameter "a"`},
		{name: "escape in a value", query: "a=%1B[31m", err: postback.ErrControlChar},
		{name: "DEL in a value", query: "a=%7F", err: postback.ErrControlChar},
		{name: "C1 control in a value", query: "a=%C2%85", err: postback.ErrControlChar,
			message: `control character U+0085 in the value of parameter "a"`},
		{name: "newline in a name", query: "a%0Ab=1", err: postback.ErrControlChar},
		{name: "control character in JSON", body: `{"a":"\u0000"}`, err: postback.ErrControlChar},
		{name: "binary garbage", contentType: "application/octet-stream", body: "\x89PNG\r\n\x1a\n\x00\x00", err: postback.ErrUnsupportedContentType,
			message: `unsupported content type "application/octet-stream": send a query string, a form or a JSON object`},
		{name: "binary garbage without type", body: "\x89PNG\r\n\x1a\n\x00\x00", err: postback.ErrInvalidUTF8},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: "--x", err: postback.ErrUnsupportedContentType},
		{name: "XML", contentType: "text/xml", body: "<a/>", err: postback.ErrUnsupportedContentType},
		{name: "JSON array", contentType: "application/json", body: `[{"a":1}]`, err: postback.ErrInvalidJSON,
			message: "invalid JSON body: the body must be one JSON object"},
		{name: "JSON scalar", contentType: "application/json", body: `"a"`, err: postback.ErrInvalidJSON},
		{name: "JSON syntax", contentType: "application/json", body: `{"a":}`, err: postback.ErrInvalidJSON},
		{name: "JSON truncated", contentType: "application/json", body: `{"a":"b"`, err: postback.ErrInvalidJSON},
		{name: "JSON trailing data", contentType: "application/json", body: `{"a":"b"} {}`, err: postback.ErrInvalidJSON},
		{name: "JSON too deep", contentType: "application/json", body: strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9), err: postback.ErrInvalidJSON,
			message: "invalid JSON body: nested deeper than 8 levels"},
		{name: "JSON very deep", contentType: "application/json", body: strings.Repeat("[", 50_000), err: postback.ErrInvalidJSON},
		{name: "JSON very deep in an object", contentType: "application/json", body: `{"a":` + strings.Repeat("[", 50_000), err: postback.ErrInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ps, err := postback.ParseParams(tt.query, tt.contentType, []byte(tt.body))
			require.ErrorIs(t, err, tt.err)
			require.Nil(t, ps)
			if tt.message != "" {
				require.EqualError(t, err, tt.message)
			}
		})
	}
}

func TestParamsGet(t *testing.T) {
	t.Parallel()

	ps := postback.Params{{"Click-ID", "a"}, {"click_id", "b"}, {"amount", ""}}
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"click_id", "a", true},
		{"CLICKID", "a", true},
		{"amount", "", true},
		{"currency", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			value, ok := ps.Get(tt.name)
			require.Equal(t, tt.value, value)
			require.Equal(t, tt.ok, ok)
		})
	}
}

func TestParamsRedacted(t *testing.T) {
	t.Parallel()

	t.Run("Redacts", func(t *testing.T) {
		t.Parallel()

		ps := postback.Params{{"click_id", "a"}, {"secret", "s3cr3t"}, {"Secret", "other"}}
		require.Equal(t, postback.Params{{"click_id", "a"}, {"secret", postback.Redacted}, {"Secret", postback.Redacted}}, ps.Redacted())
		require.Equal(t, "s3cr3t", ps[1].Value, "the original is not modified")
	})

	t.Run("NothingToRedact", func(t *testing.T) {
		t.Parallel()

		ps := postback.Params{{"click_id", "a"}}
		require.Equal(t, ps, ps.Redacted())
	})
}
