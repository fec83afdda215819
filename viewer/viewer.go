// Package viewer carries who is acting — a person in one account, an API key,
// or the system itself — through a request's context, so that the ent privacy
// rules can scope every query and write to one account without any resolver
// having to remember a filter.
package viewer

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// Role is a member's role in an account. The zero value is no role at all and
// allows nothing.
type Role string

// The roles of PRODUCT.md, from the most to the least powerful.
const (
	RoleOwner  Role = "OWNER"
	RoleAdmin  Role = "ADMIN"
	RoleViewer Role = "VIEWER"
)

// Values lists the roles; ent uses it for the enum column.
func (Role) Values() []string {
	return []string{string(RoleOwner), string(RoleAdmin), string(RoleViewer)}
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleViewer:
		return true
	}
	return false
}

// rank orders the roles so that a check can ask for "at least" one of them.
func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// Viewer is the actor of a request or job.
//
// A system viewer with an empty AccountID may act on every account: it is
// used only for signup, login and token checks, which must look across
// accounts before they know which one is meant. Jobs and the public
// endpoints use a system viewer scoped to one account.
type Viewer struct {
	UserID    string
	AccountID string
	Role      Role
	// APIKeyID is set when the request authenticated with an API key
	// rather than a user's token.
	APIKeyID string
	system   bool
}

// System returns the system viewer for accountID, or for every account when
// accountID is empty.
func System(accountID string) Viewer {
	return Viewer{AccountID: accountID, Role: RoleOwner, system: true}
}

// IsSystem reports whether v is the system rather than a person or API key.
func (v Viewer) IsSystem() bool { return v.system }

// AllAccounts reports whether v may act on every account.
func (v Viewer) AllAccounts() bool { return v.system && v.AccountID == "" }

// Can reports whether v holds at least the role min in its account.
func (v Viewer) Can(min Role) bool { return v.system || v.Role.AtLeast(min) }

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer of ctx, if any.
func FromContext(ctx context.Context) (Viewer, bool) {
	v, ok := ctx.Value(ctxKey{}).(Viewer)
	return v, ok
}

// SystemContext returns ctx acting as the system, scoped to accountID (empty:
// every account).
func SystemContext(ctx context.Context, accountID string) context.Context {
	return NewContext(ctx, System(accountID))
}

// MarshalGQL writes r as a GraphQL enum value.
func (r Role) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(r)))
}

// UnmarshalGQL reads a GraphQL enum value into r.
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("role must be a string, not %T", v)
	}
	if !Role(s).Valid() {
		return fmt.Errorf("%q is not a role (OWNER, ADMIN, VIEWER)", s)
	}
	*r = Role(s)
	return nil
}
