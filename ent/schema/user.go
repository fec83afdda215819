package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/clickback/clickback/ent/schema/pulid"
)

// User is a person who signs in. A user belongs to accounts through
// memberships, and is visible only to the accounts they are a member of.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("usr"), TimeMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").
			Comment("Lower-cased and trimmed; unique across the installation.").
			Unique().
			NotEmpty().
			MaxLen(254),
		field.String("password_hash").
			Sensitive().
			NotEmpty().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Policy of the User: see policy.go.
func (User) Policy() ent.Policy { return userPolicy() }
