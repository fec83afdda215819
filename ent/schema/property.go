package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/ent/schema/schematype"
)

// Property is a website of an account; its public key identifies it to the
// tracking tag.
type Property struct{ ent.Schema }

// Mixin of the Property.
func (Property) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("prp"), TimeMixin{}, Tenant("properties")}
}

// Fields of the Property.
func (Property) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		field.String("domain").MaxLen(253).Optional(),
		field.String("key").
			Comment("Public, unguessable identifier of the property in the tag's URLs.").
			Unique().
			Immutable().
			NotEmpty().
			MaxLen(64).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Int("attribution_window_days").
			Comment("How long the tag keeps a visit's Click ID; 0 means the account's window.").
			Default(0).
			Range(0, 365),
		field.JSON("autotag_rules", []schematype.AutoTagRule{}).
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Property.
func (Property) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("clicks", Click.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("track_events", TrackEvent.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Property.
func (Property) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "created_at")}
}

// Annotations of the Property.
func (Property) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.Mutations(entgql.MutationUpdate())}
}
