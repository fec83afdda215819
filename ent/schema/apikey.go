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

// APIKey is a secret for server-to-server use of the GraphQL API, with a role
// in one account. Only its SHA-256 is stored: the key is shown once.
type APIKey struct{ ent.Schema }

// Mixin of the APIKey.
func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("key"), TimeMixin{}, Tenant("api_keys")}
}

// Fields of the APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		field.Enum("role").GoType(viewer.Role("")).Annotations(entgql.Type("Role")),
		field.String("key_hash").
			Comment("Hex SHA-256 of the whole key.").
			Unique().
			Immutable().
			Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("prefix").
			Comment("The first characters of the key, so a person can tell keys apart.").
			Immutable(),
		field.String("created_by").Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Indexes of the APIKey.
func (APIKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "created_at")}
}

// Annotations of the APIKey.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy of the APIKey: managed by owners only.
func (APIKey) Policy() ent.Policy { return roleMutationPolicy(viewer.RoleOwner) }
