package schema

import (
	"context"
	"fmt"
	"reflect"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"

	"github.com/clickback/clickback/viewer"
)

// The rules use only ent's base packages, never the generated ones, so that
// the schema always loads and code generation works even when the generated
// code is out of date.
//
// The rules below are the whole of clickback's tenancy: every query of a
// tenant-owned schema is filtered by the viewer's account, every update and
// delete is confined to it, every create is stamped with it, and a context
// without a viewer can do nothing. Code that forgets a filter still cannot
// read or change another account's rows.

// denyWithoutViewer refuses anything done without a viewer in the context.
func denyWithoutViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		v, ok := viewer.FromContext(ctx)
		if !ok || (v.AccountID == "" && !v.AllAccounts()) {
			return privacy.Denyf("no viewer in context")
		}
		return privacy.Skip
	})
}

// allowAllAccounts lets the unscoped system viewer through.
func allowAllAccounts() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v, _ := viewer.FromContext(ctx); v.AllAccounts() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// requireRole refuses mutations by viewers below min.
func requireRole(min viewer.Role) privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, _ ent.Mutation) error {
		if v, _ := viewer.FromContext(ctx); !v.Can(min) {
			return privacy.Denyf("role %s may not do this (needs %s)", v.Role, min)
		}
		return privacy.Skip
	})
}

// wherer is what every generated query and mutation offers for predicates
// built from plain SQL.
type wherer interface {
	WhereP(...func(*sql.Selector))
}

// filterRule adds the predicate built by pred from the viewer to queries,
// updates and deletes. A query or mutation that cannot be filtered is denied.
type filterRule func(v viewer.Viewer) (func(*sql.Selector), error)

func (f filterRule) apply(ctx context.Context, x any) error {
	v, _ := viewer.FromContext(ctx)
	p, err := f(v)
	if err != nil {
		return err
	}
	if err := addPredicate(x, p); err != nil {
		return privacy.Denyf("%v", err)
	}
	return privacy.Skip
}

// addPredicate adds p to a generated query or mutation. Mutations offer
// WhereP; queries only Where(...predicate.X), where predicate.X is a named
// func(*sql.Selector), so p is converted to it by reflection.
func addPredicate(x any, p func(*sql.Selector)) error {
	if w, ok := x.(wherer); ok {
		w.WhereP(p)
		return nil
	}
	m := reflect.ValueOf(x).MethodByName("Where")
	if !m.IsValid() || !m.Type().IsVariadic() || m.Type().NumIn() != 1 {
		return fmt.Errorf("cannot filter %T", x)
	}
	pt := m.Type().In(0).Elem()
	pv := reflect.ValueOf(p)
	if !pv.Type().ConvertibleTo(pt) {
		return fmt.Errorf("cannot filter %T with %s", x, pt)
	}
	m.Call([]reflect.Value{pv.Convert(pt)})
	return nil
}

// EvalQuery implements privacy.QueryRule.
func (f filterRule) EvalQuery(ctx context.Context, q ent.Query) error { return f.apply(ctx, q) }

// EvalMutation implements privacy.MutationRule.
func (f filterRule) EvalMutation(ctx context.Context, m ent.Mutation) error {
	if m.Op().Is(ent.OpCreate) {
		return privacy.Skip // creates are checked by tenantCreateHook
	}
	return f.apply(ctx, m)
}

// filterField confines queries, updates and deletes to rows whose field
// equals the viewer's account id.
func filterField(field string) filterRule {
	return func(v viewer.Viewer) (func(*sql.Selector), error) {
		return sql.FieldEQ(field, v.AccountID), nil
	}
}

func tenantPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			denyWithoutViewer(),
			allowAllAccounts(),
			filterField("account_id"),
		},
		Mutation: privacy.MutationPolicy{
			denyWithoutViewer(),
			allowAllAccounts(),
			requireRole(viewer.RoleAdmin),
			filterField("account_id"),
		},
	}
}

// roleMutationPolicy is added to schemas whose changes need more than the
// tenant default of ADMIN.
func roleMutationPolicy(min viewer.Role) ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{requireRole(min)},
	}
}

// accountPolicy: a viewer sees only its own account; only its owner changes
// it; only the system creates or deletes accounts.
func accountPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			denyWithoutViewer(),
			allowAllAccounts(),
			filterField("id"),
		},
		Mutation: privacy.MutationPolicy{
			denyWithoutViewer(),
			allowAllAccounts(),
			privacy.DenyMutationOperationRule(ent.OpCreate | ent.OpDelete | ent.OpDeleteOne),
			requireRole(viewer.RoleOwner),
			filterField("id"),
		},
	}
}

// userPolicy: a viewer sees the users who are members of its account, and
// changes only itself.
func userPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			denyWithoutViewer(),
			allowAllAccounts(),
			filterRule(func(v viewer.Viewer) (func(*sql.Selector), error) {
				return func(s *sql.Selector) {
					members := sql.Select("user_id").From(sql.Table("memberships")).Where(sql.EQ("account_id", v.AccountID))
					s.Where(sql.In(s.C("id"), members))
				}, nil
			}),
		},
		Mutation: privacy.MutationPolicy{
			denyWithoutViewer(),
			allowAllAccounts(),
			privacy.DenyMutationOperationRule(ent.OpCreate | ent.OpDelete | ent.OpDeleteOne),
			filterRule(func(v viewer.Viewer) (func(*sql.Selector), error) {
				if v.UserID == "" {
					return nil, privacy.Denyf("only a person may change a user")
				}
				return sql.FieldEQ("id", v.UserID), nil
			}),
		},
	}
}

// tenantCreateHook stamps new rows with the viewer's account, and refuses a
// row stamped with another one.
func tenantCreateHook() ent.Hook {
	type accountSetter interface {
		AccountID() (string, bool)
		SetAccountID(string)
	}
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !m.Op().Is(ent.OpCreate) {
				return next.Mutate(ctx, m)
			}
			am, ok := m.(accountSetter)
			if !ok {
				return nil, fmt.Errorf("unexpected mutation %T for a tenant-owned schema", m)
			}
			v, ok := viewer.FromContext(ctx)
			if !ok {
				return nil, privacy.Denyf("no viewer in context")
			}
			id, set := am.AccountID()
			switch {
			case !set && v.AccountID != "":
				am.SetAccountID(v.AccountID)
			case !set:
				return nil, fmt.Errorf("%s needs an account_id", m.Type())
			case !v.AllAccounts() && id != v.AccountID:
				return nil, privacy.Denyf("%s belongs to another account", m.Type())
			}
			return next.Mutate(ctx, m)
		})
	}
}
