package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

func createProperty(t *testing.T, s *testserver.Server, token, name string) (id, key string) {
	t.Helper()
	var out struct {
		CreateProperty struct{ ID, Key, TagSnippet string }
	}
	s.GraphQL(t, token, `mutation($in: CreatePropertyInput!) { createProperty(input: $in) { id key tagSnippet } }`,
		map[string]any{"in": map[string]any{"name": name, "domain": "Shop.Example.com"}}).Decode(t, &out)
	require.Contains(t, out.CreateProperty.TagSnippet, "/tag/"+out.CreateProperty.Key+".js")
	return out.CreateProperty.ID, out.CreateProperty.Key
}

// TestTenantIsolation: account B cannot read or change anything of account
// A, through any query, node lookup, connection or mutation.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "alpha")
		b := s.Signup(t, "bravo")
		propA, _ := createProperty(t, s, a.Token, "A shop")
		var keyA struct {
			CreateAPIKey struct{ APIKey struct{ ID string } }
		}
		s.GraphQL(t, a.Token, `mutation { createAPIKey(input: {name: "ci", role: VIEWER}) { key apiKey { id } } }`, nil).Decode(t, &keyA)

		// Reads: connections hold only B's own rows.
		var lists struct {
			Properties struct{ TotalCount int }
			APIKeys    struct{ TotalCount int }
			Viewer     struct{ Account struct{ ID string } }
		}
		s.GraphQL(t, b.Token, `{ properties { totalCount } apiKeys { totalCount } viewer { account { id } } }`, nil).Decode(t, &lists)
		require.Zero(t, lists.Properties.TotalCount)
		require.Zero(t, lists.APIKeys.TotalCount)
		require.Equal(t, b.AccountID, lists.Viewer.Account.ID)

		// node() on every kind of A's ids answers nothing.
		for _, id := range []string{propA, keyA.CreateAPIKey.APIKey.ID, a.AccountID, a.UserID} {
			var n struct{ Node *struct{ ID string } }
			r := s.GraphQL(t, b.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
			if r.Code() == "" {
				r.Decode(t, &n)
				require.Nil(t, n.Node, id)
			} else {
				require.Equal(t, "NOT_FOUND", r.Code(), id)
			}
			var ns struct{ Nodes []*struct{ ID string } }
			r = s.GraphQL(t, b.Token, `query($id: ID!) { nodes(ids: [$id]) { id } }`, map[string]any{"id": id})
			if r.Code() == "" {
				r.Decode(t, &ns)
				require.Nil(t, ns.Nodes[0], id)
			} else {
				require.Equal(t, "NOT_FOUND", r.Code(), id)
			}
		}

		// Writes: A's rows cannot be changed or deleted from B.
		r := s.GraphQL(t, b.Token, `mutation($id: ID!) { updateProperty(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": propA})
		require.Equal(t, "NOT_FOUND", r.Code())
		r = s.GraphQL(t, b.Token, `mutation($id: ID!) { deleteProperty(id: $id) }`, map[string]any{"id": propA})
		require.Equal(t, "NOT_FOUND", r.Code())
		r = s.GraphQL(t, b.Token, `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": keyA.CreateAPIKey.APIKey.ID})
		require.Equal(t, "NOT_FOUND", r.Code())

		// A still sees its rows unchanged.
		var node struct{ Node struct{ Name string } }
		s.GraphQL(t, a.Token, `query($id: ID!) { node(id: $id) { ... on Property { name } } }`, map[string]any{"id": propA}).Decode(t, &node)
		require.Equal(t, "A shop", node.Node.Name)
		var keys struct {
			APIKeys struct {
				Edges []struct{ Node struct{ RevokedAt *string } }
			}
		}
		s.GraphQL(t, a.Token, `{ apiKeys { edges { node { revokedAt } } } }`, nil).Decode(t, &keys)
		require.Len(t, keys.APIKeys.Edges, 1)
		require.Nil(t, keys.APIKeys.Edges[0].Node.RevokedAt)
	})
}

// TestRoles: an API key acts with its role in its account; VIEWER reads
// and may not change anything; a revoked key stops working.
func TestRoles(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		s := testserver.Start(t, d)
		a := s.Signup(t, "alpha")
		createProperty(t, s, a.Token, "A shop")
		newKey := func(role string) (key, id string) {
			var out struct {
				CreateAPIKey struct {
					Key    string
					APIKey struct{ ID string }
				}
			}
			s.GraphQL(t, a.Token, `mutation($in: CreateAPIKeyInput!) { createAPIKey(input: $in) { key apiKey { id } } }`,
				map[string]any{"in": map[string]any{"name": role, "role": role}}).Decode(t, &out)
			require.Regexp(t, `^cbk_[A-Za-z0-9_-]{43}$`, out.CreateAPIKey.Key)
			return out.CreateAPIKey.Key, out.CreateAPIKey.APIKey.ID
		}
		viewerKey, viewerKeyID := newKey("VIEWER")
		adminKey, _ := newKey("ADMIN")

		var v struct {
			Viewer struct {
				Role    string
				User    *struct{ ID string }
				Account struct{ ID string }
			}
			Properties struct{ TotalCount int }
		}
		s.GraphQL(t, viewerKey, `{ viewer { role user { id } account { id } } properties { totalCount } }`, nil).Decode(t, &v)
		require.Equal(t, "VIEWER", v.Viewer.Role)
		require.Nil(t, v.Viewer.User)
		require.Equal(t, a.AccountID, v.Viewer.Account.ID)
		require.Equal(t, 1, v.Properties.TotalCount)

		r := s.GraphQL(t, viewerKey, `mutation { createProperty(input: {name: "nope"}) { id } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())
		r = s.GraphQL(t, adminKey, `mutation { createProperty(input: {name: "yes"}) { id } }`, nil)
		require.Empty(t, r.Errors)
		// Only owners manage API keys.
		r = s.GraphQL(t, adminKey, `mutation { createAPIKey(input: {name: "x", role: OWNER}) { key } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())

		s.GraphQL(t, a.Token, `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": viewerKeyID}).Decode(t, &struct{}{})
		r = s.GraphQL(t, viewerKey, `{ viewer { role } }`, nil)
		require.Equal(t, "UNAUTHENTICATED", r.Code())
	})
}
