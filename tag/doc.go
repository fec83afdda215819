// Package tag is the tracking tag: the JavaScript that tenants paste into their sites
// (embedded from tag.js and rendered per Property by [Script]), the snippet that loads it
// ([Snippet]), and the wire format of the events it sends ([ParseBatch]).
//
// The package is pure: no HTTP server, no database. The server serves [Script] at
// GET /tag/{propertyKey}.js and hands the body of POST /t/{propertyKey} to [ParseBatch].
//
// # What the tag does
//
// On every page it gives the visit a Click ID ("cb_" and 22 URL-safe random characters, see
// [ValidClickID]), kept in the first-party cookie _cbid (SameSite=Lax, path /, Secure on
// https, on the site's registrable domain, for the attribution window) and in
// localStorage with its expiry, so that later pages
// of the visit reuse it. A new ad click, meaning a new value of any ad click id parameter
// (gclid, gbraid, wbraid, fbclid, ttclid, msclkid, li_fat_id, twclid, epik, ScCid) or a new
// set of UTM parameters, starts a new Click ID; the cookie _cbs keeps a hash of the last set
// to tell. It then records a PageView.
//
// Like Meta's pixel, the tag creates the cookie _fbc ("fb.1.{ms}.{fbclid}", 90 days) when
// the landing URL carries an fbclid that the cookie does not hold yet, and _fbp
// ("fb.1.{ms}.{10 random digits}", 90 days) when it is absent, so that conversions forwarded
// to Meta carry them even on sites without the pixel. TikTok's _ttp is read, never created.
//
// AutoTag replaces the placeholder --CLICK-ID-- (any letter case, with its hyphens
// percent-encoded once or several times, e.g. %2D%2DCLICK-ID%2D%2D) with the Click ID in the
// href of every a and area element and in the value of every input element, those present at
// load and those added or changed later. Per-property rules ([AutoTagRule]) give links to
// listed domains that hold no placeholder the Click ID under a parameter. Nothing else in a
// URL changes. A
// followed link that carries the Click ID is recorded as an OutboundClick, sent with
// navigator.sendBeacon so that the navigation is not delayed.
//
// Pages call the tag through one global function, queued by the snippet until the tag has
// loaded:
//
//	clickback('track', 'Signup', {value: 12.5, currency: 'EUR', plan: 'pro'})
//	clickback('identify', {externalId: 'u-42', email: 'Ann@Example.com'})
//	clickback('clickId')            // returns the Click ID
//	clickback('clickId', function (id) { … })
//
// The email is trimmed, lower-cased and hashed with SHA-256 in the browser (crypto.subtle,
// which browsers offer on https pages and localhost only; elsewhere the email is dropped).
// Values the wire format would refuse (a bad event name, a negative value, a 33rd property)
// are dropped by the tag, so that one bad call never costs the batch its PageView.
//
// The tag sends events in batches, after 250 ms, at once for an OutboundClick, and when the
// page is hidden. It catches every error it meets and reports the first one as an Error
// event; it never throws into the host page.
//
// # Wire format
//
// A batch is one JSON object, sent as text/plain so that browsers need no CORS preflight:
//
//	{"v":1,"events":[{"t":"pv","c":"cb_…","ts":1700000000000,"u":"https://…", …}, …]}
//
// v is 1. events holds 1 to [MaxEvents] objects. Keys of an event (all optional unless said;
// unknown keys are ignored, so that a newer tag can talk to an older server):
//
//	key          Event field            limit and rule
//	t            Type                   required: pv PageView, oc OutboundClick, tr custom (track),
//	                                    id Identify, er Error
//	c            ClickID                required except for er; see WellFormedClickID
//	ts           ClientTime             integer, ms since the Unix epoch, 0 to year 9999
//	u            URL                    page URL; required for pv; MaxURLLen, must start with a scheme
//	r            Referrer               MaxURLLen
//	ti           Title                  MaxTitleLen
//	utm_source, utm_medium, utm_campaign, utm_term, utm_content
//	             UTM                    MaxParamLen each
//	gclid, gbraid, wbraid, fbclid, ttclid, msclkid, li_fat_id, twclid, epik, ScCid
//	             AdClickIDs             MaxParamLen each
//	fbp, fbc, ttp FBP, FBC, TTP         the _fbp, _fbc, _ttp cookies; MaxCookieLen each
//	sc           Screen                 "{width}x{height}", up to 5 digits each
//	lg           Language               BCP 47 tag: letters, digits, hyphens; up to 35
//	l            LinkURL                required for oc; MaxURLLen, must start with a scheme
//	lt           LinkText               MaxLinkTextLen
//	n            Name                   required for tr: 1 to MaxNameLen letters, digits, spaces and
//	                                    _ . : -, starting with a letter or digit; not PageView or
//	                                    OutboundClick
//	val          Value                  number or decimal string, 0 to MaxValue, rounded to micro-units
//	cur          Currency               ISO 4217: three upper-case letters
//	p            Props                  object of up to MaxProps keys (named like n) to strings
//	                                    (MaxParamLen), numbers or booleans
//	xid          ExternalID             MaxParamLen; id needs xid or em
//	em           EmailSHA256            64 lower-case hex digits
//	m            Message                the error of an er; MaxParamLen
//
// Lengths count characters (Unicode code points), and the tag cuts strings to them before
// sending. No string may hold a NUL character (PostgreSQL text cannot). Invalid UTF-8, a
// body over [MaxBodyBytes], malformed JSON or any invalid field rejects the whole batch
// with an error whose text can be shown to the sender as is.
package tag
