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

// Conversion is one received postback: an entry of the Events Log, with its
// parsed fields, its raw request and its status.
//
// Every postback that reached a tenant's collect endpoint is a Conversion,
// even an unusable one (MISSING_CLICK_ID, INVALID) or a repeat (DUPLICATE).
type Conversion struct{ ent.Schema }

// Mixin of the Conversion.
func (Conversion) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cnv"), Tenant("conversions")}
}

// Fields of the Conversion.
func (Conversion) Fields() []ent.Field {
	return []ent.Field{
		field.String("integration_id").Immutable(),
		field.String("visit_id").
			Comment("The matched Click's row id (the click_id field is the Click ID as received).").
			Optional().
			Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("status").
			Values("RECEIVED", "MATCHED", "MISSING_CLICK_ID", "NO_MATCH", "DUPLICATE", "INVALID").
			Default("RECEIVED").
			Annotations(entgql.OrderField("STATUS")),
		field.Enum("kind").Values("LEAD", "PURCHASE").Default("LEAD"),
		field.String("event_name").MaxLen(128).Default("Lead"),
		field.Int64("amount_micros").
			Comment("The payout × 1,000,000: exact, summable on every database.").
			Default(0).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("currency").MaxLen(3).Default("USD"),
		field.String("click_id").Optional().MaxLen(256),
		field.String("transaction_id").Optional().MaxLen(256),
		field.String("dedup_key").
			Comment("Set on the first conversion of a transaction; a unique index makes repeats fail to claim it.").
			Optional().
			Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("network_status").
			Comment("The network's status of the conversion: pending, approved, rejected, reversed.").
			Optional().
			MaxLen(32),
		field.String("external_id").Optional().MaxLen(256),
		field.String("email_sha256").Optional().MaxLen(64).Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("attributes", map[string]string{}).
			Comment("Event attributes (email, phone, country, …) as received, for forwarding.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Text("raw_request").
			Comment("The request as received, secrets redacted and size-bounded, as JSON.").
			Optional(),
		field.String("reason").
			Comment("Why the conversion is not MATCHED, in words a person can act on.").
			Optional().
			MaxLen(1024),
		field.String("source_ip").Optional().MaxLen(64),
		field.Bool("test").Default(false),
		field.JSON("attribution", map[string]string{}).
			Comment("Snapshot of the matched click: UTM, landing page, referrer, ad click ids, click time.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("received_at").
			Default(time.Now).
			Immutable().
			Annotations(entgql.OrderField("RECEIVED_AT")),
		field.Time("matched_at").Optional().Nillable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Edges of the Conversion.
func (Conversion) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("integration", Integration.Type).Ref("conversions").Field("integration_id").Unique().Required().Immutable(),
		edge.From("visit", Click.Type).Ref("conversions").Field("visit_id").Unique().
			Annotations(entgql.MapsTo("click")),
		edge.To("deliveries", Delivery.Type),
	}
}

// Indexes of the Conversion.
func (Conversion) Indexes() []ent.Index {
	return []ent.Index{
		// One index serves both the dedup claim and the lookups by
		// transaction id: a dedup key is its row's transaction id (plus the
		// event), so keys unique per integration are unique with the
		// transaction id in front too. A random transaction id puts every
		// insert on a random page of each index holding it; one such index
		// instead of two is a tenth of PostgreSQL's time on a batch of
		// conversions.
		index.Fields("account_id", "transaction_id", "integration_id", "dedup_key").Unique(),
		index.Fields("account_id", "received_at"),
		index.Fields("account_id", "status", "received_at"),
		index.Fields("account_id", "integration_id", "received_at"),
		index.Fields("account_id", "click_id"),
		// The Events Log subscription polls each subscribed account for
		// rows changed since its last look.
		index.Fields("account_id", "updated_at"),
	}
}

// Annotations of the Conversion.
func (Conversion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
