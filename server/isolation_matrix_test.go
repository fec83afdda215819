package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/delivery"
	"github.com/clickback/clickback/graph/generated"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/internal/testserver"
	"github.com/clickback/clickback/viewer"
)

// The tenant-isolation matrix: every root field of the executable schema
// (query, mutation, subscription, node and nodes), generated from the schema
// itself, is called by every actor of account A (OWNER, ADMIN and VIEWER
// members, an OWNER API key, nobody) once against account B's objects and
// once against A's own. Nothing of B may ever appear in an answer, B's rows
// must be byte-for-byte unchanged afterwards, and each call must end with the
// code its role deserves. A root field without a case below fails the test:
// a field added to the schema is covered by adding its case, never skipped.

// actor is one caller of the matrix.
type actor struct {
	name  string
	token string
	role  viewer.Role // "" for nobody
}

// fieldCase says how to call a root field and who may.
type fieldCase struct {
	// min is the least role allowed; "" for a public field.
	min viewer.Role
	// args returns the field's arguments aimed at the tenant's objects.
	args func(f *tenantFx, a actor) map[string]any
	// own is the operation acting on the caller's own account whatever the
	// arguments (creates, account settings): against B it is judged like
	// against A, by role alone.
	own bool
	// codes overrides the code expected from an allowed actor, per actor
	// name and target ("A" or "B"): "" is success.
	codes map[string]string
}

// tenantFx hands out a tenant's objects: B's are made once and reused (no
// call may change them), A's are new for each call that needs one, so that
// an allowed call always has something to act on.
type tenantFx struct {
	t      *testing.T
	s      *testserver.Server
	name   string
	fresh  bool
	owner  testserver.Account
	seed   *seed.Tenant
	cached map[string]map[string]string
	// loginEmail signs in for login: A's owner's, against B too (A's
	// owner asking for B's account).
	loginEmail string
}

func (f *tenantFx) sys() context.Context {
	return viewer.SystemContext(context.Background(), f.owner.AccountID)
}

// obj returns the object kind, made by mk, once for B and anew for A.
func (f *tenantFx) obj(kind string, mk func() map[string]string) map[string]string {
	if !f.fresh {
		if o, ok := f.cached[kind]; ok {
			return o
		}
	}
	o := mk()
	if !f.fresh {
		f.cached[kind] = o
	}
	return o
}

func (f *tenantFx) id(kind string, mk func() string) string {
	return f.obj(kind, func() map[string]string { return map[string]string{"id": mk()} })["id"]
}

func (f *tenantFx) property() string {
	return f.id("property", func() string {
		p, err := f.s.DB.Ent.Property.Create().SetName(f.name + " shop").SetDomain(f.name + ".example").SetKey(auth.NewPublicKey()).Save(f.sys())
		require.NoError(f.t, err)
		return p.ID
	})
}

func (f *tenantFx) integration() string {
	return f.id("integration", func() string { return f.seed.Integration(f.t, f.name+"-net") })
}

func (f *tenantFx) destination() string {
	return f.id("destination", func() string {
		in := map[string]any{"name": f.name + " pixel", "kind": "META", "meta": map[string]any{"pixelID": "1234567890", "accessToken": "EAAB-" + f.name + "-token"}}
		var out struct{ CreateDestination struct{ ID string } }
		f.s.GraphQL(f.t, f.owner.Token, `mutation($in: CreateDestinationInput!) { createDestination(input: $in) { id } }`,
			map[string]any{"in": in}).Decode(f.t, &out)
		return out.CreateDestination.ID
	})
}

