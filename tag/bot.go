package tag

import "strings"

// botTokens are lower-case substrings of the user agents of crawlers, link previews,
// monitors, HTTP libraries and headless browsers. Generic tokens ("bot/", "spider") catch
// most crawlers; "bot" alone would also catch phones such as the Cubot range.
var botTokens = []string{
	// generic crawler words, in the forms crawlers write them
	"bot/", "bot;", "bot)", "bot-", "robot", "crawl", "spider", "slurp", "scraper", "archiver", "archive.org_bot",
	// search engines, ad and feed fetchers that say no "bot/"
	"adsbot", "mediapartners-google", "feedfetcher", "apis-google", "google-inspectiontool",
	"googleother", "google-safety", "google-read-aloud", "googleproducer", "bingpreview",
	"qwantify",
	// link previews
	"facebookexternalhit", "facebookcatalog", "meta-externalagent", "meta-externalfetcher",
	"whatsapp/", "skypeuripreview", "embedly", "iframely", "quora link preview", "vkshare",
	"pinterest/0.", "slack-imgproxy", "outbrain", "nuzzel", "tumblr/", "mastodon/",
	"w3c_validator", "validator.nu",
	// AI crawlers and assistants
	"chatgpt-user", "claude-web", "anthropic-ai", "cohere-ai", "perplexity-user", "bytespider",
	"diffbot", "omgili", "ccbot", "ai2bot", "youbot",
	// monitors, audits and prerenderers
	"pingdom", "uptimerobot", "statuscake", "site24x7", "newrelicpinger", "datadog", "gtmetrix",
	"lighthouse", "pagespeed", "page speed", "ptst/", "prerender", "screaming frog", "sitebulb",
	// HTTP libraries and tools
	"curl/", "wget/", "httpie/", "python-requests", "python-urllib", "python-httpx", "aiohttp",
	"scrapy", "go-http-client", "java/", "okhttp", "apache-httpclient", "jakarta commons",
	"axios/", "node-fetch", "undici", "got (", "libwww-perl", "lwp::", "guzzlehttp", "ruby",
	"php/", "postmanruntime", "insomnia/", "wordpress/", "dart:io", "reqwest",
	// headless and automated browsers
	"headless", "phantomjs", "slimerjs", "puppeteer", "playwright", "selenium",
	"webdriver", "cypress",
}

// botIndex lists botTokens by first byte, so that IsBot reads the user agent once instead
// of once per token: it runs on every ingest request.
var botIndex = func() (index [256][]string) {
	for _, t := range botTokens {
		index[t[0]] = append(index[t[0]], t)
	}
	return index
}()

// IsBot reports whether a user agent is a crawler, a link preview, a monitor, a script or
// a headless browser rather than a person's browser. An empty user agent counts as a bot.
//
// The ingest marks such visits; it does not drop them. Dropping would hide traffic that
// the tenant may want to see, and clickback's own browser tests run HeadlessChrome, which
// IsBot reports as a bot: those tests must still find their Clicks recorded. Reports and
// forwarding decide what a marked visit counts for.
//
// The list is curated, not exhaustive: a bot that copies a browser's user agent passes.
func IsBot(userAgent string) bool {
	var buf [512]byte
	ua := strings.TrimSpace(userAgent)
	if ua == "" {
		return true
	}
	lower := buf[:0]
	if len(ua) > len(buf) {
		lower = make([]byte, 0, len(ua))
	}
	for i := 0; i < len(ua); i++ {
		c := ua[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for i := range lower {
		for _, t := range botIndex[lower[i]] {
			if len(lower)-i >= len(t) && string(lower[i:i+len(t)]) == t {
				return true
			}
		}
	}
	return false
}
