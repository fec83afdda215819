package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/clickback/clickback/ent/schema/pulid"
)

// Account is a tenant: every other record belongs to exactly one account.
type Account struct{ ent.Schema }

// Mixin of the Account.
func (Account) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("acc"), TimeMixin{}, AuditMixin{}}
}

// Fields of the Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		field.String("key").
			Comment("Public identifier of the account in postback URLs.").
			Unique().
			Immutable().
			NotEmpty().
			MaxLen(64).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.String("currency").
			Comment("ISO 4217 code reports are kept in; the default for postbacks without one.").
			Default("USD").
			MinLen(3).
			MaxLen(3),
		field.String("timezone").Default("UTC").MaxLen(64),
		field.Enum("attribution_model").Values("LAST_CLICK", "FIRST_CLICK").Default("LAST_CLICK"),
		field.Int("attribution_window_days").Default(30).Range(1, 365),
		field.Int("retention_days").
			Comment("Visits and tag events older than this are deleted; 0 keeps them forever.").
			Default(400).
			Min(0),
	}
}

// Edges of the Account.
func (Account) Edges() []ent.Edge {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(skip),
		edge.To("api_keys", APIKey.Type).Annotations(skip),
		edge.To("properties", Property.Type).Annotations(skip),
		edge.To("clicks", Click.Type).Annotations(skip),
		edge.To("track_events", TrackEvent.Type).Annotations(skip),
		edge.To("integrations", Integration.Type).Annotations(skip),
		edge.To("conversions", Conversion.Type).Annotations(skip),
		edge.To("destinations", Destination.Type).Annotations(skip),
		edge.To("deliveries", Delivery.Type).Annotations(skip),
		edge.To("invitations", Invitation.Type).Annotations(skip),
		edge.To("audit_logs", AuditLog.Type).Annotations(skip),
	}
}

// Policy of the Account: see policy.go.
func (Account) Policy() ent.Policy { return accountPolicy() }
