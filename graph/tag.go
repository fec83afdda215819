package graph

import (
	"context"
	"errors"
	"strings"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/schema/schematype"
	"github.com/clickback/clickback/graph/model"
	"github.com/clickback/clickback/tag"
)

// autoTagRules are a property's stored rules as the API shows them.
func autoTagRules(p *ent.Property) []*model.AutoTagRule {
	out := make([]*model.AutoTagRule, len(p.AutotagRules))
	for i, r := range p.AutotagRules {
		out[i] = &model.AutoTagRule{Domain: r.Domain, Param: r.Param}
	}
	return out
}

// setAutoTagRules checks and normalises rules (tag.NormalizeAutoTagRules) and
// stores them, so that a stored rule can never break the property's tag.
func setAutoTagRules(ctx context.Context, propertyID string, in []*model.AutoTagRuleInput) (*ent.Property, error) {
	rules := make([]tag.AutoTagRule, len(in))
	for i, r := range in {
		rules[i] = tag.AutoTagRule{Domain: r.Domain, Param: r.Param}
	}
	norm, err := tag.NormalizeAutoTagRules(rules)
	if err != nil {
		if errors.Is(err, tag.ErrInvalidConfig) {
			return nil, &auth.InputError{Msg: strings.TrimPrefix(err.Error(), tag.ErrInvalidConfig.Error()+": ")}
		}
		return nil, err
	}
	stored := make([]schematype.AutoTagRule, len(norm))
	for i, r := range norm {
		stored[i] = schematype.AutoTagRule{Domain: r.Domain, Param: r.Param}
	}
	return ent.FromContext(ctx).Property.UpdateOneID(propertyID).SetAutotagRules(stored).Save(ctx)
}
