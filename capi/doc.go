// Package capi turns a matched conversion into the requests of the ad
// platforms' server-side conversion APIs — Meta Conversions API, GA4
// Measurement Protocol, Google Ads UploadClickConversions and TikTok Events
// API 2.0 — sends them, and sorts what comes back into "delivered", "retry
// later" and "failed for good".
//
// The package is pure in the sense of DESIGN.md: it knows nothing of the
// database, River or the HTTP server. A caller (the forward job) hands it a
// platform-neutral [Event], the destination's credentials and an
// [*http.Client]; it gets back a [Result] with one [Outcome] per event, ready
// to be written to each Delivery's attempt log.
//
// Every rule applied here comes from specs/capi.md: user data is normalised
// and SHA-256 hashed the way each platform documents it (the phone number, for
// one, is "16505551212" for Meta but "+16505551212" for Google and TikTok), a
// value that is already a SHA-256 hex digest is never hashed again, and an
// empty value is omitted instead of being sent as the hash of "" (which
// matches nobody). Events a platform would reject are caught before sending
// where the rule is known, because Meta and TikTok reject a whole batch for
// one bad event.
//
// Retries are the caller's business: capi makes one attempt per Send (plus
// the Google OAuth refresh the spec calls for after a 401) and reports, per
// event, whether a later attempt can succeed ([Error.Retryable]) and how long
// the platform asked to wait ([Error.RetryAfter]). Note that Meta does not
// deduplicate two server events with the same event_id, so retrying after an
// ambiguous timeout can count a conversion twice there; Google Ads rejects the
// second upload of an order id, which capi reports as delivered.
//
// Package capitest holds fake platform servers that enforce the same spec,
// for this package's tests and for end-to-end tests of the whole server.
package capi
