package graph

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/clickback/clickback/ent"
	entintegration "github.com/clickback/clickback/ent/integration"
	"github.com/clickback/clickback/graph/model"
	"github.com/clickback/clickback/integration"
	"github.com/clickback/clickback/postback"
)

// createInput converts the API's create input for the integration package.
func createInput(in model.CreateIntegrationInput) integration.Input {
	out := integration.Input{
		Name:     &in.Name,
		Slug:     in.Slug,
		LoginURL: in.LoginURL,
		Macros: macroInputs(in.ClickIDMacro, in.PayoutMacro, in.TransactionIDMacro,
			in.CurrencyMacro, in.StatusMacro, in.EventMacro),
		AttributeMacros: fieldMacros(in.AttributeMacros),
		ParamMappings:   paramMappings(in.ParamMappings),
		StatusMappings:  statusMappings(in.StatusMappings),
		IPAllowlist:     in.IPAllowlist,
		Enabled:         in.Enabled,
	}
	if in.Network != nil {
		n := string(*in.Network)
		out.Network = &n
	}
	return out
}

// updateInput converts the API's update input for the integration package.
func updateInput(in model.UpdateIntegrationInput) integration.Input {
	out := integration.Input{
		Name:     in.Name,
		Slug:     in.Slug,
		LoginURL: in.LoginURL,
		Macros: macroInputs(in.ClickIDMacro, in.PayoutMacro, in.TransactionIDMacro,
			in.CurrencyMacro, in.StatusMacro, in.EventMacro),
		AttributeMacros: fieldMacros(in.AttributeMacros),
		ParamMappings:   paramMappings(in.ParamMappings),
		StatusMappings:  statusMappings(in.StatusMappings),
		IPAllowlist:     in.IPAllowlist,
		Enabled:         in.Enabled,
	}
	if in.Network != nil {
		n := string(*in.Network)
		out.Network = &n
	}
	return out
}

func macroInputs(clickID, payout, txID, currency, status, event *string) map[postback.Field]*string {
	return map[postback.Field]*string{
		postback.FieldClickID: clickID, postback.FieldAmount: payout,
		postback.FieldTransactionID: txID, postback.FieldCurrency: currency,
		postback.FieldStatus: status, postback.FieldEvent: event,
	}
}

// The list inputs become maps; nil (not given) stays nil, an empty list an
// empty map, which clears the mapping.
func fieldMacros(in []*model.FieldMacroInput) map[string]string {
	if in == nil {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, f := range in {
		m[strings.TrimSpace(f.Field)] = strings.TrimSpace(f.Macro)
	}
	return m
}

func paramMappings(in []*model.ParamMappingInput) map[string]string {
	if in == nil {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, p := range in {
		m[strings.TrimSpace(p.Name)] = strings.TrimSpace(p.Field)
	}
	return m
}

func statusMappings(in []*model.StatusMappingInput) map[string]string {
	if in == nil {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, s := range in {
		m[strings.TrimSpace(s.Word)] = strings.TrimSpace(s.Status)
	}
	return m
}

// forgetOnCommit drops the collect endpoint's cached lookups of the
// viewer's account once the mutation's transaction commits (at once when
// there is none), so that the next postback sees the change.
func (r *Resolver) forgetOnCommit(ctx context.Context, accountID string) {
	if r.Collector == nil {
		return
	}
	tx := ent.TxFromContext(ctx)
	if tx == nil {
		r.Collector.Forget(accountID)
		return
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			r.Collector.Forget(accountID)
			return err
		})
	})
}

// saved returns a function that passes on the result of a change to an
// integration, forgetting the cached lookups of its account.
func (r *Resolver) saved(ctx context.Context) func(*ent.Integration, error) (*ent.Integration, error) {
	return func(it *ent.Integration, err error) (*ent.Integration, error) {
		if err != nil {
			return nil, err
		}
		r.forgetOnCommit(ctx, it.AccountID)
		return it, nil
	}
}

// postbackURL builds the integration's postback URL with its account's key.
func (r *Resolver) postbackURL(ctx context.Context, it *ent.Integration) (string, error) {
	acc, err := ent.FromContext(ctx).Account.Get(ctx, it.AccountID)
	if err != nil {
		return "", err
	}
	return integration.PostbackURL(r.PublicURL, acc.Key, it)
}

func sortedPairs[T any](m map[string]string, mk func(k, v string) T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, mk(k, m[k]))
	}
	return out
}

func nameValues(m map[string]string) []*model.NameValue {
	return sortedPairs(m, func(k, v string) *model.NameValue { return &model.NameValue{Name: k, Value: v} })
}

// catalog is the network catalog for the API.
func catalog() []*model.NetworkPreset {
	var out []*model.NetworkPreset
	for _, p := range postback.Catalog() {
		np := &model.NetworkPreset{
			Network:             entintegration.Network(p.ID),
			Name:                p.Name,
			LinkParam:           p.LinkParam,
			MoreLinkParams:      append([]string{}, p.MoreLinkParams...),
			MacroSyntax:         string(p.Syntax),
			CaseSensitiveMacros: p.CaseSensitiveMacros,
			SuccessBody:         p.SuccessBody,
			Postbacks:           p.Postbacks,
			Notes:               p.Notes,
			UnverifiedFields:    []string{},
			Macros:              []*model.FieldMacro{},
			StatusWords:         []*model.StatusMapping{},
		}
		for _, f := range postback.Fields() {
			if m, ok := p.Macros[f]; ok {
				np.Macros = append(np.Macros, &model.FieldMacro{Field: string(f), Macro: m})
			}
		}
		for _, f := range p.Unverified {
			np.UnverifiedFields = append(np.UnverifiedFields, string(f))
		}
		words := make(map[string]string, len(p.StatusWords))
		for w, s := range p.StatusWords {
			words[w] = string(s)
		}
		np.StatusWords = sortedPairs(words, func(k, v string) *model.StatusMapping { return &model.StatusMapping{Word: k, Status: v} })
		out = append(out, np)
	}
	return out
}

// amountFloat is micro-units as a float, for display; amountDecimal is exact.
func amountFloat(micros int64) float64 { return float64(micros) / postback.MicrosPerUnit }

// now is the resolvers' clock.
var now = time.Now