func (f *tenantFx) matched() *seedConv {
	o := f.obj("conversion", func() map[string]string {
		cl := f.seed.Clicks(f.t, seed.Click{At: time.Now(), Source: f.name + "-src", Outbound: 1})
		c := f.seed.Conversions(f.t, seed.Conversion{At: time.Now(), Click: cl[0], AmountMicros: 12_340_000, Delivery: delivery.StatusFAILED})[0]
		d, err := f.s.DB.Ent.Delivery.Query().Where(delivery.ConversionID(c.ID)).OnlyID(f.sys())
		require.NoError(f.t, err)
		return map[string]string{"conversion": c.ID, "delivery": d}
	})
	return &seedConv{conversion: o["conversion"], delivery: o["delivery"]}
}

type seedConv struct{ conversion, delivery string }

func (f *tenantFx) apiKey() string {
	return f.id("apiKey", func() string {
		var out struct {
			CreateAPIKey struct{ APIKey struct{ ID string } }
		}
		f.s.GraphQL(f.t, f.owner.Token, `mutation { createAPIKey(input: {name: "matrix", role: VIEWER}) { apiKey { id } } }`, nil).Decode(f.t, &out)
		return out.CreateAPIKey.APIKey.ID
	})
}

func (f *tenantFx) invitation() map[string]string {
	return f.obj("invitation", func() map[string]string {
		email := fmt.Sprintf("%s-invited-%d@example.com", f.name, time.Now().UnixNano())
		var out struct {
			InviteMember struct {
				Token      string
				Invitation struct{ ID string }
			}
		}
		f.s.GraphQL(f.t, f.owner.Token, `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { token invitation { id } } }`,
			map[string]any{"in": map[string]any{"email": email, "role": "VIEWER"}}).Decode(f.t, &out)
		return map[string]string{"id": out.InviteMember.Invitation.ID, "token": out.InviteMember.Token}
	})
}

// member returns a VIEWER member (never the last owner) by membership id.
func (f *tenantFx) member() string {
	return f.id("member", func() string {
		i := f.invitationFresh()
		var out struct {
			AcceptInvitation struct{ User struct{ ID string } }
		}
		f.s.GraphQL(f.t, "", `mutation($in: AcceptInvitationInput!) { acceptInvitation(input: $in) { user { id } } }`,
			map[string]any{"in": map[string]any{"token": i["token"], "password": "correct horse battery"}}).Decode(f.t, &out)
		return f.membershipOf(out.AcceptInvitation.User.ID)
	})
}

// invitationFresh is always a new invitation (accepting uses it up).
func (f *tenantFx) invitationFresh() map[string]string {
	fresh := f.fresh
	f.fresh = true
	defer func() { f.fresh = fresh }()
	return f.invitation()
}

func (f *tenantFx) membershipOf(userID string) string {
	ms, err := f.s.DB.Ent.Membership.Query().All(f.sys())
	require.NoError(f.t, err)
	for _, m := range ms {
		if m.UserID == userID {
			return m.ID
		}
	}
	f.t.Fatalf("user %s is no member of %s", userID, f.name)
	return ""
}

func idArg(get func(f *tenantFx) string) func(f *tenantFx, _ actor) map[string]any {
	return func(f *tenantFx, _ actor) map[string]any { return map[string]any{"id": get(f)} }
}

func reportInput(f *tenantFx) map[string]any {
	now := time.Now()
	return map[string]any{
		"from": now.Add(-48 * time.Hour).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339),
		"groupBy": []string{"DAY", "INTEGRATION", "UTM_SOURCE", "LANDING_PAGE", "DESTINATION", "EVENT_NAME"},
		"filters": map[string]any{"integrationIDs": []string{f.integration()}, "propertyIDs": []string{f.property()}},
	}
}

