package schema

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/viewer"
)

// AuditLog is one administrative change of an account: who did what to
// which record, and when. Rows are written by the AuditMixin hook in the
// transaction of the change itself, never by resolvers, and never hold
// secrets (field names always, values only of fields known to be safe).
type AuditLog struct{ ent.Schema }

// Mixin of the AuditLog.
func (AuditLog) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("aud"), Tenant("audit_logs")}
}

// Fields of the AuditLog.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor_user_id").Optional().Immutable().
			Comment("The user who made the change; empty for an API key."),
		field.String("actor_api_key_id").Optional().Immutable().
			Comment("The API key that made the change; empty for a user."),
		field.String("action").NotEmpty().MaxLen(64).Immutable().
			Comment("CREATE, UPDATE or DELETE.").
			Annotations(entgql.OrderField("ACTION")),
		field.String("target_type").NotEmpty().MaxLen(64).Immutable().
			Comment("The ent type changed: Membership, APIKey, Integration, …"),
		field.String("target_id").Optional().MaxLen(64).Immutable(),
		field.String("summary").MaxLen(2048).Immutable(),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes of the AuditLog.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "created_at")}
}

// Annotations of the AuditLog.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}

// Policy of the AuditLog: read by owners and admins; written only by the
// system (the audit hook), never changed.
func (AuditLog) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			privacy.ContextQueryMutationRule(func(ctx context.Context) error {
				if v, _ := viewer.FromContext(ctx); !v.Can(viewer.RoleAdmin) {
					return privacy.Denyf("role %s may not read the audit log", v.Role)
				}
				return privacy.Skip
			}),
		},
		Mutation: privacy.MutationPolicy{
			privacy.ContextQueryMutationRule(func(ctx context.Context) error {
				if v, _ := viewer.FromContext(ctx); !v.IsSystem() {
					return privacy.Denyf("the audit log is written by the system only")
				}
				return privacy.Skip
			}),
		},
	}
}
