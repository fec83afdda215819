package capi

import (
	"strconv"
	"time"
)

// Platform names an ad platform. The values are the Destination kinds of
// PRODUCT.md, so a Delivery's destination kind can be compared directly.
type Platform string

// The platforms capi forwards to.
const (
	PlatformMeta      Platform = "META"
	PlatformGA4       Platform = "GA4"
	PlatformGoogleAds Platform = "GOOGLE_ADS"
	PlatformTikTok    Platform = "TIKTOK"
)

// The largest number of events each platform accepts in one request
// (specs/capi.md §1.5, §2.4, §3.3, §4.3). Send splits longer slices into
// requests of at most this many events; GA4 further splits by visitor because
// all events of one request share a client_id.
const (
	MetaMaxBatch      = 1000
	GA4MaxBatch       = 25
	GoogleAdsMaxBatch = 2000
	TikTokMaxBatch    = 1000
)

// The real hosts, used when a client is created with an empty base URL. The
// operator overrides them with CLICKBACK_META_API_URL and friends (staging,
// the EU GA4 endpoint, the fakes of package capitest); a tenant never can.
const (
	DefaultMetaURL        = "https://graph.facebook.com"
	DefaultGA4URL         = "https://www.google-analytics.com"
	DefaultGoogleAdsURL   = "https://googleads.googleapis.com"
	DefaultGoogleOAuthURL = "https://oauth2.googleapis.com"
	DefaultTikTokURL      = "https://business-api.tiktok.com"
)

// Event is one conversion to forward, in terms no platform owns. The caller
// fills it from the Conversion and its matched Click; each client picks the
// fields its platform knows and normalises and hashes the user data itself, so
// raw values go in here (already-hashed values are accepted too and passed
// through unchanged).
type Event struct {
	// EventID identifies the conversion for this destination and must stay
	// the same across retries: it is Meta's and TikTok's event_id (their dedup
	// key against the browser pixel), the GA4 event_id parameter, and the
	// Google Ads order id when OrderID is empty (which makes a Google Ads
	// re-upload a harmless duplicate).
	EventID string

	// EventName is the platform's own event name, already mapped by the
	// caller from the Conversion's name through the destination's event
	// mapping: "Purchase" for Meta and TikTok, "purchase" or "generate_lead"
	// for GA4. Google Ads ignores it: the conversion action decides.
	EventName string

	// Time is when the conversion happened. A time in the future (a network's
	// clock running ahead) is sent as the moment of sending. The zero time is
	// an invalid event.
	Time time.Time

	// Value is the conversion's value in micro-units of Currency (1 USD =
	// 1_000_000), so no rounding happens on the way; it is written to JSON as
	// an exact decimal. Zero means no value.
	Value int64

	// Currency is the ISO 4217 code of Value. Platforms require it whenever a
	// value is sent, and Meta requires both for a Purchase.
	Currency string

	// OrderID is the transaction id the network reported. Google Ads accepts
	// each order id once per conversion action; GA4 uses it as a purchase's
	// transaction_id.
	OrderID string

	// SourceURL is the landing page of the click (Meta event_source_url,
	// TikTok page.url). Meta requires it for website events.
	SourceURL string

	// Referrer is the page the visitor came from, when known.
	Referrer string

	// ActionSource is Meta's action_source; empty means "website".
	ActionSource string

	// ClientIP and UserAgent are the visitor's, from the click. They are never
	// hashed. Meta requires the user agent for website events.
	ClientIP  string
	UserAgent string

	// DefaultCountry (ISO 3166 alpha-2 or a country name) is used only to read
	// a national phone number, zip code or state when User.Country is empty,
	// typically the account's country. It is never sent anywhere.
	DefaultCountry string

	// User is what the network told about the person who converted.
	User UserData

	// Click is the ad click context recorded by the tracking tag.
	Click Click
}

// UserData holds a converter's personal data, raw or already SHA-256 hashed.
// Every field is optional; empty fields, and fields that normalise to nothing
// (a phone number without digits), are left out of every request.
type UserData struct {
	Email       string
	Phone       string
	FirstName   string
	LastName    string
	City        string
	State       string
	Zip         string
	Country     string
	ExternalID  string
	DateOfBirth string
	Gender      string
}

// Click is the ad click context of the visit the conversion was matched to.
type Click struct {
	// FBC and FBP are Meta's _fbc and _fbp cookies. When FBC is empty but
	// FBClid is known, Meta's fbc is built as fb.1.{click time ms}.{fbclid}.
	FBC    string
	FBP    string
	FBClid string

	// Time is when the click happened. Google Ads requires the conversion to
	// come after it, and it dates a generated fbc.
	Time time.Time

	// Gclid, Gbraid and Wbraid are Google's click ids; Google Ads gets exactly
	// one of them, preferring gclid, then gbraid, then wbraid.
	Gclid  string
	Gbraid string
	Wbraid string

	// Ttclid and TTP are TikTok's click id and _ttp cookie.
	Ttclid string
	TTP    string

	// GAClientID is the GA4 client id: the _ga cookie value ("GA1.1.123.456")
	// or the id itself ("123.456"). GASessionID is the session id, or the
	// _ga_<container> cookie value it is read from.
	GAClientID  string
	GASessionID string
}

// MetaCredentials are what a Meta destination needs.
type MetaCredentials struct {
	PixelID     string
	AccessToken string
	// TestEventCode, when set, is sent with every request so the events show
	// in Events Manager → Test events; Meta still processes them as real
	// events. Test requires it.
	TestEventCode string
}

// GA4Credentials are what a GA4 destination needs: a web data stream's
// measurement id (G-XXXXXXX) and a Measurement Protocol API secret.
type GA4Credentials struct {
	MeasurementID string
	APISecret     string
}

// GoogleAdsCredentials are what a Google Ads destination needs: the customer
// account and conversion action, the developer token, and an OAuth client with
// a refresh token that capi trades for access tokens.
type GoogleAdsCredentials struct {
	// CustomerID is the account the conversions belong to; hyphens are
	// allowed ("123-456-7890").
	CustomerID string
	// ConversionActionID is the numeric id of an UPLOAD_CLICKS conversion
	// action, or its resource name (customers/…/conversionActions/…).
	ConversionActionID string
	DeveloperToken     string
	ClientID           string
	ClientSecret       string
	RefreshToken       string
	// LoginCustomerID is the manager (MCC) account acting for CustomerID,
	// empty when the OAuth user has direct access.
	LoginCustomerID string
}

// TikTokCredentials are what a TikTok destination needs.
type TikTokCredentials struct {
	PixelCode   string
	AccessToken string
	// TestEventCode, when set, is sent with every request so the events show
	// in the Events Manager's test tool. Test requires it.
	TestEventCode string
}

// amount is a value in micro-units that marshals to an exact JSON decimal:
// 123_450_000 is written 123.45, never 123.44999999.
type amount int64

// MarshalJSON writes the amount as a decimal number without trailing zeros.
func (a amount) MarshalJSON() ([]byte, error) {
	return appendAmount(nil, int64(a)), nil
}

// appendAmount appends micro-units v as a plain decimal number.
func appendAmount(dst []byte, v int64) []byte {
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = uint64(-v) // correct for math.MinInt64 too, by two's complement
	}
	dst = strconv.AppendUint(dst, u/1_000_000, 10)
	frac := u % 1_000_000
	if frac == 0 {
		return dst
	}
	var digits [7]byte
	digits[0] = '.'
	for i := 6; i >= 1; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 7
	for digits[n-1] == '0' {
		n--
	}
	return append(dst, digits[:n]...)
}
