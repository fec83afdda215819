package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/viewer"
)

// Membership is a user's role in an account.
type Membership struct{ ent.Schema }

// Mixin of the Membership.
func (Membership) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mem"), TimeMixin{}, Tenant("memberships")}
}

// Fields of the Membership.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Immutable(),
		field.Enum("role").GoType(viewer.Role("")).Annotations(entgql.Type("Role")),
	}
}

// Edges of the Membership.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("memberships").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Membership.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "user_id").Unique(),
		index.Fields("user_id"),
	}
}

// Annotations of the Membership.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy of the Membership: members are managed by owners only.
func (Membership) Policy() ent.Policy { return roleMutationPolicy(viewer.RoleOwner) }
