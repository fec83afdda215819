// Package destination manages the ad platform connections of an account:
// creating, updating and deleting Destinations with their settings, their
// credentials sealed at rest (package secretbox) and their event mapping;
// opening those credentials for the forward job; and sending test events.
//
// A destination's settings are split in two. The non-secret ones (pixel id,
// measurement id, customer id, conversion action id, OAuth client id, test
// event code) are stored in the settings JSON and readable through the API.
// The secrets (access tokens, API secret, developer token, OAuth client
// secret, refresh token) are sealed together with AES-256-GCM, bound to the
// destination's id, and never leave this package except as the capi
// credentials of an outgoing request: the API only says whether each is set.
//
// Platform base URLs come from the operator's configuration only
// (config.Platforms): nothing a tenant writes can point a destination at a
// URL.
package destination
