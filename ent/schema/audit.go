package schema

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/schema/mixin"

	"github.com/clickback/clickback/viewer"
)

// AuditEntry is what the AuditMixin hook records of one change.
type AuditEntry struct {
	AccountID     string
	ActorUserID   string
	ActorAPIKeyID string
	Action        string // CREATE, UPDATE, DELETE
	TargetType    string
	TargetID      string
	Summary       string
}

// AuditWriter stores an entry in the transaction of m. It is set once, at
// start, by a package that may use the generated code (the schema package
// may not); while it is unset every audited change fails, so a binary that
// forgot to link it cannot change anything unaudited.
var AuditWriter func(ctx context.Context, m ent.Mutation, e AuditEntry) error

// auditSafeFields are the fields whose new values may be written into the
// audit log: none of them can hold a secret. Every other changed field is
// named without its value.
var auditSafeFields = map[string]bool{
	"name": true, "role": true, "email": true, "currency": true, "timezone": true,
	"attribution_model": true, "attribution_window_days": true, "retention_days": true,
	"enabled": true, "domain": true, "kind": true, "network": true, "slug": true,
	"user_id": true, "expires_at": true, "revoked_at": true, "accepted_at": true,
}

// maxAuditTargets bounds the rows one bulk change writes.
const maxAuditTargets = 100

// AuditMixin records every change of a schema made by a person or an API
// key in the AuditLog, in the same transaction. Changes made by the system
// alone (jobs, the collect endpoint, key last-use touches) are not
// administrative and are not recorded; a system viewer acting for a user
// (viewer.UserID set, as when an invitation is accepted) is.
type AuditMixin struct{ mixin.Schema }

// Hooks of the AuditMixin.
func (AuditMixin) Hooks() []ent.Hook { return []ent.Hook{auditHook(nil)} }

// auditedTenantTypes are the tenant-owned schemas whose changes are
// administrative: the AccountMixin audits them. Data (visits, conversions,
// deliveries) is not audited.
var auditedTenantTypes = map[string]bool{
	"Membership": true, "APIKey": true, "Invitation": true,
	"Property": true, "Integration": true, "Destination": true,
}

type idsGetter interface {
	IDs(context.Context) ([]string, error)
}

type idGetter interface {
	ID() (string, bool)
}

type accountIDGetter interface {
	AccountID() (string, bool)
}

// auditHook audits the mutations of the types in only, or of every type
// when only is nil.
func auditHook(only map[string]bool) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, ok := viewer.FromContext(ctx)
			if !ok || (v.IsSystem() && v.UserID == "") || (only != nil && !only[m.Type()]) {
				return next.Mutate(ctx, m)
			}
			if AuditWriter == nil {
				return nil, errors.New("audit writer not registered: refusing an unaudited change")
			}
			var ids []string
			if !m.Op().Is(ent.OpCreate) {
				g, ok := m.(idsGetter)
				if !ok {
					return nil, fmt.Errorf("cannot audit %T", m)
				}
				var err error
				if ids, err = g.IDs(ctx); err != nil {
					return nil, fmt.Errorf("audit: ids of %s: %w", m.Type(), err)
				}
			}
			summary := auditSummary(m)
			value, err := next.Mutate(ctx, m)
			if err != nil {
				return value, err
			}
			if m.Op().Is(ent.OpCreate) {
				if g, ok := m.(idGetter); ok {
					if id, ok := g.ID(); ok {
						ids = []string{id}
					}
				}
			}
			accountID := v.AccountID
			if accountID == "" {
				if g, ok := m.(accountIDGetter); ok {
					accountID, _ = g.AccountID()
				} else if m.Type() == "Account" && len(ids) == 1 {
					accountID = ids[0]
				}
			}
			if accountID == "" {
				return nil, fmt.Errorf("audit: no account for a change of %s", m.Type())
			}
			if len(ids) > maxAuditTargets {
				ids = ids[:maxAuditTargets]
			}
			if len(ids) == 0 {
				ids = []string{""}
			}
			for _, id := range ids {
				e := AuditEntry{
					AccountID: accountID, ActorUserID: v.UserID, ActorAPIKeyID: v.APIKeyID,
					Action: auditAction(m.Op()), TargetType: m.Type(), TargetID: id, Summary: summary,
				}
				if err := AuditWriter(ctx, m, e); err != nil {
					return nil, fmt.Errorf("audit: %w", err)
				}
			}
			return value, nil
		})
	}
}

func auditAction(op ent.Op) string {
	switch {
	case op.Is(ent.OpCreate):
		return "CREATE"
	case op.Is(ent.OpDelete | ent.OpDeleteOne):
		return "DELETE"
	}
	return "UPDATE"
}

// auditSummary names the fields a mutation sets or clears, with the values
// of the safe ones: "role=ADMIN, name=Acme, secret changed".
func auditSummary(m ent.Mutation) string {
	var parts []string
	fields := m.Fields()
	sort.Strings(fields)
	for _, f := range fields {
		if f == "updated_at" || f == "created_at" || f == "account_id" {
			continue
		}
		val, _ := m.Field(f)
		if auditSafeFields[f] {
			s := fmt.Sprint(val)
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			parts = append(parts, f+"="+s)
		} else {
			parts = append(parts, f+" changed")
		}
	}
	cleared := m.ClearedFields()
	sort.Strings(cleared)
	for _, f := range cleared {
		parts = append(parts, f+" cleared")
	}
	s := strings.Join(parts, ", ")
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}
