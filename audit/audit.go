// Package audit writes the audit log. The hook that decides what to record
// lives in the ent schema (schema.AuditMixin, and the AccountMixin for the
// administrative tenant types), so that no resolver can forget it; the
// schema package may not use the generated client, so the writing is done
// here and registered when this package is linked — the database package
// imports it, so every binary that opens a database audits.
package audit

import (
	"context"
	"fmt"

	entgo "entgo.io/ent"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/schema"
	"github.com/clickback/clickback/viewer"
)

func init() { schema.AuditWriter = Write }

// clientOf is what every generated mutation offers: the client of its
// transaction, if any.
type clientOf interface {
	Client() *ent.Client
}

// Write stores e through m's client, so in m's transaction when it has one,
// acting as the system for e's account (the audit log refuses writes by
// anyone else).
func Write(ctx context.Context, m entgo.Mutation, e schema.AuditEntry) error {
	c, ok := m.(clientOf)
	if !ok {
		return fmt.Errorf("mutation %T has no client", m)
	}
	sys := viewer.SystemContext(ctx, e.AccountID)
	return c.Client().AuditLog.Create().
		SetAccountID(e.AccountID).
		SetActorUserID(e.ActorUserID).
		SetActorAPIKeyID(e.ActorAPIKeyID).
		SetAction(e.Action).
		SetTargetType(e.TargetType).
		SetTargetID(e.TargetID).
		SetSummary(e.Summary).
		Exec(sys)
}
