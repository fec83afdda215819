package postback

import (
	"maps"
	"slices"
)

// Preset IDs: stable, upper snake case, stored with integrations and
// exposed as an enum by the API. Never rename one.
const (
	PresetCustom      = "CUSTOM"
	PresetTUNE        = "TUNE"
	PresetEverflow    = "EVERFLOW"
	PresetCAKE        = "CAKE"
	PresetAdtraction  = "ADTRACTION"
	PresetImpact      = "IMPACT"
	PresetShareASale  = "SHAREASALE"
	PresetAwin        = "AWIN"
	PresetDigistore24 = "DIGISTORE24"
	PresetAffise      = "AFFISE"
	PresetMaxBounty   = "MAXBOUNTY"
	PresetClickBank   = "CLICKBANK"
	PresetCJ          = "CJ"
)

// Macros are a network's macros (or fixed values) per canonical field:
// Macros{FieldClickID: "{sub1}", FieldAmount: "{sum}"}. [BuildURL] writes a
// value that IsMacro recognises literally, for the network to substitute,
// and encodes any other value as a fixed one (ShareASale's currency "USD").
type Macros map[Field]string

// Preset is what clickback knows about an affiliate network: enough to
// fill an integration's macros and to tell the tenant where the Click ID
// goes and what to paste where. It is data from specs/networks.md.
type Preset struct {
	// ID is the stable identifier (PresetTUNE, …).
	ID string
	// Name is the network's name for people.
	Name string
	// LinkParam is the sub-id parameter of the network's offer links that
	// carries the Click ID: AutoTag's links look like
	// https://network.example/offer?{LinkParam}=--CLICK-ID--.
	LinkParam string
	// MoreLinkParams are the network's further sub-id parameters, free for
	// the tenant's own use.
	MoreLinkParams []string
	// Syntax is how the network writes macros; "" for a network without
	// postback macros.
	Syntax Syntax
	// CaseSensitiveMacros warns that the network substitutes a macro only
	// in its exact case ({SubId1}, not {subid1}).
	CaseSensitiveMacros bool
	// Macros are the network's macros for the canonical fields, ready for
	// BuildURL. Empty when the network has no postbacks.
	Macros Macros
	// Unverified lists the fields whose macro comes from third-party code
	// only, not from the network's own documentation: the UI should ask
	// the tenant to check them.
	Unverified []Field
	// StatusWords are the network's own status words or codes, mapped to
	// a Status (Affise's "1" is APPROVED), on top of the built-in words of
	// ParseStatus. Parse applies them when Config.Network is this preset.
	StatusWords map[string]Status
	// SuccessBody is the body the network expects in the answer to a
	// successful postback ("success=true;" for TUNE); "" for any body.
	SuccessBody string
	// Postbacks is false for a network that cannot call a postback URL at
	// all (CJ, ClickBank): its preset only gives the link parameter.
	Postbacks bool
	// Notes are what a tenant should know, in a sentence or two.
	Notes string
}

// IsUnverified reports whether the preset's macro for f is unverified.
func (p Preset) IsUnverified(f Field) bool {
	return slices.Contains(p.Unverified, f)
}