// matrixCases holds a case for every root field that is not a generated
// connection (those are covered by their shape, see connectionArgs).
var matrixCases = map[string]fieldCase{
	// Queries.
	"Query.node": {min: viewer.RoleViewer, args: idArg((*tenantFx).property)},
	"Query.nodes": {min: viewer.RoleViewer, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"ids": []string{f.property(), f.integration()}}
	}},
	"Query.viewer":         {min: viewer.RoleViewer},
	"Query.myAccounts":     {min: viewer.RoleViewer},
	"Query.networkCatalog": {min: viewer.RoleViewer},
	"Query.exchangeRates":  {min: viewer.RoleViewer},
	"Query.report": {min: viewer.RoleViewer, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"input": reportInput(f)}
	}},

	// Sign-up and sign-in: public.
	"Mutation.signup": {own: true, args: func(f *tenantFx, a actor) map[string]any {
		return map[string]any{"input": map[string]any{"email": fmt.Sprintf("new-%s-%d@example.com", strings.ReplaceAll(strings.ToLower(a.name), " ", "-"), time.Now().UnixNano()),
			"password": "correct horse battery", "accountName": "new"}}
	}},
	// Against B: A's owner asks for a token of B. Against A: the owner's own.
	"Mutation.login": {args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"input": map[string]any{"email": f.loginEmail, "password": "correct horse battery", "accountID": f.owner.AccountID}}
	}},
	// Against B: B's invitation token, without a password (a signed-in
	// user of A has another email). Against A: a new invitation, which
	// only nobody (a new person) may accept with a password.
	"Mutation.acceptInvitation": {args: func(f *tenantFx, _ actor) map[string]any {
		in := map[string]any{"token": f.invitation()["token"]}
		if f.fresh {
			in["password"] = "correct horse battery"
		}
		return map[string]any{"input": in}
	}, codes: map[string]string{"OWNER/A": "BAD_USER_INPUT", "ADMIN/A": "BAD_USER_INPUT", "VIEWER/A": "BAD_USER_INPUT"}},
	"Mutation.switchAccount": {min: viewer.RoleViewer, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"accountID": f.owner.AccountID}
	}, codes: map[string]string{"API key/A": "BAD_USER_INPUT"}},

	// Properties and the tag: ADMIN.
	"Mutation.createProperty": {min: viewer.RoleAdmin, own: true, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"input": map[string]any{"name": "new shop", "domain": "new.example"}}
	}},
	"Mutation.updateProperty": {min: viewer.RoleAdmin, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"id": f.property(), "input": map[string]any{"name": "renamed"}}
	}},
	"Mutation.deleteProperty": {min: viewer.RoleAdmin, args: idArg((*tenantFx).property)},
	"Mutation.setAutoTagRules": {min: viewer.RoleAdmin, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"propertyID": f.property(), "rules": []map[string]any{{"domain": "network.example", "param": "sub1"}}}
	}},

	// Integrations: ADMIN.
	"Mutation.createIntegration": {min: viewer.RoleAdmin, own: true, args: func(f *tenantFx, a actor) map[string]any {
		return map[string]any{"input": map[string]any{"name": "net " + a.name, "clickIDMacro": "{c}"}}
	}},
	"Mutation.updateIntegration": {min: viewer.RoleAdmin, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"id": f.integration(), "input": map[string]any{"name": "renamed", "ipAllowlist": []string{"0.0.0.0/0"}}}
	}},
	"Mutation.deleteIntegration":       {min: viewer.RoleAdmin, args: idArg((*tenantFx).integration)},
	"Mutation.rotateIntegrationSecret": {min: viewer.RoleAdmin, args: idArg((*tenantFx).integration)},
	"Mutation.sendTestPostback": {min: viewer.RoleAdmin, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"integrationID": f.integration()}
	}},

	// Destinations and deliveries: ADMIN.
	"Mutation.createDestination": {min: viewer.RoleAdmin, own: true, args: func(f *tenantFx, a actor) map[string]any {
		return map[string]any{"input": map[string]any{"name": "pixel " + a.name, "kind": "TIKTOK", "tiktok": map[string]any{"pixelCode": "CPIXEL", "accessToken": "tt-token"}}}
	}},
	"Mutation.updateDestination": {min: viewer.RoleAdmin, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"id": f.destination(), "input": map[string]any{"name": "renamed", "enabled": false}}
	}},
	"Mutation.deleteDestination": {min: viewer.RoleAdmin, args: idArg((*tenantFx).destination)},
	"Mutation.testDestination": {min: viewer.RoleAdmin, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"id": f.destination(), "testEventCode": "TEST123"}
	}},
	"Mutation.retryDelivery":    {min: viewer.RoleAdmin, args: idArg(func(f *tenantFx) string { return f.matched().delivery })},
	"Mutation.replayConversion": {min: viewer.RoleAdmin, args: idArg(func(f *tenantFx) string { return f.matched().conversion })},

	// Members, API keys and the account: OWNER.
	"Mutation.inviteMember": {min: viewer.RoleOwner, own: true, args: func(f *tenantFx, a actor) map[string]any {
		return map[string]any{"input": map[string]any{"email": fmt.Sprintf("inv-%d@example.com", time.Now().UnixNano()), "role": "VIEWER"}}
	}},
	"Mutation.revokeInvitation": {min: viewer.RoleOwner, args: idArg(func(f *tenantFx) string { return f.invitation()["id"] })},
	"Mutation.updateMemberRole": {min: viewer.RoleOwner, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"id": f.member(), "role": "ADMIN"}
	}},
	"Mutation.removeMember": {min: viewer.RoleOwner, args: idArg((*tenantFx).member)},
	"Mutation.createAPIKey": {min: viewer.RoleOwner, own: true, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"input": map[string]any{"name": "k", "role": "VIEWER"}}
	}},
	"Mutation.revokeAPIKey": {min: viewer.RoleOwner, args: idArg((*tenantFx).apiKey)},
	"Mutation.updateAccount": {min: viewer.RoleOwner, own: true, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"input": map[string]any{"timezone": "Europe/Paris"}}
	}},
	// The operator is A (the oldest account): its OWNERs only.
	"Mutation.setExchangeRates": {min: viewer.RoleOwner, own: true, args: func(f *tenantFx, _ actor) map[string]any {
		return map[string]any{"rates": []map[string]any{{"currency": "EUR", "perUSD": 0.9}}}
	}},
}

