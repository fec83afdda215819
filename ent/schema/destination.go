package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
)

// Destination is an ad platform connection of an account. Its credentials
// are encrypted at rest and never readable back through the API.
type Destination struct{ ent.Schema }

// Mixin of the Destination.
func (Destination) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dst"), TimeMixin{}, Tenant("destinations")}
}

// Fields of the Destination.
func (Destination) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		field.Enum("kind").Values("META", "GA4", "GOOGLE_ADS", "TIKTOK").Immutable(),
		field.Bool("enabled").Default(true),
		field.JSON("settings", map[string]string{}).
			Comment("Non-secret settings: pixel id, measurement id, customer id, …").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bytes("credentials").
			Comment("AES-GCM ciphertext of the platform secrets.").
			Sensitive().
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("key_id").
			Comment("Which encryption key sealed credentials, for rotation.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("event_mapping", map[string]string{}).
			Comment("Conversion event name → the platform's event name; empty value skips it.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Destination.
func (Destination) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", Delivery.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Destination.
func (Destination) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "created_at")}
}

// Annotations of the Destination.
func (Destination) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
