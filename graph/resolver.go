package graph

import (
	"database/sql"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/auth"
)

// Resolver holds what the resolvers hand off to. The ent client is not
// here: resolvers take it from the context (ent.FromContext), where it is
// the transaction's client during mutations.
type Resolver struct {
	Auth  *auth.Service
	River *river.Client[*sql.Tx]
	// PublicURL is the base of generated URLs, without a trailing slash.
	PublicURL string
}
