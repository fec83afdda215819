package graph

import (
	"database/sql"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/destination"
)

// Resolver holds what the resolvers hand off to. The ent client is not
// here: resolvers take it from the context (ent.FromContext), where it is
// the transaction's client during mutations.
type Resolver struct {
	Auth  *auth.Service
	River *river.Client[*sql.Tx]
	// Collector is the postback endpoint (sendTestPostback, cache
	// invalidation on integration changes).
	Collector *collect.Collector
	// PublicURL is the base of generated URLs, without a trailing slash.
	PublicURL string
	// Destinations seals destination credentials and sends test events.
	Destinations *destination.Service
}
