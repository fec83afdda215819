package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin records when a row was created and last changed.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(entgql.OrderField("CREATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Time("updated_at").
			Default(time.Now).
			UpdateDefault(time.Now).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
	}
}

// AccountMixin makes a schema tenant-owned: an immutable, required
// `account_id` that leads the table's keys, and the privacy policy and hooks
// (in policy.go) that confine every read and write to the viewer's account.
//
// ref names the edge on Account that points back at the schema.
type AccountMixin struct {
	mixin.Schema
	ref string
}

// Tenant returns the tenant mixin for a schema reached from Account through
// the edge named ref.
func Tenant(ref string) AccountMixin { return AccountMixin{ref: ref} }

// Fields of the AccountMixin.
func (AccountMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("account_id").
			Immutable().
			NotEmpty().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the AccountMixin.
func (m AccountMixin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).
			Ref(m.ref).
			Field("account_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Policy of the AccountMixin: see policy.go.
func (AccountMixin) Policy() ent.Policy { return tenantPolicy() }

// Hooks of the AccountMixin: see policy.go, and audit.go for the audit log
// of administrative types.
func (AccountMixin) Hooks() []ent.Hook {
	return []ent.Hook{tenantCreateHook(), auditHook(auditedTenantTypes)}
}
