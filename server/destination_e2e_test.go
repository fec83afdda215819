package server_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/capi/capitest"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/testserver"
)

// TestDestinationsAPI: creating, reading, updating, testing and deleting
// destinations; inputs of the wrong kind and bad settings are refused with
// the reason; secrets are write-only; a VIEWER cannot change or test one.
func TestDestinationsAPI(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		p := startPlatforms(t)
		s := testserver.Start(t, d, p.option())
		a := s.Signup(t, "dests")
		create := func(in map[string]any) testserver.Response {
			return s.GraphQL(t, a.Token, `mutation($in: CreateDestinationInput!) { createDestination(input: $in) { `+destinationFields+` } }`, map[string]any{"in": in})
		}
		for name, tt := range map[string]struct {
			in   map[string]any
			want string
		}{
			"no settings":    {map[string]any{"name": "m", "kind": "META"}, "a META destination needs its meta settings"},
			"other kind":     {map[string]any{"name": "m", "kind": "META", "meta": map[string]any{"pixelID": "1", "accessToken": "t"}, "ga4": map[string]any{"measurementID": "G-ABCDEF"}}, "takes only the meta settings, not ga4"},
			"missing secret": {map[string]any{"name": "g", "kind": "GA4", "ga4": map[string]any{"measurementID": "G-ABCDEF"}}, "ga4.apiSecret is required"},
			"bad customer":   {map[string]any{"name": "g", "kind": "GOOGLE_ADS", "googleAds": map[string]any{"customerID": "12"}}, "googleAds.customerID is not a 10-digit"},
			"no name":        {map[string]any{"name": " ", "kind": "TIKTOK", "tiktok": map[string]any{"pixelCode": "CPIX1234", "accessToken": "t"}}, "name is required"},
			"bad mapping":    {map[string]any{"name": "g", "kind": "GA4", "ga4": map[string]any{"measurementID": "G-ABCDEF", "apiSecret": "s"}, "eventMapping": []map[string]any{{"event": "Sale", "platformEvent": "Sale Made"}}}, "GA4 event names"},
		} {
			r := create(tt.in)
			require.Equal(t, "BAD_USER_INPUT", r.Code(), name)
			require.Contains(t, r.Errors[0].Message, tt.want, name)
		}

		ids := createDestinations(t, s, a.Token, allKinds...)
		type settings struct {
			ID, Kind string
			Meta     *struct {
				PixelID        string
				TestEventCode  *string
				HasAccessToken bool
			}
			GoogleAds *struct {
				CustomerID, ConversionActionID, ClientID            string
				HasDeveloperToken, HasClientSecret, HasRefreshToken bool
			}
			EventMapping []struct {
				Event         string
				PlatformEvent *string
				Default       bool
			}
		}
		var got struct{ Node settings }
		s.GraphQL(t, a.Token, `query($id: ID!) { node(id: $id) { ... on Destination { id kind `+destinationFields+` } } }`, map[string]any{"id": ids["GOOGLE_ADS"]}).Decode(t, &got)
		require.Equal(t, "123-456-7890", got.Node.GoogleAds.CustomerID)
		require.Equal(t, "987654321", got.Node.GoogleAds.ConversionActionID)
		require.True(t, got.Node.GoogleAds.HasDeveloperToken && got.Node.GoogleAds.HasClientSecret && got.Node.GoogleAds.HasRefreshToken)
		require.Nil(t, got.Node.Meta)
		require.Len(t, got.Node.EventMapping, 2)
		require.Equal(t, "UPLOAD", *got.Node.EventMapping[0].PlatformEvent)

		// Update: a new token replaces the old; the test event code is set.
		var upd struct{ UpdateDestination settings }
		s.GraphQL(t, a.Token, `mutation($id: ID!, $in: UpdateDestinationInput!) { updateDestination(id: $id, input: $in) { `+destinationFields+` } }`,
			map[string]any{"id": ids["META"], "in": map[string]any{"name": "Meta 2", "meta": map[string]any{"accessToken": "EAAB-rotated-token", "testEventCode": "TEST123"}}}).Decode(t, &upd)
		require.Equal(t, "TEST123", *upd.UpdateDestination.Meta.TestEventCode)
		require.True(t, upd.UpdateDestination.Meta.HasAccessToken)
		r := s.GraphQL(t, a.Token, `mutation($id: ID!, $in: UpdateDestinationInput!) { updateDestination(id: $id, input: $in) { id } }`,
			map[string]any{"id": ids["META"], "in": map[string]any{"tiktok": map[string]any{"pixelCode": "X"}}})
		require.Equal(t, "BAD_USER_INPUT", r.Code())

		// testDestination: Meta with its test event code, GA4 through the
		// validation server; the answers are readable.
		type result struct {
			TestDestination struct {
				Ok         bool
				Summary    string
				Messages   []string
				StatusCode int
			}
		}
		test := func(id string, code any) result {
			var out result
			s.GraphQL(t, a.Token, `mutation($id: ID!, $code: String) { testDestination(id: $id, testEventCode: $code) { ok summary messages statusCode response } }`,
				map[string]any{"id": id, "code": code}).Decode(t, &out)
			return out
		}
		m := test(ids["META"], nil)
		require.True(t, m.TestDestination.Ok, "%+v", m)
		require.Contains(t, m.TestDestination.Summary, "TEST123")
		ev := p.meta.WaitForEvents(t, 1, 10*time.Second)
		require.Equal(t, "TEST123", ev[0].TestEventCode)
		g := test(ids["GA4"], nil)
		require.True(t, g.TestDestination.Ok, "%+v", g)
		require.Empty(t, p.ga4.Events(), "the validation server records nothing")
		tk := test(ids["TIKTOK"], nil)
		require.False(t, tk.TestDestination.Ok, "TikTok needs a test event code")
		tk = test(ids["TIKTOK"], "TEST999")
		require.True(t, tk.TestDestination.Ok, "%+v", tk)
		ads := test(ids["GOOGLE_ADS"], nil)
		require.True(t, ads.TestDestination.Ok, "%+v", ads)
		p.meta.FailNext(1, capitest.MetaTokenInvalid())
		bad := test(ids["META"], "TEST123")
		require.False(t, bad.TestDestination.Ok)
		require.Contains(t, bad.TestDestination.Summary, "access token could not be decrypted", "%+v", bad)
		require.Equal(t, 400, bad.TestDestination.StatusCode)

		// A VIEWER reads but cannot change or test.
		var key struct{ CreateAPIKey struct{ Key string } }
		s.GraphQL(t, a.Token, `mutation { createAPIKey(input: {name: "ro", role: VIEWER}) { key } }`, nil).Decode(t, &key)
		ro := key.CreateAPIKey.Key
		var list struct{ Destinations struct{ TotalCount int } }
		s.GraphQL(t, ro, `{ destinations(first: 10) { totalCount } }`, nil).Decode(t, &list)
		require.Equal(t, 4, list.Destinations.TotalCount)
		for _, q := range []string{
			`mutation($id: ID!) { testDestination(id: $id) { ok } }`,
			`mutation($id: ID!) { deleteDestination(id: $id) }`,
			`mutation($id: ID!) { updateDestination(id: $id, input: {enabled: false}) { id } }`,
		} {
			require.Equal(t, "FORBIDDEN", s.GraphQL(t, ro, q, map[string]any{"id": ids["META"]}).Code(), q)
		}
		// Another account cannot see them.
		b := s.Signup(t, "other")
		require.Equal(t, "NOT_FOUND", s.GraphQL(t, b.Token, `mutation($id: ID!) { deleteDestination(id: $id) }`, map[string]any{"id": ids["META"]}).Code())

		var del struct{ DeleteDestination string }
		s.GraphQL(t, a.Token, `mutation($id: ID!) { deleteDestination(id: $id) }`, map[string]any{"id": ids["META"]}).Decode(t, &del)
		require.Equal(t, ids["META"], del.DeleteDestination)
		s.GraphQL(t, a.Token, `{ destinations(first: 10) { totalCount } }`, nil).Decode(t, &list)
		require.Equal(t, 3, list.Destinations.TotalCount)

		for _, secret := range append(destinationSecrets, "EAAB-rotated-token") {
			require.NotContains(t, s.LogText(), secret)
		}
	})
}
