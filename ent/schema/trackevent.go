package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
)

// TrackEvent is one tag event of a visit: a `PageView`, an `OutboundClick`
// or a custom event. It names its visit by Click ID, so events can be stored
// in the same batch as the Click they create.
type TrackEvent struct{ ent.Schema }

// Mixin of the TrackEvent.
func (TrackEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("evt"), Tenant("track_events")}
}

// Fields of the TrackEvent.
func (TrackEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("property_id").Immutable(),
		field.String("click_id").NotEmpty().MaxLen(128).Immutable(),
		field.String("name").NotEmpty().MaxLen(64).Immutable().
			Comment("PageView, OutboundClick or a custom event name.").
			Annotations(entgql.OrderField("NAME")),
		field.String("url").Optional().MaxLen(2048).Immutable(),
		field.String("link_url").Optional().MaxLen(2048).Immutable(),
		field.Int64("value_micros").Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("currency").Optional().MaxLen(3).Immutable(),
		field.JSON("props", map[string]string{}).Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("bot").Default(false).Immutable(),
		field.Time("created_at").Default(time.Now).Immutable().Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the TrackEvent.
func (TrackEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("property", Property.Type).Ref("track_events").Field("property_id").Unique().Required().Immutable(),
	}
}

// Indexes of the TrackEvent.
func (TrackEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "created_at"),
		index.Fields("account_id", "click_id"),
	}
}

// Annotations of the TrackEvent.
func (TrackEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
