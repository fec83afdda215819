// Package admin is account administration: members and their roles,
// invitations, the accounts of a user, account settings, and who the
// operator is. The privacy rules of the ent schema decide who may change
// what (OWNER for members, invitations and the account); this package adds
// the rules that span rows, such as "an account always keeps an OWNER".
//
// Every function takes the ent client to use: in a GraphQL mutation, the
// transaction's, so that a failure leaves nothing behind.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"entgo.io/ent/privacy"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/account"
	"github.com/clickback/clickback/ent/invitation"
	"github.com/clickback/clickback/ent/membership"
	"github.com/clickback/clickback/ent/user"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/viewer"
)

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// invitationPrefix starts every invitation token, so that one pasted where
// it should not be is recognisable.
const invitationPrefix = "cbi_"

// Errors a client can act on.
var (
	ErrLastOwner         = &auth.InputError{Msg: "an account keeps at least one OWNER: make someone else OWNER first"}
	ErrInvitationInvalid = &auth.InputError{Msg: "this invitation does not exist, has expired, or was already used or revoked"}
	ErrNotAPerson        = &auth.InputError{Msg: "only a signed-in person can do this, not an API key"}
)

// Invite creates an invitation of email to the viewer's account with role,
// and returns it with its token, which is stored only as a hash.
func Invite(ctx context.Context, client *ent.Client, email string, role viewer.Role) (*ent.Invitation, string, error) {
	email, err := auth.NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	if !role.Valid() {
		return nil, "", &auth.InputError{Msg: "role must be OWNER, ADMIN or VIEWER"}
	}
	v, _ := viewer.FromContext(ctx)
	member, err := client.Membership.Query().
		Where(membership.HasUserWith(user.Email(email))).
		Exist(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("check members: %w", err)
	}
	if member {
		return nil, "", &auth.InputError{Msg: email + " is already a member of this account"}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, "", fmt.Errorf("invitation token: %w", err)
	}
	token := invitationPrefix + base64.RawURLEncoding.EncodeToString(b)
	inv, err := client.Invitation.Create().
		SetEmail(email).
		SetRole(role).
		SetTokenHash(hashToken(token)).
		SetInvitedBy(v.UserID).
		SetExpiresAt(time.Now().Add(InvitationTTL)).
		Save(ctx)
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Revoke makes an invitation of the viewer's account unusable.
func Revoke(ctx context.Context, client *ent.Client, id string) (*ent.Invitation, error) {
	return client.Invitation.UpdateOneID(id).
		Where(invitation.AcceptedAtIsNil()).
		SetRevokedAt(time.Now()).
		Save(ctx)
}

// Accept joins the invitation's account. With a signed-in user in ctx, the
// user must have the invited email; without one, a user is created for the
// invited email with password, unless one exists (who must sign in first).
// It returns a session in the invitation's account.
func Accept(ctx context.Context, client *ent.Client, tokens *auth.Tokens, token, password string) (*auth.Session, error) {
	if !strings.HasPrefix(token, invitationPrefix) || len(token) > 128 {
		return nil, ErrInvitationInvalid
	}
	sys := viewer.SystemContext(ctx, "")
	inv, err := client.Invitation.Query().Where(invitation.TokenHash(hashToken(token))).Only(sys)
	if ent.IsNotFound(err) {
		return nil, ErrInvitationInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("find invitation: %w", err)
	}
	if inv.AcceptedAt != nil || inv.RevokedAt != nil || time.Now().After(inv.ExpiresAt) {
		return nil, ErrInvitationInvalid
	}
	var u *ent.User
	if v, ok := viewer.FromContext(ctx); ok && v.UserID != "" {
		if u, err = client.User.Get(sys, v.UserID); err != nil {
			return nil, fmt.Errorf("find user: %w", err)
		}
		if u.Email != inv.Email {
			return nil, &auth.InputError{Msg: "this invitation is for another email address"}
		}
	} else {
		exists, err := client.User.Query().Where(user.Email(inv.Email)).Exist(sys)
		if err != nil {
			return nil, fmt.Errorf("find user: %w", err)
		}
		if exists {
			return nil, &auth.InputError{Msg: "a user with this email exists: log in, then accept the invitation"}
		}
		if len(password) < auth.MinPasswordLength || len(password) > 1024 {
			return nil, &auth.InputError{Msg: fmt.Sprintf("password must have %d to 1024 characters", auth.MinPasswordLength)}
		}
		hash, err := auth.HashPassword(password)
		if err != nil {
			return nil, err
		}
		if u, err = client.User.Create().SetEmail(inv.Email).SetPasswordHash(hash).Save(sys); err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
	}
	// The system acts in the account on behalf of the user, so that the
	// audit log records who joined.
	actor := viewer.System(inv.AccountID)
	actor.UserID = u.ID
	actx := viewer.NewContext(ctx, actor)
	already, err := client.Membership.Query().Where(membership.UserID(u.ID)).Exist(actx)
	if err != nil {
		return nil, fmt.Errorf("check membership: %w", err)
	}
	if already {
		return nil, &auth.InputError{Msg: "you are already a member of this account"}
	}
	if _, err := client.Membership.Create().SetUserID(u.ID).SetRole(inv.Role).Save(actx); err != nil {
		return nil, fmt.Errorf("create membership: %w", err)
	}
	if err := client.Invitation.UpdateOne(inv).SetAcceptedAt(time.Now()).SetAcceptedBy(u.ID).Exec(actx); err != nil {
		return nil, fmt.Errorf("mark invitation accepted: %w", err)
	}
	return session(ctx, client, tokens, u, inv.AccountID, inv.Role)
}

func session(ctx context.Context, client *ent.Client, tokens *auth.Tokens, u *ent.User, accountID string, role viewer.Role) (*auth.Session, error) {
	acc, err := client.Account.Get(viewer.SystemContext(ctx, accountID), accountID)
	if err != nil {
		return nil, fmt.Errorf("find account: %w", err)
	}
	t, err := tokens.Issue(u.ID, accountID)
	if err != nil {
		return nil, err
	}
	return &auth.Session{Token: t, User: u, Account: acc, Role: role}, nil
}

// SetRole changes the role of a member of the viewer's account. The last
// OWNER cannot be demoted.
func SetRole(ctx context.Context, client *ent.Client, membershipID string, role viewer.Role) (*ent.Membership, error) {
	if err := requireOwner(ctx); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, &auth.InputError{Msg: "role must be OWNER, ADMIN or VIEWER"}
	}
	m, err := client.Membership.Get(ctx, membershipID)
	if err != nil {
		return nil, err
	}
	if m.Role == viewer.RoleOwner && role != viewer.RoleOwner {
		if err := keepAnOwner(ctx, client, m.ID); err != nil {
			return nil, err
		}
	}
	return client.Membership.UpdateOne(m).SetRole(role).Save(ctx)
}

