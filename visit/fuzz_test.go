package visit

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clickback/clickback/tag"
)

// FuzzRows: whatever batch the wire format accepts, the rows made of it fit
// their columns (sizes in bytes, valid UTF-8, no NUL for PostgreSQL), and the
// statements have one argument per placeholder.
func FuzzRows(f *testing.F) {
	f.Add([]byte(`{"v":1,"events":[{"t":"pv","c":"cb_a","u":"https://a.example/?utm_source=x","utm_source":"x","gclid":"g","fbc":"fb.1.1.f"},{"t":"oc","c":"cb_a","u":"https://a.example/","l":"https://n.example/?s=cb_a"}]}`))
	f.Add([]byte(`{"v":1,"events":[{"t":"tr","c":"cb_b","u":"https://a.example/","n":"Signup","val":"1.5","cur":"EUR","p":{"plan":"pro","n":3,"ok":true}},{"t":"id","c":"cb_b","xid":"u-1","em":"` + strings.Repeat("a", 64) + `"},{"t":"er","m":"boom"}]}`))
	f.Add([]byte(`{"v":1,"events":[{"t":"pv","c":"cb_c","u":"https://a.example/` + strings.Repeat("€", 600) + `","ti":"` + strings.Repeat("é", 512) + `","utm_term":"` + strings.Repeat("😀", 512) + `"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := tag.ParseBatch(body)
		if err != nil {
			return
		}
		now := time.Now()
		batch := &Batch{AccountID: "acc_1", PropertyID: "prp_1", IP: "203.0.113.1", UserAgent: strings.Repeat("ü", 700), Received: now, Events: b.Events}
		clicks, events := rows([]*Batch{batch, batch})
		check := func(what, v string, max int) {
			if len(v) > max || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				t.Fatalf("%s %q does not fit %d bytes of valid text", what, v, max)
			}
		}
		seen := map[string]bool{}
		for _, c := range clicks {
			if seen[c.ClickID] {
				t.Fatalf("click %s twice in one statement", c.ClickID)
			}
			seen[c.ClickID] = true
			check("click id", c.ClickID, clickIDSize)
			for name, v := range c.Fields {
				size, ok := sizes[name]
				if !ok {
					t.Fatalf("unknown column %s", name)
				}
				check(name, v, size)
			}
		}
		for _, e := range events {
			check("name", e.Name, eventNameLen)
			check("url", e.URL, urlSize)
			check("link url", e.LinkURL, urlSize)
			for k, v := range e.Props {
				check("prop "+k, v, propSize)
			}
		}
		if len(clicks) > 0 {
			q, args := clickInsert(clicks)
			if n := strings.Count(q, "?"); n != len(args) {
				t.Fatalf("click insert: %d placeholders, %d args", n, len(args))
			}
			checkArrays(t, "clicks", pgClickInsert, pgClickArgs(clicks), len(clicks))
		}
		if len(events) > 0 {
			q, args, err := eventInsert(events)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(q, "?"); n != len(args) {
				t.Fatalf("event insert: %d placeholders, %d args", n, len(args))
			}
			pg, err := pgEventArgs(events)
			if err != nil {
				t.Fatal(err)
			}
			checkArrays(t, "events", pgEventInsert, pg, len(events))
		}
	})
}

// checkArrays: one array of n values per parameter of the PostgreSQL
// statement.
func checkArrays(t *testing.T, what, q string, args []any, n int) {
	t.Helper()
	if p := strings.Count(q, "[]"); p != len(args) {
		t.Fatalf("%s: %d parameters, %d arrays", what, p, len(args))
	}
	for i, a := range args {
		if l := reflect.ValueOf(a).Len(); l != n {
			t.Fatalf("%s: array %d holds %d values for %d rows", what, i, l, n)
		}
	}
}
