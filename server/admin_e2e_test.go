package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

type membersAnswer struct {
	Memberships struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				ID   string
				Role string
				User struct{ Email string }
			}
		}
	}
}

func members(t *testing.T, s *testserver.Server, token string) map[string]string {
	t.Helper()
	var out membersAnswer
	s.GraphQL(t, token, `{ memberships(first: 100) { totalCount edges { node { id role user { email } } } } }`, nil).Decode(t, &out)
	m := map[string]string{}
	for _, e := range out.Memberships.Edges {
		m[e.Node.User.Email] = e.Node.ID + " " + e.Node.Role
	}
	return m
}

func membershipID(t *testing.T, s *testserver.Server, token, email string) string {
	t.Helper()
	v, ok := members(t, s, token)[email]
	require.True(t, ok, "%s is not a member", email)
	return strings.Fields(v)[0]
}

func TestMembersAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := newTeam(t, s, "acme")
		b := s.Signup(t, "globex")

		// Only OWNERs invite.
		invite := `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { token invitation { id } } }`
		in := func(email, role string) map[string]any {
			return map[string]any{"in": map[string]any{"email": email, "role": role}}
		}
		for name, token := range map[string]string{"admin": a.Admin, "viewer": a.Viewer, "api key": a.Key} {
			require.Equal(t, "FORBIDDEN", s.GraphQL(t, token, invite, in("x@example.com", "VIEWER")).Code(), name)
		}
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Token, invite, in("not an email", "VIEWER")).Code())
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Token, invite, in(a.Email, "VIEWER")).Code(), "already a member")

		// b's owner is invited into a: accepting while signed in, then switching.
		var inv struct {
			InviteMember struct {
				Token      string
				Invitation struct{ ID string }
			}
		}
		s.GraphQL(t, a.Token, invite, in(strings.ToUpper(b.Email), "ADMIN")).Decode(t, &inv)
		require.True(t, strings.HasPrefix(inv.InviteMember.Token, "cbi_"))
		accept := `mutation($in: AcceptInvitationInput!) { acceptInvitation(input: $in) { token role account { id } } }`
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, "", accept, map[string]any{"in": map[string]any{"token": inv.InviteMember.Token, "password": "correct horse battery"}}).Code(),
			"an existing user must sign in first")
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Viewer, accept, map[string]any{"in": map[string]any{"token": inv.InviteMember.Token}}).Code(),
			"another email cannot use it")
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, b.Token, accept, map[string]any{"in": map[string]any{"token": "cbi_forged"}}).Code())
		var acc struct {
			AcceptInvitation struct {
				Token, Role string
				Account     struct{ ID string }
			}
		}
		s.GraphQL(t, b.Token, accept, map[string]any{"in": map[string]any{"token": inv.InviteMember.Token}}).Decode(t, &acc)
		require.Equal(t, "ADMIN", acc.AcceptInvitation.Role)
		require.Equal(t, a.AccountID, acc.AcceptInvitation.Account.ID)
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, b.Token, accept, map[string]any{"in": map[string]any{"token": inv.InviteMember.Token}}).Code(), "used once")

		var mine struct {
			MyAccounts []struct {
				Account struct{ ID string }
				Role    string
			}
		}
		s.GraphQL(t, b.Token, `{ myAccounts { account { id } role } }`, nil).Decode(t, &mine)
		require.Len(t, mine.MyAccounts, 2)
		require.Equal(t, b.AccountID, mine.MyAccounts[0].Account.ID)
		require.Equal(t, "OWNER", mine.MyAccounts[0].Role)
		require.Equal(t, a.AccountID, mine.MyAccounts[1].Account.ID)
		require.Equal(t, "ADMIN", mine.MyAccounts[1].Role)

		sw := `mutation($id: ID!) { switchAccount(accountID: $id) { token role account { id } } }`
		var switched struct {
			SwitchAccount struct {
				Token, Role string
				Account     struct{ ID string }
			}
		}
		s.GraphQL(t, b.Token, sw, map[string]any{"id": a.AccountID}).Decode(t, &switched)
		require.Equal(t, "ADMIN", switched.SwitchAccount.Role)
		var who struct {
			Viewer struct{ Account struct{ ID string } }
		}
		s.GraphQL(t, switched.SwitchAccount.Token, `{ viewer { account { id } } }`, nil).Decode(t, &who)
		require.Equal(t, a.AccountID, who.Viewer.Account.ID)
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Viewer, sw, map[string]any{"id": b.AccountID}).Code(), "not a member there")
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Key, sw, map[string]any{"id": a.AccountID}).Code(), "API keys do not switch")

		// Roles: OWNERs change them; the last OWNER stays.
		setRole := `mutation($id: ID!, $role: Role!) { updateMemberRole(id: $id, role: $role) { id role } }`
		ownerID := membershipID(t, s, a.Token, a.Email)
		bID := membershipID(t, s, a.Token, b.Email)
		require.Equal(t, "FORBIDDEN", s.GraphQL(t, a.Admin, setRole, map[string]any{"id": bID, "role": "VIEWER"}).Code())
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Token, setRole, map[string]any{"id": ownerID, "role": "ADMIN"}).Code(), "last owner")
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Token, `mutation($id: ID!) { removeMember(id: $id) }`, map[string]any{"id": ownerID}).Code())
		require.Empty(t, s.GraphQL(t, a.Token, setRole, map[string]any{"id": bID, "role": "OWNER"}).Errors)
		require.Empty(t, s.GraphQL(t, switched.SwitchAccount.Token, setRole, map[string]any{"id": ownerID, "role": "VIEWER"}).Errors,
			"with a second OWNER, the first may step down")
		// Another account cannot touch a's members, nor see them.
		require.NotEqual(t, "", s.GraphQL(t, b.Token, setRole, map[string]any{"id": ownerID, "role": "OWNER"}).Code())
		require.NotContains(t, members(t, s, b.Token), a.Email)
		require.Equal(t, "FORBIDDEN", s.GraphQL(t, a.Token, `mutation($id: ID!) { removeMember(id: $id) }`, map[string]any{"id": bID}).Code(),
			"a demoted OWNER is a VIEWER at once")
		var removed struct{ RemoveMember string }
		s.GraphQL(t, switched.SwitchAccount.Token, `mutation($id: ID!) { removeMember(id: $id) }`, map[string]any{"id": ownerID}).Decode(t, &removed)
		require.Equal(t, ownerID, removed.RemoveMember)
		require.Equal(t, "UNAUTHENTICATED", s.GraphQL(t, a.Token, `{ viewer { role } }`, nil).Code(), "a removed member's token stops working")

		// Invitations expire, can be revoked, and new people set a password.
		s.GraphQL(t, b.Token, invite, in("new@example.com", "VIEWER")).Decode(t, &inv)
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, "", accept, map[string]any{"in": map[string]any{"token": inv.InviteMember.Token, "password": "short"}}).Code())
		var revoked struct {
			RevokeInvitation struct{ RevokedAt *time.Time }
		}
		s.GraphQL(t, b.Token, `mutation($id: ID!) { revokeInvitation(id: $id) { revokedAt } }`, map[string]any{"id": inv.InviteMember.Invitation.ID}).Decode(t, &revoked)
		require.NotNil(t, revoked.RevokeInvitation.RevokedAt)
		require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, "", accept, map[string]any{"in": map[string]any{"token": inv.InviteMember.Token, "password": "correct horse battery"}}).Code())
	})
}

func TestAuditLogAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := newTeam(t, s, "acme")
		b := s.Signup(t, "globex")
		require.Empty(t, s.GraphQL(t, a.Admin, `mutation { createProperty(input: {name: "shop"}) { id } }`, nil).Errors)
		require.Empty(t, s.GraphQL(t, a.Token, `mutation { updateAccount(input: {name: "Acme Inc", timezone: "Europe/Paris"}) { name } }`, nil).Errors)

		q := `{ auditLogs(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount edges { node { actorUserID actorAPIKeyID action targetType targetID summary createdAt } } } }`
		type entry struct {
			ActorUserID, ActorAPIKeyID, Action, TargetType, TargetID, Summary string
		}
		var out struct {
			AuditLogs struct {
				TotalCount int
				Edges      []struct{ Node entry }
			}
		}
		for _, token := range []string{a.Token, a.Admin} {
			s.GraphQL(t, token, q, nil).Decode(t, &out)
		}
		byType := map[string][]entry{}
		for _, e := range out.AuditLogs.Edges {
			byType[e.Node.TargetType] = append(byType[e.Node.TargetType], e.Node)
			require.NotContains(t, e.Node.Summary, "cbk_", "no secret in the audit log")
			require.NotContains(t, e.Node.Summary, "cbi_")
		}
		require.Len(t, byType["Invitation"], 4, "two invitations created and two accepted")
		require.Len(t, byType["Membership"], 2, "two members joined")
		require.Equal(t, "CREATE", byType["APIKey"][0].Action)
		require.Equal(t, a.UserID, byType["APIKey"][0].ActorUserID)
		require.Contains(t, byType["APIKey"][0].Summary, "key_hash changed")
		require.Contains(t, byType["APIKey"][0].Summary, "role=VIEWER")
		require.Equal(t, "CREATE", byType["Property"][0].Action)
		require.Equal(t, "UPDATE", byType["Account"][0].Action)
		require.Equal(t, a.AccountID, byType["Account"][0].TargetID)
		require.Contains(t, byType["Account"][0].Summary, "name=Acme Inc")
		require.Contains(t, byType["Account"][0].Summary, "timezone=Europe/Paris")

		// Writes by an API key name the key.
		var key struct{ CreateAPIKey struct{ Key string } }
		s.GraphQL(t, a.Admin, `mutation { createAPIKey(input: {name: "x", role: ADMIN}) { key } }`, nil)
		require.Equal(t, "FORBIDDEN", s.GraphQL(t, a.Admin, `mutation { createAPIKey(input: {name: "x", role: ADMIN}) { key } }`, nil).Code(), "API keys are for OWNERs")
		s.GraphQL(t, b.Token, `mutation { createAPIKey(input: {name: "admin", role: ADMIN}) { key } }`, nil).Decode(t, &key)
		require.Empty(t, s.GraphQL(t, key.CreateAPIKey.Key, `mutation { createProperty(input: {name: "blog"}) { id } }`, nil).Errors)
		var bout struct {
			AuditLogs struct {
				TotalCount int
				Edges      []struct{ Node entry }
			}
		}
		s.GraphQL(t, b.Token, q, nil).Decode(t, &bout)
		require.Equal(t, 2, bout.AuditLogs.TotalCount, "b sees its own two changes, none of a's")
		require.NotEmpty(t, bout.AuditLogs.Edges[1].Node.ActorAPIKeyID)
		require.Empty(t, bout.AuditLogs.Edges[1].Node.ActorUserID)

		// VIEWERs and VIEWER keys cannot read it.
		require.Equal(t, "FORBIDDEN", s.GraphQL(t, a.Viewer, q, nil).Code())
		require.Equal(t, "FORBIDDEN", s.GraphQL(t, a.Key, q, nil).Code())
	})
}

func TestUpdateAccountAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := newTeam(t, s, "acme")
		b := s.Signup(t, "globex")
		upd := `mutation($in: UpdateAccountInput!) { updateAccount(input: $in) { id name currency timezone attributionModel attributionWindowDays retentionDays } }`
		good := map[string]any{"name": "Acme", "currency": "eur", "timezone": "America/New_York", "attributionModel": "FIRST_CLICK",
			"attributionWindowDays": 7, "retentionDays": 90}
		for name, token := range map[string]string{"admin": a.Admin, "viewer": a.Viewer, "api key": a.Key} {
			require.Equal(t, "FORBIDDEN", s.GraphQL(t, token, upd, map[string]any{"in": good}).Code(), name)
		}
		var out struct {
			UpdateAccount struct {
				ID, Name, Currency, Timezone, AttributionModel string
				AttributionWindowDays, RetentionDays           int
			}
		}
		s.GraphQL(t, a.Token, upd, map[string]any{"in": good}).Decode(t, &out)
		require.Equal(t, a.AccountID, out.UpdateAccount.ID)
		require.Equal(t, "EUR", out.UpdateAccount.Currency)
		require.Equal(t, "America/New_York", out.UpdateAccount.Timezone)
		require.Equal(t, "FIRST_CLICK", out.UpdateAccount.AttributionModel)
		require.Equal(t, 90, out.UpdateAccount.RetentionDays)
		for _, bad := range []map[string]any{
			{"currency": "ZZZ"}, {"currency": "dollars"}, {"timezone": "Local"}, {"timezone": "Europe/Atlantis"},
			{"attributionWindowDays": 0}, {"attributionWindowDays": 366}, {"retentionDays": -1}, {"retentionDays": 100000},
			{"name": " "}, {"name": strings.Repeat("x", 201)},
		} {
			require.Equal(t, "BAD_USER_INPUT", s.GraphQL(t, a.Token, upd, map[string]any{"in": bad}).Code(), fmt.Sprint(bad))
		}
		// b's owner changes b only.
		s.GraphQL(t, b.Token, upd, map[string]any{"in": map[string]any{"name": "Globex"}}).Decode(t, &out)
		require.Equal(t, b.AccountID, out.UpdateAccount.ID)
		var who struct {
			Viewer struct {
				Account struct{ Name, Currency string }
			}
		}
		s.GraphQL(t, a.Viewer, `{ viewer { account { name currency } } }`, nil).Decode(t, &who)
		require.Equal(t, "Acme", who.Viewer.Account.Name)
	})
}

func TestQueryShapeLimits(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, "sqlite3")
	a := s.Signup(t, "acme")
	var aliases strings.Builder
	for i := range 60 {
		fmt.Fprintf(&aliases, "a%d: viewer { role } ", i)
	}
	r := s.GraphQL(t, a.Token, "{ "+aliases.String()+" }", nil)
	require.Equal(t, "QUERY_TOO_COMPLEX", r.Code())
	deep := "{ conversions(first: 1) { edges { node { deliveries { conversion { deliveries { conversion { deliveries { conversion { deliveries { conversion { deliveries { conversion { id } } } } } } } } } } } } } }"
	require.Equal(t, "QUERY_TOO_COMPLEX", s.GraphQL(t, a.Token, deep, nil).Code())
	// A fragment cycle is refused by validation, a fragment fan-out by the limits.
	fan := "query { viewer { ...F } } fragment F on Viewer { " + strings.Repeat("a: role ", 60) + " }"
	require.NotEmpty(t, s.GraphQL(t, a.Token, fan, nil).Errors)
	require.Empty(t, s.GraphQL(t, a.Token, "{ viewer { role account { id name } } }", nil).Errors)
	introspection := "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } }"
	require.Empty(t, s.GraphQL(t, "", introspection, nil).Errors, "GraphiQL's introspection is not limited by depth")
}