// connectionArgs are the arguments of a generated connection: the first
// page, filtered on one of the tenant's objects of the node type.
func connectionArgs(field *ast.FieldDefinition, ids map[string][]string) (map[string]any, bool) {
	want := []string{"after", "first", "before", "last", "orderBy", "where"}
	if !strings.HasSuffix(field.Type.Name(), "Connection") || len(field.Arguments) != len(want) {
		return nil, false
	}
	for i, a := range field.Arguments {
		if a.Name != want[i] {
			return nil, false
		}
	}
	node := strings.TrimSuffix(field.Type.Name(), "Connection")
	args := map[string]any{"first": 10}
	if list := ids[node]; len(list) > 0 {
		args["where"] = map[string]any{"idIn": list}
	}
	return args, true
}

// selection selects every field of t that takes no required argument,
// objects depth levels down.
func selection(s *ast.Schema, t *ast.Type, depth int) string {
	def := s.Types[t.Name()]
	switch def.Kind {
	case ast.Scalar, ast.Enum:
		return ""
	case ast.Interface, ast.Union:
		return "{ __typename ... on Node { id } }"
	}
	var parts []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") || requiredArgs(f) {
			continue
		}
		switch s.Types[f.Type.Name()].Kind {
		case ast.Scalar, ast.Enum:
			parts = append(parts, f.Name)
		default:
			if depth > 0 {
				parts = append(parts, f.Name+" "+selection(s, f.Type, depth-1))
			}
		}
	}
	if len(parts) == 0 {
		parts = []string{"__typename"}
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

func requiredArgs(f *ast.FieldDefinition) bool {
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			return true
		}
	}
	return false
}

