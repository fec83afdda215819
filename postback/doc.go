// Package postback turns the raw request an affiliate network sends to a
// postback URL into a canonical postback, describes the networks clickback
// knows (the catalog), and builds the postback URL a tenant pastes into a
// network.
//
// It is pure: no HTTP server, no database, no clock. The collect handler
// reads the request and calls, in order:
//
//  1. [ParseParams] on the query string and body, which enforces the input
//     limits (count, sizes, UTF-8, control characters) and keeps every
//     parameter with its original name and value;
//  2. [Parse] with the integration's [Config], which matches parameter names
//     loosely, ignores unsubstituted macros, parses the amount exactly, checks
//     the currency and normalises the status, and returns a [Postback] whose
//     [Outcome] is the Events Log status to store: RECEIVED,
//     MISSING_CLICK_ID or INVALID with a reason a person can act on.
//
// Amounts are int64 micro-units (amount × 1,000,000) from end to end: no
// float ever holds money here.
//
// The secret that authenticates a postback URL travels as the query
// parameter [SecretParam]; [RedactQuery], [RedactURL] and
// [Params.Redacted] remove it before anything is logged or stored.
package postback