// Remove removes a member of the viewer's account, never the last OWNER.
func Remove(ctx context.Context, client *ent.Client, membershipID string) error {
	if err := requireOwner(ctx); err != nil {
		return err
	}
	m, err := client.Membership.Get(ctx, membershipID)
	if err != nil {
		return err
	}
	if m.Role == viewer.RoleOwner {
		if err := keepAnOwner(ctx, client, m.ID); err != nil {
			return err
		}
	}
	return client.Membership.DeleteOne(m).Exec(ctx)
}

// requireOwner refuses viewers below OWNER before anything else is
// checked, so that they learn nothing of the account's members. (The
// privacy rules would refuse the write itself anyway.)
func requireOwner(ctx context.Context) error {
	if v, _ := viewer.FromContext(ctx); !v.Can(viewer.RoleOwner) {
		return privacy.Denyf("members are managed by OWNERs")
	}
	return nil
}

// keepAnOwner fails unless the account has an OWNER besides the membership
// except.
func keepAnOwner(ctx context.Context, client *ent.Client, except string) error {
	n, err := client.Membership.Query().
		Where(membership.RoleEQ(viewer.RoleOwner), membership.IDNEQ(except)).
		Count(ctx)
	if err != nil {
		return fmt.Errorf("count owners: %w", err)
	}
	if n == 0 {
		return ErrLastOwner
	}
	return nil
}

// Choice is an account of a user and their role in it.
type Choice struct {
	Account *ent.Account
	Role    viewer.Role
}

// Accounts lists the accounts of the viewer's user, oldest membership
// first; for an API key, its own account.
func Accounts(ctx context.Context, client *ent.Client) ([]Choice, error) {
	v, _ := viewer.FromContext(ctx)
	if v.UserID == "" {
		acc, err := client.Account.Get(ctx, v.AccountID)
		if err != nil {
			return nil, err
		}
		return []Choice{{Account: acc, Role: v.Role}}, nil
	}
	sys := viewer.SystemContext(ctx, "")
	ms, err := client.Membership.Query().
		Where(membership.UserID(v.UserID)).
		Order(ent.Asc(membership.FieldCreatedAt)).
		WithAccount().
		All(sys)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := make([]Choice, 0, len(ms))
	for _, m := range ms {
		out = append(out, Choice{Account: m.Edges.Account, Role: m.Role})
	}
	return out, nil
}

