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

// Networks are the values of Integration.network: CUSTOM or a preset of the
// postback catalog (postback.Catalog).
var Networks = []string{
	"CUSTOM", "TUNE", "EVERFLOW", "CAKE", "ADTRACTION", "IMPACT", "SHAREASALE",
	"AWIN", "DIGISTORE24", "AFFISE", "MAXBOUNTY", "CLICKBANK", "CJ",
}

// Integration is one postback source — an affiliate network — with its
// macros, its parameter mappings and the secret of its postback URL.
type Integration struct{ ent.Schema }

// Mixin of the Integration.
func (Integration) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("int"), TimeMixin{}, Tenant("integrations")}
}

// Fields of the Integration.
func (Integration) Fields() []ent.Field {
	macro := func(name string) ent.Field {
		return field.String(name).Optional().MaxLen(128)
	}
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		field.String("slug").
			Comment("URL-safe name in the postback URL, unique in the account.").
			NotEmpty().
			MaxLen(64).
			Match(slugPattern).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Enum("network").Values(Networks...).Default("CUSTOM"),
		field.String("login_url").Optional().MaxLen(2048),
		macro("click_id_macro"),
		macro("payout_macro"),
		macro("transaction_id_macro"),
		macro("currency_macro"),
		macro("status_macro"),
		macro("event_macro"),
		field.JSON("attribute_macros", map[string]string{}).
			Comment("Canonical event attribute (email, country, …) → the network's macro.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("param_mappings", map[string]string{}).
			Comment("The network's parameter name → canonical field.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("status_mappings", map[string]string{}).
			Comment("The network's status word → canonical status.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("ip_allowlist", []string{}).
			Comment("IPs and CIDRs postbacks may come from; empty allows any.").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("enabled").Default(true),
		field.String("secret").
			Sensitive().
			NotEmpty().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("previous_secret").
			Comment("The secret before the last rotation, valid until previous_secret_expires_at.").
			Sensitive().
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("previous_secret_expires_at").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int64("rejected_calls").
			Comment("Postbacks refused for a wrong secret or address; not stored as conversions.").
			Default(0).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Time("last_rejected_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Edges of the Integration.
func (Integration) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("conversions", Conversion.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Integration.
func (Integration) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "slug").Unique()}
}

// Annotations of the Integration.
func (Integration) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		// The create and update inputs are hand-written in
		// graph/integration.graphqls: they carry the JSON mappings, the IP
		// allowlist and the slug, which the generated inputs cannot.
	}
}