// catalog is the data; Catalog and LookupPreset hand out deep copies so
// that no caller can change it.
var catalog = []Preset{
	{
		ID:        PresetCustom,
		Name:      "Custom",
		Postbacks: true,
		Notes:     "Any network or platform: enter its macros for the click id, payout and transaction id, and map any other parameter it sends.",
	},
	{
		ID:             PresetTUNE,
		Name:           "TUNE (HasOffers)",
		LinkParam:      "aff_sub",
		MoreLinkParams: []string{"aff_sub2", "aff_sub3", "aff_sub4", "aff_sub5"},
		Syntax:         SyntaxBraces,
		Macros: Macros{
			FieldClickID:       "{aff_sub}",
			FieldAmount:        "{payout}",
			FieldTransactionID: "{transaction_id}",
			FieldCurrency:      "{currency}",
		},
		SuccessBody: "success=true;",
		Postbacks:   true,
		Notes:       "TUNE expects the body success=true; in the answer.",
	},
	{
		ID:             PresetEverflow,
		Name:           "Everflow",
		LinkParam:      "sub1",
		MoreLinkParams: []string{"sub2", "sub3", "sub4", "sub5"},
		Syntax:         SyntaxBraces,
		Macros: Macros{
			FieldClickID:       "{sub1}",
			FieldAmount:        "{payout_amount}",
			FieldTransactionID: "{transaction_id}",
			FieldCurrency:      "{currency}",
			FieldEvent:         "{event_name}",
		},
		Postbacks: true,
		Notes: "Curly-brace macros only. {payout_amount} is your payout; {sale_amount} is the order value, if you would rather report that. " +
			"{event_name} names the conversion event, so it fills the event, not the status. " +
			"Everflow disables a postback after 25 failures in a row.",
	},
	{
		ID:        PresetCAKE,
		Name:      "CAKE",
		LinkParam: "s2",
		Syntax:    SyntaxHashes,
		Macros: Macros{
			FieldClickID:       "#s2#",
			FieldAmount:        "#price#",
			FieldTransactionID: "#leadid#",
		},
		Postbacks: true,
		Notes: "s1 is the sub-affiliate id, so the Click ID goes in s2. " +
			"#leadid# is CAKE's own id for the conversion and always set; #tid# is the advertiser's transaction id, which may be blank.",
	},
	{
		ID:             PresetAdtraction,
		Name:           "Adtraction",
		LinkParam:      "epi",
		MoreLinkParams: []string{"epi2", "epi3", "epi4", "epi5"},
		Syntax:         SyntaxDollarBraces,
		Macros: Macros{
			FieldClickID:  "${epi}",
			FieldAmount:   "${commissiondecimal}",
			FieldCurrency: "${currency}",
			FieldStatus:   "${status}",
		},
		Postbacks: true,
		Notes: "No transaction id macro is known: every postback counts as a new conversion, and a network retry is counted twice. " +
			"Add one if Adtraction shows it in its postback settings.",
	},
	{
		ID:                  PresetImpact,
		Name:                "Impact",
		LinkParam:           "subId1",
		MoreLinkParams:      []string{"subId2", "subId3"},
		Syntax:              SyntaxBraces,
		CaseSensitiveMacros: true,
		Macros: Macros{
			FieldClickID:       "{SubId1}",
			FieldAmount:        "{Payout}",
			FieldTransactionID: "{ActionId}",
			FieldCurrency:      "{Currency}",
			FieldStatus:        "{ActionStatus}",
		},
		Unverified: []Field{FieldTransactionID, FieldStatus},
		StatusWords: map[string]Status{
			"PENDING":  StatusPending,
			"APPROVED": StatusApproved,
			"REVERSED": StatusReversed,
		},
		Postbacks: true,
		Notes:     "Macros are case-sensitive. Impact retries a failed postback up to 15 times.",
	},
	{
		ID:        PresetShareASale,
		Name:      "ShareASale",
		LinkParam: "afftrack",
		Syntax:    SyntaxDoubleBangs,
		Macros: Macros{
			FieldClickID:       "!!afftrack!!",
			FieldAmount:        "!!commission!!",
			FieldTransactionID: "!!transID!!",
			FieldCurrency:      "USD",
			FieldEvent:         "!!transtype!!",
		},
		Postbacks: true,
		Notes: "ShareASale pays in US dollars, so the currency is the fixed value USD. " +
			"!!transtype!! says sale or lead, so it names the event.",
	},
	{
		ID:                  PresetAwin,
		Name:                "Awin",
		LinkParam:           "clickref",
		Syntax:              SyntaxTripleBangs,
		CaseSensitiveMacros: true,
		Macros: Macros{
			FieldClickID:       "!!!clickRef!!!",
			FieldAmount:        "!!!commission!!!",
			FieldTransactionID: "!!!transactionId!!!",
			FieldCurrency:      "!!!transactionCurrency!!!",
		},
		Unverified: []Field{FieldTransactionID, FieldCurrency},
		Postbacks:  true,
		Notes:      "Macros are case-sensitive.",
	},
	{
		ID:             PresetDigistore24,
		Name:           "Digistore24",
		LinkParam:      "cid",
		MoreLinkParams: []string{"sid1", "sid2", "sid3", "sid4", "sid5"},
		Syntax:         SyntaxBraces,
		Macros: Macros{
			FieldClickID:       "{cid}",
			FieldAmount:        "{amount_affiliate}",
			FieldTransactionID: "{transaction_id}",
			FieldCurrency:      "{currency}",
			FieldStatus:        "{transaction_type}",
			FieldCountry:       "{country}",
			FieldEmail:         "{email}",
			FieldFirstName:     "{first_name}",
			FieldLastName:      "{last_name}",
		},
		StatusWords: map[string]Status{
			"payment":    StatusApproved,
			"refund":     StatusReversed,
			"chargeback": StatusReversed,
		},
		Postbacks: true,
		Notes: "Digistore24 also sends the buyer's country, email and name, which help matching and the ad platforms. " +
			"Its transaction types payment, refund and chargeback are read as approved, reversed and reversed (unverified).",
	},
	{
		ID:             PresetAffise,
		Name:           "Affise",
		LinkParam:      "sub1",
		MoreLinkParams: []string{"sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8"},
		Syntax:         SyntaxBraces,
		Macros: Macros{
			FieldClickID:       "{sub1}",
			FieldAmount:        "{sum}",
			FieldTransactionID: "{transactionid}",
			FieldCurrency:      "{currency}",
			FieldStatus:        "{status}",
		},
		StatusWords: map[string]Status{
			"1": StatusApproved,
			"2": StatusPending,
			"3": StatusRejected,
			"5": StatusPending, // hold
		},
		Postbacks: true,
		Notes:     "Statuses are codes: 1 approved, 2 pending, 3 declined, 5 hold (read as pending).",
	},
	{
		ID:        PresetMaxBounty,
		Name:      "MaxBounty",
		LinkParam: "s1",
		Syntax:    SyntaxHashes,
		Macros: Macros{
			FieldClickID:       "#S1#",
			FieldAmount:        "#RATE#",
			FieldTransactionID: "#LEADID#",
		},
		Unverified: []Field{FieldTransactionID},
		Postbacks:  true,
		Notes:      "No currency macro: the account's currency applies. #LEADID# is unverified: check it in MaxBounty's postback settings.",
	},
	{
		ID:             PresetClickBank,
		Name:           "ClickBank",
		LinkParam:      "tid",
		MoreLinkParams: []string{"extclid"},
		Postbacks:      false,
		Notes: "ClickBank reports sales as an encrypted JSON POST (Instant Notification Service), not a URL with macros: " +
			"this preset gives the link parameter only. Since 2024 extclid can carry the Click ID too.",
	},
	{
		ID:        PresetCJ,
		Name:      "CJ (Commission Junction)",
		LinkParam: "sid",
		Postbacks: false,
		Notes:     "CJ has no publisher postback: its conversions are pulled from its API. This preset gives the link parameter only.",
	},
}

// presetStatusWords holds each preset's StatusWords in loose form, by ID.
var presetStatusWords = func() map[string]map[string]Status {
	m := make(map[string]map[string]Status, len(catalog))
	for _, p := range catalog {
		m[p.ID] = looseStatusWords(p.StatusWords)
	}
	return m
}()

// Catalog returns every preset, CUSTOM first, then in the order of
// specs/networks.md. The presets are copies: changing them changes nothing
// here.
func Catalog() []Preset {
	out := make([]Preset, len(catalog))
	for i, p := range catalog {
		out[i] = p.clone()
	}
	return out
}

// LookupPreset returns the preset with the given ID (exact, upper case:
// IDs are stored values, not user input) and whether there is one.
func LookupPreset(id string) (Preset, bool) {
	for _, p := range catalog {
		if p.ID == id {
			return p.clone(), true
		}
	}
	return Preset{}, false
}

func (p Preset) clone() Preset {
	p.MoreLinkParams = slices.Clone(p.MoreLinkParams)
	p.Macros = maps.Clone(p.Macros)
	p.Unverified = slices.Clone(p.Unverified)
	p.StatusWords = maps.Clone(p.StatusWords)
	return p
}