// operation builds the document calling field with args as variables.
func operation(s *ast.Schema, op string, field *ast.FieldDefinition, args map[string]any) (string, error) {
	var decls, uses []string
	for name := range args {
		if field.Arguments.ForName(name) == nil {
			return "", fmt.Errorf("%s has no argument %s", field.Name, name)
		}
	}
	for _, a := range field.Arguments {
		if _, ok := args[a.Name]; !ok {
			if a.Type.NonNull && a.DefaultValue == nil {
				return "", fmt.Errorf("no value for the required argument %s of %s", a.Name, field.Name)
			}
			continue
		}
		decls = append(decls, "$"+a.Name+": "+a.Type.String())
		uses = append(uses, a.Name+": $"+a.Name)
	}
	doc := op
	if len(decls) > 0 {
		doc += "(" + strings.Join(decls, ", ") + ")"
	}
	doc += " { " + field.Name
	if len(uses) > 0 {
		doc += "(" + strings.Join(uses, ", ") + ")"
	}
	return doc + " " + selection(s, field.Type, 3) + " }", nil
}

// matrixSchema is the executable schema the server runs.
func matrixSchema() *ast.Schema {
	return generated.NewExecutableSchema(generated.Config{}).Schema()
}

// snapshot renders every row of the account: each table with an account_id
// column, the account itself, and its members' users.
func snapshot(t *testing.T, db *sql.DB, d, accountID string) string {
	t.Helper()
	ph := "?"
	q := `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'account_id' ORDER BY m.name`
	if d == dialect.Postgres {
		ph = "$1"
		q = `SELECT table_name FROM information_schema.columns WHERE column_name = 'account_id' AND table_schema = current_schema() ORDER BY table_name`
	}
	tables := queryStrings(t, db, q)
	require.NotEmpty(t, tables)
	var b strings.Builder
	dump := func(label, q string, args ...any) {
		rows, err := db.Query(q, args...)
		require.NoError(t, err, q)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var cells []string
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				cells = append(cells, fmt.Sprintf("%s=%v", cols[i], v))
			}
			lines = append(lines, strings.Join(cells, " "))
		}
		require.NoError(t, rows.Err())
		sort.Strings(lines)
		fmt.Fprintf(&b, "## %s (%d)\n%s\n", label, len(lines), strings.Join(lines, "\n"))
	}
	for _, table := range tables {
		if strings.Contains(table, "rollup") {
			continue // written by the rollup job from the account's own rows
		}
		dump(table, fmt.Sprintf(`SELECT * FROM %q WHERE account_id = %s`, table, ph), accountID)
	}
	dump("accounts", fmt.Sprintf(`SELECT * FROM accounts WHERE id = %s`, ph), accountID)
	dump("users", fmt.Sprintf(`SELECT * FROM users WHERE id IN (SELECT user_id FROM memberships WHERE account_id = %s)`, ph), accountID)
	return b.String()
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// fingerprints are the values of B that must never reach A: every id of
// B's rows, its keys, secrets and emails, and the marker in B's names.
func fingerprints(t *testing.T, s *testserver.Server, d, accountID string) []string {
	t.Helper()
	snap := snapshot(t, s.DB.SQL, d, accountID)
	seen := map[string]bool{}
	for _, line := range strings.Split(snap, "\n") {
		for _, cell := range strings.Fields(line) {
			name, v, ok := strings.Cut(cell, "=")
			if !ok || len(v) < 8 || v == "<nil>" {
				continue
			}
			switch name {
			case "id", "key", "secret", "previous_secret", "email", "token_hash", "key_hash":
				seen[v] = true
			}
		}
	}
	seen[bravo] = true
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// bravo marks B's names.
const bravo = "zz-bravo"

// leaks returns the fingerprints found in an answer: anywhere in its data,
// and in its errors unless the request itself carried them.
func leaks(r testserver.Response, vars map[string]any, prints []string) []string {
	sent, _ := json.Marshal(vars)
	errs, _ := json.Marshal(r.Errors)
	var out []string
	for _, p := range prints {
		if strings.Contains(string(r.Data), p) || strings.Contains(string(errs), p) && !strings.Contains(string(sent), p) {
			out = append(out, p)
		}
	}
	return out
}

// TestIsolationMatrix: see the comment at the top of the file.
func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	schema := matrixSchema()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		p := startPlatforms(t)
		s := testserver.Start(t, d, p.option())
		// A first: the oldest account is the operator.
		a := newTeam(t, s, "alpha")
		keyOwner := ownerKey(t, s, a.Token)
		b := s.Signup(t, bravo)
		actors := []actor{
			{"OWNER", a.Token, viewer.RoleOwner},
			{"ADMIN", a.Admin, viewer.RoleAdmin},
			{"VIEWER", a.Viewer, viewer.RoleViewer},
			{"API key", keyOwner, viewer.RoleOwner},
			{"nobody", "", ""},
		}

		fxB := &tenantFx{t: t, s: s, name: bravo, owner: b, seed: seed.NewTenant(t, s.DB.Ent, b.AccountID), cached: map[string]map[string]string{}}
		fxA := &tenantFx{t: t, s: s, name: "alpha", fresh: true, owner: a.Account, seed: seed.NewTenant(t, s.DB.Ent, a.AccountID), cached: map[string]map[string]string{}}
		fxA.loginEmail, fxB.loginEmail = a.Email, a.Email
		// B holds one object of every type: make them all now, and its
		// audit log through the API.
		fxB.property()
		fxB.integration()
		fxB.destination()
		fxB.matched()
		fxB.apiKey()
		fxB.invitation()
		fxB.member()
		s.GraphQL(t, b.Token, `mutation { updateAccount(input: {currency: "EUR"}) { id } }`, nil).Decode(t, &struct{}{})

		prints := fingerprints(t, s, d, b.AccountID)
		// Every type behind node() exists in B, so that node() and the
		// connections are tried on each.
		idsB := typedIDs(t, s, b.Token, prints)
		for _, typ := range schema.GetPossibleTypes(schema.Types["Node"]) {
			if typ.Name == "ExchangeRate" {
				continue // the operator's, shared by every account: no tenant's data
			}
			require.NotEmpty(t, idsB[typ.Name], "account B has no %s: the matrix would not try it", typ.Name)
		}
		before := snapshot(t, s.DB.SQL, d, b.AccountID)
		rowsB := 0
		for _, line := range strings.Split(before, "\n") {
			if line != "" && !strings.HasPrefix(line, "## ") {
				rowsB++
			}
		}
		// The detector sees B's data where it is: B's owner reading B.
		for _, field := range schema.Query.Fields {
			args, ok := connectionArgs(field, nil)
			if !ok {
				continue
			}
			name := field.Name
			doc, err := operation(schema, "query", field, args)
			require.NoError(t, err)
			r := s.GraphQL(t, b.Token, doc, args)
			require.Empty(t, r.Errors, name)
			require.NotEmpty(t, leaks(r, args, prints), "the leak detector misses B's %s in %s", name, r.Data)
		}
		for key := range matrixCases {
			op, name, _ := strings.Cut(key, ".")
			require.NotNil(t, schema.Types[op].Fields.ForName(name), "matrixCases has %s, which the schema no longer has", key)
		}

		calls := 0
		check := func(target string, op string, field *ast.FieldDefinition, c fieldCase, ac actor, args map[string]any) {
			t.Helper()
			doc, err := operation(schema, strings.ToLower(op), field, args)
			require.NoError(t, err)
			r := s.GraphQL(t, ac.token, doc, args)
			calls++
			label := fmt.Sprintf("%s.%s as %s against %s", op, field.Name, ac.name, target)
			require.Empty(t, leaks(r, args, prints), "%s leaks B: %s", label, r.Data)
			want := expectedCode(op, field.Name, c, ac, target)
			require.Contains(t, want, r.Code(), "%s: %s %+v", label, r.Data, r.Errors)
		}

		var fields int
		for _, op := range []string{"Query", "Mutation"} {
			for _, field := range schema.Types[op].Fields {
				if strings.HasPrefix(field.Name, "__") {
					continue
				}
				fields++
				key := op + "." + field.Name
				c, ok := matrixCases[key]
				conn := false
				if !ok {
					if _, conn = connectionArgs(field, nil); !conn {
						t.Fatalf("%s has no case in matrixCases: add one (who may call it, and its arguments against a tenant)", key)
					}
					c = fieldCase{min: viewer.RoleViewer}
					if field.Name == "auditLogs" {
						c.min = viewer.RoleAdmin
					}
				}
				for _, ac := range actors {
					for _, tg := range []struct {
						name string
						fx   *tenantFx
						ids  map[string][]string
					}{{"B", fxB, idsB}, {"A", fxA, nil}} {
						var args map[string]any
						switch {
						case conn:
							args, _ = connectionArgs(field, tg.ids)
						case c.args != nil:
							args = c.args(tg.fx, ac)
						}
						check(tg.name, op, field, c, ac, args)
					}
				}
			}
		}

		// node and nodes on every id of B, from every actor.
		all := []string{}
		for _, ids := range idsB {
			all = append(all, ids...)
		}
		sort.Strings(all)
		for _, ac := range actors {
			for _, id := range all {
				vars := map[string]any{"id": id}
				r := s.GraphQL(t, ac.token, `query($id: ID!) { node(id: $id) { __typename id } }`, vars)
				calls++
				require.Empty(t, leaks(r, vars, prints), "node(%s) as %s: %s", id, ac.name, r.Data)
				if ac.role == "" {
					require.Equal(t, "UNAUTHENTICATED", r.Code())
				} else {
					// FORBIDDEN: a VIEWER may not read audit logs at all.
					require.Contains(t, []string{"", "NOT_FOUND", "FORBIDDEN"}, r.Code(), "node(%s) as %s: %+v", id, ac.name, r.Errors)
					require.JSONEq(t, `{"node":null}`, string(r.Data), "node(%s) as %s", id, ac.name)
				}
			}
			vars := map[string]any{"ids": all}
			r := s.GraphQL(t, ac.token, `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, vars)
			calls++
			require.Empty(t, leaks(r, vars, prints), "nodes as %s: %s", ac.name, r.Data)
		}

		after := snapshot(t, s.DB.SQL, d, b.AccountID)
		require.Equal(t, before, after, "B's rows changed")

		subs := subscriptionMatrix(t, s, schema, actors, fxA, fxB, prints)
		t.Logf("%s: %d root fields (+%d subscription), %d actors × 2 accounts, %d node ids of %d types, %d GraphQL calls, %d rows of B unchanged",
			d, fields, subs, len(actors), len(all), len(idsB), calls, rowsB)
	})
}

// expectedCode lists the codes an actor may get ("" is success).
func expectedCode(op, field string, c fieldCase, ac actor, target string) []string {
	if override, ok := c.codes[ac.name+"/"+target]; ok {
		return []string{override}
	}
	public := c.min == ""
	if ac.role == "" && !public {
		return []string{"UNAUTHENTICATED"}
	}
	refused := []string{"NOT_FOUND", "FORBIDDEN"}
	switch {
	case (field == "login" || field == "switchAccount") && target == "B" && (public || ac.role != ""):
		// A token for B asked by A's owner: refused with the message
		// "you are not a member of that account", the same whether B
		// exists or not.
		return []string{"NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED", "BAD_USER_INPUT"}
	case field == "acceptInvitation" && target == "B":
		return []string{"BAD_USER_INPUT"}
	case public:
		return []string{""}
	case op == "Mutation" && target == "B" && !c.own:
		return refused
	case !ac.role.AtLeast(c.min):
		return []string{"FORBIDDEN"}
	case op == "Query" && target == "B":
		// Filtered to the caller's own rows, or B's object not found.
		return []string{"", "NOT_FOUND"}
	}
	return []string{""}
}

// ownerKey creates an OWNER API key, the strongest key there is.
func ownerKey(t *testing.T, s *testserver.Server, token string) string {
	t.Helper()
	var out struct{ CreateAPIKey struct{ Key string } }
	s.GraphQL(t, token, `mutation { createAPIKey(input: {name: "owner key", role: OWNER}) { key } }`, nil).Decode(t, &out)
	return out.CreateAPIKey.Key
}

// typedIDs resolves the ids among the fingerprints through node(), as B's
// owner: type name → ids.
func typedIDs(t *testing.T, s *testserver.Server, token string, prints []string) map[string][]string {
	t.Helper()
	var out struct {
		Nodes []*struct{ Typename, ID string } `json:"nodes"`
	}
	r := s.GraphQL(t, token, `query($ids: [ID!]!) { nodes(ids: $ids) { typename: __typename id } }`, map[string]any{"ids": prints})
	// Values that are not ids answer NOT_FOUND at their index.
	require.NoError(t, json.Unmarshal(r.Data, &out))
	ids := map[string][]string{}
	for _, n := range out.Nodes {
		if n != nil {
			ids[n.Typename] = append(ids[n.Typename], n.ID)
		}
	}
	return ids
}

// subscriptionMatrix: every actor of A subscribes to B's integration and to
// its own account's events; B's conversion never reaches A, A's does.
func subscriptionMatrix(t *testing.T, s *testserver.Server, schema *ast.Schema, actors []actor, fxA, fxB *tenantFx, prints []string) int {
	t.Helper()
	fields := schema.Types["Subscription"].Fields
	for _, f := range fields {
		require.Equal(t, "conversionEvents", f.Name, "a new subscription needs its place in subscriptionMatrix")
	}
	integB := fxB.integration()
	for _, ac := range actors {
		c, err := dialGraphQL(t, s, ac.token)
		if ac.role == "" {
			require.Error(t, err, "a subscription without a token is refused")
			continue
		}
		require.NoError(t, err, ac.name)
		theirs, _ := json.Marshal(map[string]any{"query": `subscription($i: ID) { conversionEvents(integrationID: $i) { id integrationID status } }`, "variables": map[string]any{"i": integB}})
		mine, _ := json.Marshal(map[string]any{"query": `subscription { conversionEvents { id integrationID status } }`})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		require.NoError(t, wsjson.Write(ctx, c.conn, wsMessage{ID: "theirs", Type: "subscribe", Payload: theirs}))
		require.NoError(t, wsjson.Write(ctx, c.conn, wsMessage{ID: "mine", Type: "subscribe", Payload: mine}))
		// Probe with A's conversions until "mine" listens.
		for got := false; !got; {
			fxA.seed.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			for {
				m, err := c.read(pctx)
				if err != nil {
					break
				}
				require.NotContains(t, string(m.Payload), integB, "%s got B's events", ac.name)
				if m.ID == "mine" && m.Type == "next" {
					got = true
					break
				}
			}
			pcancel()
		}
		// B's conversion, then A's: only A's arrives.
		fxB.seed.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})
		own := fxA.seed.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})[0].ID
		for seen := false; !seen; {
			m, err := c.read(ctx)
			require.NoError(t, err, "%s never got its own conversion", ac.name)
			for _, p := range prints {
				require.NotContains(t, string(m.Payload), p, "%s got B's data: %s", ac.name, m.Payload)
			}
			require.False(t, m.ID == "theirs" && m.Type == "next", "%s got an event of B's integration: %s", ac.name, m.Payload)
			seen = m.ID == "mine" && strings.Contains(string(m.Payload), own)
		}
		cancel()
	}
	return len(fields)
}
