package postback_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

// TestCatalogPresets checks every preset against specs/networks.md, then
// plays the network: it builds the preset's postback URL, substitutes the
// macros as the network would, and parses the request clickback receives.
func TestCatalogPresets(t *testing.T) {
	t.Parallel()

	// What a network substitutes for each field's macro.
	sent := map[postback.Field]string{
		postback.FieldClickID:       "cb_8f3a2c",
		postback.FieldAmount:        "12.34",
		postback.FieldTransactionID: "TX 9/1",
		postback.FieldCurrency:      "EUR",
		postback.FieldEvent:         "Sale",
		postback.FieldCountry:       "DE",
		postback.FieldEmail:         "ann@example.com",
		postback.FieldFirstName:     "Ann",
		postback.FieldLastName:      "Lee",
	}

	tests := []struct {
		preset postback.Preset
		// The status word the network sends, and what it normalises to.
		statusWord string
		status     postback.Status
		// What Parse reads from the substituted URL.
		want postback.Postback
	}{
		{
			preset: postback.Preset{
				ID: postback.PresetCustom, Name: "Custom", Postbacks: true,
			},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetTUNE, Name: "TUNE (HasOffers)",
				LinkParam: "aff_sub", MoreLinkParams: []string{"aff_sub2", "aff_sub3", "aff_sub4", "aff_sub5"},
				Syntax: postback.SyntaxBraces,
				Macros: postback.Macros{
					postback.FieldClickID: "{aff_sub}", postback.FieldAmount: "{payout}",
					postback.FieldTransactionID: "{transaction_id}", postback.FieldCurrency: "{currency}",
				},
				SuccessBody: "success=true;", Postbacks: true,
			},
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "EUR"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetEverflow, Name: "Everflow",
				LinkParam: "sub1", MoreLinkParams: []string{"sub2", "sub3", "sub4", "sub5"},
				Syntax: postback.SyntaxBraces,
				Macros: postback.Macros{
					postback.FieldClickID: "{sub1}", postback.FieldAmount: "{payout_amount}",
					postback.FieldTransactionID: "{transaction_id}", postback.FieldCurrency: "{currency}",
					postback.FieldEvent: "{event_name}",
				},
				Postbacks: true,
			},
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "EUR", EventName: "Sale"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetCAKE, Name: "CAKE", LinkParam: "s2",
				Syntax: postback.SyntaxHashes,
				Macros: postback.Macros{
					postback.FieldClickID: "#s2#", postback.FieldAmount: "#price#", postback.FieldTransactionID: "#leadid#",
				},
				Postbacks: true,
			},
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "USD"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetAdtraction, Name: "Adtraction",
				LinkParam: "epi", MoreLinkParams: []string{"epi2", "epi3", "epi4", "epi5"},
				Syntax: postback.SyntaxDollarBraces,
				Macros: postback.Macros{
					postback.FieldClickID: "${epi}", postback.FieldAmount: "${commissiondecimal}",
					postback.FieldCurrency: "${currency}", postback.FieldStatus: "${status}",
				},
				Postbacks: true,
			},
			statusWord: "approved", status: postback.StatusApproved,
			want: postback.Postback{Currency: "EUR"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetImpact, Name: "Impact",
				LinkParam: "subId1", MoreLinkParams: []string{"subId2", "subId3"},
				Syntax: postback.SyntaxBraces, CaseSensitiveMacros: true,
				Macros: postback.Macros{
					postback.FieldClickID: "{SubId1}", postback.FieldAmount: "{Payout}",
					postback.FieldTransactionID: "{ActionId}", postback.FieldCurrency: "{Currency}",
					postback.FieldStatus: "{ActionStatus}",
				},
				Unverified: []postback.Field{postback.FieldTransactionID, postback.FieldStatus},
				StatusWords: map[string]postback.Status{
					"PENDING": postback.StatusPending, "APPROVED": postback.StatusApproved, "REVERSED": postback.StatusReversed,
				},
				Postbacks: true,
			},
			statusWord: "REVERSED", status: postback.StatusReversed,
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "EUR"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetShareASale, Name: "ShareASale", LinkParam: "afftrack",
				Syntax: postback.SyntaxDoubleBangs,
				Macros: postback.Macros{
					postback.FieldClickID: "!!afftrack!!", postback.FieldAmount: "!!commission!!",
					postback.FieldTransactionID: "!!transID!!", postback.FieldCurrency: "USD",
					postback.FieldEvent: "!!transtype!!",
				},
				Postbacks: true,
			},
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "USD", EventName: "Sale"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetAwin, Name: "Awin", LinkParam: "clickref",
				Syntax: postback.SyntaxTripleBangs, CaseSensitiveMacros: true,
				Macros: postback.Macros{
					postback.FieldClickID: "!!!clickRef!!!", postback.FieldAmount: "!!!commission!!!",
					postback.FieldTransactionID: "!!!transactionId!!!", postback.FieldCurrency: "!!!transactionCurrency!!!",
				},
				Unverified: []postback.Field{postback.FieldTransactionID, postback.FieldCurrency},
				Postbacks:  true,
			},
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "EUR"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetDigistore24, Name: "Digistore24",
				LinkParam: "cid", MoreLinkParams: []string{"sid1", "sid2", "sid3", "sid4", "sid5"},
				Syntax: postback.SyntaxBraces,
				Macros: postback.Macros{
					postback.FieldClickID: "{cid}", postback.FieldAmount: "{amount_affiliate}",
					postback.FieldTransactionID: "{transaction_id}", postback.FieldCurrency: "{currency}",
					postback.FieldStatus: "{transaction_type}", postback.FieldCountry: "{country}",
					postback.FieldEmail: "{email}", postback.FieldFirstName: "{first_name}", postback.FieldLastName: "{last_name}",
				},
				StatusWords: map[string]postback.Status{
					"payment": postback.StatusApproved, "refund": postback.StatusReversed, "chargeback": postback.StatusReversed,
				},
				Postbacks: true,
			},
			statusWord: "payment", status: postback.StatusApproved,
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "EUR", Attributes: postback.Attributes{
				Country: "DE", Email: "ann@example.com", FirstName: "Ann", LastName: "Lee",
			}},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetAffise, Name: "Affise",
				LinkParam: "sub1", MoreLinkParams: []string{"sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8"},
				Syntax: postback.SyntaxBraces,
				Macros: postback.Macros{
					postback.FieldClickID: "{sub1}", postback.FieldAmount: "{sum}",
					postback.FieldTransactionID: "{transactionid}", postback.FieldCurrency: "{currency}",
					postback.FieldStatus: "{status}",
				},
				StatusWords: map[string]postback.Status{
					"1": postback.StatusApproved, "2": postback.StatusPending, "3": postback.StatusRejected, "5": postback.StatusPending,
				},
				Postbacks: true,
			},
			statusWord: "3", status: postback.StatusRejected,
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "EUR"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetMaxBounty, Name: "MaxBounty", LinkParam: "s1",
				Syntax: postback.SyntaxHashes,
				Macros: postback.Macros{
					postback.FieldClickID: "#S1#", postback.FieldAmount: "#RATE#", postback.FieldTransactionID: "#LEADID#",
				},
				Unverified: []postback.Field{postback.FieldTransactionID},
				Postbacks:  true,
			},
			want: postback.Postback{TransactionID: "TX 9/1", Currency: "USD"},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetClickBank, Name: "ClickBank", LinkParam: "tid", MoreLinkParams: []string{"extclid"},
			},
		},
		{
			preset: postback.Preset{
				ID: postback.PresetCJ, Name: "CJ (Commission Junction)", LinkParam: "sid",
			},
		},
	}

	catalog := postback.Catalog()
	require.Len(t, catalog, len(tests), "a test per preset")
	for i, tt := range tests {
		require.Equal(t, tt.preset.ID, catalog[i].ID, "catalog order")
	}

	for _, tt := range tests {
		t.Run(tt.preset.ID, func(t *testing.T) {
			t.Parallel()

			p, ok := postback.LookupPreset(tt.preset.ID)
			require.True(t, ok)
			require.NotEmpty(t, p.Notes)
			p.Notes = ""
			require.Equal(t, tt.preset, p)

			require.Regexp(t, regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`), p.ID)
			if p.ID != postback.PresetCustom {
				require.NotEmpty(t, p.LinkParam)
			}
			if !p.Postbacks {
				require.Empty(t, p.Macros)
				require.Empty(t, p.Syntax)
				return
			}
			for f, macro := range p.Macros {
				if !postback.IsMacro(macro) {
					continue // a fixed value
				}
				prefix, suffix, _ := strings.Cut(string(p.Syntax), "x")
				name := strings.TrimSuffix(strings.TrimPrefix(macro, prefix), suffix)
				require.Equal(t, macro, p.Syntax.Macro(name), "%s macro of %s is in the preset's syntax", f, p.ID)
			}
			for _, f := range p.Unverified {
				require.Contains(t, p.Macros, f)
				require.True(t, p.IsUnverified(f))
			}
			require.False(t, p.IsUnverified(postback.FieldClickID))
			if p.ID == postback.PresetCustom {
				return
			}
			require.Contains(t, p.Macros, postback.FieldClickID)
			require.Contains(t, p.Macros, postback.FieldAmount)

			// Play the network.
			postbackURL, err := postback.BuildURL("https://cb.example", "acc", "net", "s3cret", p.Macros)
			require.NoError(t, err)
			called := postbackURL
			for f, macro := range p.Macros {
				if !postback.IsMacro(macro) {
					continue
				}
				value := sent[f]
				if f == postback.FieldStatus {
					value = tt.statusWord
				}
				require.NotEmpty(t, value, "test value for %s", f)
				require.Equal(t, 1, strings.Count(called, macro), "macro %s is in the URL once, literally", macro)
				called = strings.Replace(called, macro, url.QueryEscape(value), 1)
			}
			rawQuery := called[strings.IndexByte(called, '?')+1:]
			values, err := url.ParseQuery(rawQuery)
			require.NoError(t, err, "a standard parser reads the substituted URL")
			require.Equal(t, "s3cret", values.Get(postback.SecretParam))

			ps, err := postback.ParseParams(rawQuery, "", nil)
			require.NoError(t, err)
			got := postback.Parse(ps, postback.Config{Network: p.ID, DefaultCurrency: "USD"})

			want := tt.want
			want.Outcome = postback.OutcomeReceived
			want.ClickID = "cb_8f3a2c"
			want.AmountMicros = 12_340_000
			want.Kind = postback.KindPurchase
			if want.EventName == "" {
				want.EventName = postback.EventPurchase
			}
			if tt.statusWord != "" {
				want.Status, want.RawStatus = tt.status, tt.statusWord
			}
			require.Equal(t, want, got)
		})
	}
}

func TestCatalogIsCopied(t *testing.T) {
	t.Parallel()

	catalog := postback.Catalog()
	catalog[1].Macros[postback.FieldClickID] = "{changed}"
	catalog[1].MoreLinkParams[0] = "changed"
	p, _ := postback.LookupPreset(catalog[1].ID)
	p.StatusWords = nil
	p.Macros[postback.FieldAmount] = "{changed}"

	again, ok := postback.LookupPreset(catalog[1].ID)
	require.True(t, ok)
	require.NotEqual(t, "{changed}", again.Macros[postback.FieldClickID])
	require.NotEqual(t, "{changed}", again.Macros[postback.FieldAmount])
	require.NotEqual(t, "changed", again.MoreLinkParams[0])
	require.Equal(t, postback.Catalog(), postback.Catalog())
}

func TestLookupPresetUnknown(t *testing.T) {
	t.Parallel()

	for _, id := range []string{"", "tune", "NOPE"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()

			_, ok := postback.LookupPreset(id)
			require.False(t, ok)
		})
	}
}