// Switch returns a session of the viewer's user in another of their
// accounts.
func Switch(ctx context.Context, client *ent.Client, tokens *auth.Tokens, accountID string) (*auth.Session, error) {
	v, _ := viewer.FromContext(ctx)
	if v.UserID == "" {
		return nil, ErrNotAPerson
	}
	sys := viewer.SystemContext(ctx, "")
	m, err := client.Membership.Query().
		Where(membership.UserID(v.UserID), membership.AccountID(accountID)).
		Only(sys)
	if ent.IsNotFound(err) {
		return nil, &auth.InputError{Msg: "you are not a member of that account"}
	}
	if err != nil {
		return nil, fmt.Errorf("find membership: %w", err)
	}
	u, err := client.User.Get(sys, v.UserID)
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return session(ctx, client, tokens, u, accountID, m.Role)
}

// Settings are the account settings to change; nil leaves one as it is.
type Settings struct {
	Name                  *string
	Currency              *string
	Timezone              *string
	AttributionModel      *account.AttributionModel
	AttributionWindowDays *int
	RetentionDays         *int
}

// MaxRetentionDays bounds the retention setting (ten years).
const MaxRetentionDays = 3650

// UpdateAccount changes the settings of the viewer's account (the privacy
// rules allow it to its OWNERs only), after checking each one.
func UpdateAccount(ctx context.Context, client *ent.Client, s Settings) (*ent.Account, error) {
	v, _ := viewer.FromContext(ctx)
	u := client.Account.UpdateOneID(v.AccountID)
	if s.Name != nil {
		name := strings.TrimSpace(*s.Name)
		if name == "" || len(name) > 200 {
			return nil, &auth.InputError{Msg: "account name must have 1 to 200 characters"}
		}
		u.SetName(name)
	}
	if s.Currency != nil {
		c, ok := postback.NormalizeCurrency(*s.Currency)
		if !ok || len(c) != 3 {
			return nil, &auth.InputError{Msg: fmt.Sprintf("%q is not an ISO 4217 currency", *s.Currency)}
		}
		u.SetCurrency(c)
	}
	if s.Timezone != nil {
		if _, err := LoadLocation(*s.Timezone); err != nil {
			return nil, err
		}
		u.SetTimezone(*s.Timezone)
	}
	if s.AttributionModel != nil {
		if err := account.AttributionModelValidator(*s.AttributionModel); err != nil {
			return nil, &auth.InputError{Msg: err.Error()}
		}
		u.SetAttributionModel(*s.AttributionModel)
	}
	if s.AttributionWindowDays != nil {
		if d := *s.AttributionWindowDays; d < 1 || d > 365 {
			return nil, &auth.InputError{Msg: "attributionWindowDays must be 1 to 365"}
		}
		u.SetAttributionWindowDays(*s.AttributionWindowDays)
	}
	if s.RetentionDays != nil {
		if d := *s.RetentionDays; d < 0 || d > MaxRetentionDays {
			return nil, &auth.InputError{Msg: fmt.Sprintf("retentionDays must be 0 (keep forever) to %d", MaxRetentionDays)}
		}
		u.SetRetentionDays(*s.RetentionDays)
	}
	return u.Save(ctx)
}

// LoadLocation loads an IANA time zone given by a client: "Local" (the
// server's zone, which means nothing to a client) and the empty name are
// refused, as are names no zone has.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, &auth.InputError{Msg: fmt.Sprintf("%q is not an IANA time zone such as Europe/Paris", name)}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &auth.InputError{Msg: fmt.Sprintf("%q is not an IANA time zone such as Europe/Paris", name)}
	}
	return loc, nil
}

// OperatorAccountEnv names the operator account: the account whose OWNERs
// run the installation (exchange rates, the River UI). Unset, the operator
// account is the oldest account, the one made by the first signup.
const OperatorAccountEnv = "CLICKBACK_OPERATOR_ACCOUNT_ID"

// ErrNotOperator is returned to viewers who are not OWNERs of the operator
// account.
var ErrNotOperator = errors.New("only an OWNER of the operator account may do this")

// IsOperator reports whether the viewer is an OWNER (a person or an OWNER
// API key) of the operator account.
func IsOperator(ctx context.Context, client *ent.Client) (bool, error) {
	v, ok := viewer.FromContext(ctx)
	if !ok || v.IsSystem() || v.Role != viewer.RoleOwner {
		return false, nil
	}
	op := strings.TrimSpace(os.Getenv(OperatorAccountEnv))
	if op == "" {
		first, err := client.Account.Query().Order(ent.Asc(account.FieldCreatedAt), ent.Asc(account.FieldID)).
			FirstID(viewer.SystemContext(ctx, ""))
		if err != nil {
			return false, fmt.Errorf("find the operator account: %w", err)
		}
		op = first
	}
	return v.AccountID == op, nil
}
