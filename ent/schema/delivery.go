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

// Delivery is the forwarding of one conversion to one destination.
type Delivery struct{ ent.Schema }

// Mixin of the Delivery.
func (Delivery) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dlv"), TimeMixin{}, Tenant("deliveries")}
}

// Fields of the Delivery.
func (Delivery) Fields() []ent.Field {
	return []ent.Field{
		field.String("conversion_id").Immutable(),
		field.String("destination_id").Immutable(),
		field.Enum("status").Values("PENDING", "SENT", "FAILED", "SKIPPED").Default("PENDING"),
		field.Int("attempts").Default(0),
		field.String("last_error").Optional().MaxLen(2048),
		field.String("event_id").
			Comment("The id the platform deduplicates on; the same for every attempt.").
			Immutable().
			NotEmpty(),
		field.String("event_name").Optional().MaxLen(128),
		field.Time("last_attempt_at").Optional().Nillable(),
		field.Time("sent_at").Optional().Nillable(),
		field.JSON("attempt_log", []schematype.Attempt{}).Optional().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("adjustment").
			Comment("What became of taking the conversion back after the network rejected or reversed it once sent: a Google Ads retraction or restatement (pending, done, failed), or not retractable on this platform.").
			Values("RETRACTION_PENDING", "RETRACTED", "RESTATEMENT_PENDING", "RESTATED", "FAILED", "NOT_RETRACTABLE").
			Optional().
			Nillable(),
		field.Time("adjustment_time").
			Comment("When the adjustment occurred (the network's reversal), sent as its time on every attempt so that the platform recognises a repeat.").
			Optional().
			Nillable(),
		field.Int64("adjustment_value_micros").
			Comment("The restated value × 1,000,000 of a restatement.").
			Default(0).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("adjustment_attempts").Default(0),
		field.String("adjustment_response").
			Comment("The platform's answer to the last adjustment attempt, or why there is none.").
			Optional().
			MaxLen(2048),
		field.Time("adjusted_at").
			Comment("When the platform confirmed the adjustment.").
			Optional().
			Nillable(),
		field.String("claim").
			Comment("The forward job sending this delivery right now (a random token), so no other job sends it meanwhile.").
			Optional().
			MaxLen(64).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("claimed_until").
			Comment("When claim lapses: a job that died mid-send gives the delivery back after this.").
			Optional().
			Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Delivery.
func (Delivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("conversion", Conversion.Type).Ref("deliveries").Field("conversion_id").Unique().Required().Immutable(),
		edge.From("destination", Destination.Type).Ref("deliveries").Field("destination_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Delivery.
func (Delivery) Indexes() []ent.Index {
	return []ent.Index{
		// One delivery per conversion and destination; also the lookup of
		// a conversion's deliveries (the Events Log's hasDeliveriesWith,
		// the report rollups, retractions). A conversion has one account,
		// so the account adds nothing to the key; every index here is
		// written on each insert and outcome of four deliveries per
		// conversion, so each one less counts.
		index.Fields("conversion_id", "destination_id").Unique(),
		index.Fields("account_id", "status", "created_at"),
		// The forward sweep looks for PENDING deliveries of a destination
		// whose claim has lapsed.
		index.Fields("destination_id", "status", "created_at"),
		// The report rollup job recomputes the hours of deliveries changed
		// since its last run; without this it scans every delivery.
		index.Fields("updated_at"),
	}
}

// Annotations of the Delivery.
func (Delivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
