package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/viewer"
)

// Invitation asks a person, by email, to join an account with a role. Its
// token is shown once, to the owner who invites; only its SHA-256 is stored,
// and it stops working at expires_at or once accepted or revoked.
type Invitation struct{ ent.Schema }

// Mixin of the Invitation.
func (Invitation) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("inv"), TimeMixin{}, Tenant("invitations")}
}

// Fields of the Invitation.
func (Invitation) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").
			Comment("Lower-cased and trimmed: the invitation is for this address only.").
			NotEmpty().
			MaxLen(254).
			Immutable(),
		field.Enum("role").GoType(viewer.Role("")).Immutable().Annotations(entgql.Type("Role")),
		field.String("token_hash").
			Comment("Hex SHA-256 of the token.").
			Unique().
			Immutable().
			Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("invited_by").Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("expires_at").Immutable(),
		field.Time("accepted_at").Optional().Nillable(),
		field.String("accepted_by").Optional().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Indexes of the Invitation.
func (Invitation) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "created_at")}
}

// Annotations of the Invitation.
func (Invitation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy of the Invitation: members are managed by owners only.
func (Invitation) Policy() ent.Policy { return roleMutationPolicy(viewer.RoleOwner) }
