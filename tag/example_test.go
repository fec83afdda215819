package tag_test

import (
	"errors"
	"fmt"

	"github.com/clickback/clickback/tag"
)

func ExampleSnippet() {
	fmt.Println(tag.Snippet("https://clickback.example/tag/pk_1.js"))
	// Output:
	// <script>window.clickback=window.clickback||function(){(clickback.q=clickback.q||[]).push(arguments)};</script>
	// <script async src="https://clickback.example/tag/pk_1.js"></script>
}

func ExampleScript() {
	script, err := tag.Script(tag.Config{
		IngestURL: "https://clickback.example/t/pk_1",
		AutoTag:   []tag.AutoTagRule{{Domain: "network.example", Param: "sub1"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(script) > 0)

	_, err = tag.Script(tag.Config{IngestURL: "/t/pk_1"})
	fmt.Println(errors.Is(err, tag.ErrInvalidConfig), err)
	// Output:
	// true
	// true invalid tag configuration: ingest URL "/t/pk_1" is not an absolute http(s) URL
}

func ExampleParseBatch() {
	body := []byte(`{"v":1,"events":[
		{"t":"pv","c":"cb_AbCdEfGhIjKlMnOpQrSt-_","u":"https://shop.example/?utm_source=google&gclid=EAIa","utm_source":"google","gclid":"EAIa"},
		{"t":"tr","c":"cb_AbCdEfGhIjKlMnOpQrSt-_","n":"Purchase","val":"49.90","cur":"EUR","p":{"order":"A-1"}}
	]}`)
	b, err := tag.ParseBatch(body)
	if err != nil {
		panic(err)
	}
	for _, e := range b.Events {
		fmt.Println(e.Type, e.Name, e.ClickID, e.UTM.Source, e.AdClickIDs.GCLID, e.Value, e.Currency, e.Props)
	}

	_, err = tag.ParseBatch([]byte(`{"v":1,"events":[{"t":"pv","c":"cb_x"}]}`))
	var fe *tag.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field, err)
	// Output:
	// PageView PageView cb_AbCdEfGhIjKlMnOpQrSt-_ google EAIa 0  map[]
	// Custom Purchase cb_AbCdEfGhIjKlMnOpQrSt-_   49900000 EUR map[order:A-1]
	// true u invalid event 0: u: is required
}

func ExampleIsBot() {
	fmt.Println(tag.IsBot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"))
	fmt.Println(tag.IsBot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"))
	fmt.Println(tag.IsBot("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"))
	// Output:
	// true
	// true
	// false
}
