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

// Click is one visit, identified by its Click ID, with the context the ad
// platforms need later: landing page, referrer, UTM parameters, ad click ids,
// Meta's browser cookies, IP and user agent.
type Click struct{ ent.Schema }

// Mixin of the Click.
func (Click) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("clk"), Tenant("clicks")}
}

// Fields of the Click.
func (Click) Fields() []ent.Field {
	str := func(name string, max int) ent.Field {
		return field.String(name).Optional().MaxLen(max).Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput))
	}
	return []ent.Field{
		field.String("property_id").Immutable(),
		field.String("click_id").NotEmpty().MaxLen(128).Immutable(),
		str("landing_page", 2048),
		str("referrer", 2048),
		str("title", 512),
		str("utm_source", 256),
		str("utm_medium", 256),
		str("utm_campaign", 256),
		str("utm_term", 256),
		str("utm_content", 256),
		str("gclid", 512),
		str("gbraid", 512),
		str("wbraid", 512),
		str("fbclid", 512),
		str("ttclid", 512),
		str("msclkid", 512),
		str("li_fat_id", 512),
		str("twclid", 512),
		str("epik", 512),
		str("sccid", 512),
		str("fbp", 256),
		str("fbc", 768),
		str("ttp", 256),
		str("ip", 64),
		str("user_agent", 1024),
		str("language", 64),
		str("screen", 32),
		str("external_id", 256),
		str("email_sha256", 64),
		field.Bool("bot").Default(false),
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("last_seen_at").Default(time.Now),
	}
}

// Edges of the Click.
func (Click) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("property", Property.Type).Ref("clicks").Field("property_id").Unique().Required().Immutable(),
		edge.To("conversions", Conversion.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Click.
func (Click) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "click_id").Unique(),
		index.Fields("account_id", "created_at"),
		index.Fields("account_id", "external_id"),
		index.Fields("account_id", "email_sha256"),
	}
}

// Annotations of the Click.
func (Click) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
