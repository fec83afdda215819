package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/viewer"
)

// The report rollups are hourly aggregates of the immutable part of the
// data, kept by the report rollup job (jobs/rollup.go) so that reports over
// millions of visits read thousands of rows. They are read by raw SQL in the
// report package, which adds the account filter itself; through ent only
// the system may touch them.

// systemOnlyPolicy lets only the system read or write a schema.
func systemOnlyPolicy() ent.Policy {
	rule := privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v, ok := viewer.FromContext(ctx); ok && v.IsSystem() {
			return privacy.Allow
		}
		return privacy.Denyf("system only")
	})
	return privacy.Policy{Query: privacy.QueryPolicy{rule}, Mutation: privacy.MutationPolicy{rule}}
}

// ClickRollup counts the visits (clicks) and outbound clicks of one UTC hour
// of an account, per property, UTM source, medium and campaign, and — in
// the rows with pages set — landing page (without its query string). Each
// hour is rolled up twice, with and without pages: landing pages multiply
// the rows, and most reports do not ask for them. A third set of rows
// (minutes 15) counts each quarter hour, without UTM or pages, for the
// time zones whose offset is not a whole number of hours; day rows
// (minutes 1440, with and without pages) sum each complete UTC day, for
// reports without a time dimension.
type ClickRollup struct{ ent.Schema }

// Mixin of the ClickRollup.
func (ClickRollup) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rlc")} }

// Fields of the ClickRollup.
func (ClickRollup) Fields() []ent.Field {
	return []ent.Field{
		field.String("account_id").Immutable(),
		field.Int64("hour").Comment("Unix seconds of the start of the UTC hour.").Immutable(),
		field.String("property_id").Immutable(),
		field.String("utm_source").Default("").Immutable(),
		field.String("utm_medium").Default("").Immutable(),
		field.String("utm_campaign").Default("").Immutable(),
		field.Bool("pages").Comment("Whether the rows are per landing page.").Default(false).Immutable(),
		field.Int("minutes").Comment("The length of the row's time bucket: 60, 15 for the quarter-hour rows, 1440 for the day rows.").Default(60).Immutable(),
		field.String("landing_page").Default("").Immutable(),
		field.Int64("clicks").Default(0).Immutable(),
		field.Int64("outbound_clicks").Default(0).Immutable(),
	}
}

// Indexes of the ClickRollup: a report reads one set of rows (pages,
// minutes) over a range of hours.
func (ClickRollup) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "pages", "minutes", "hour")}
}

// Annotations of the ClickRollup.
func (ClickRollup) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ClickRollup.
func (ClickRollup) Policy() ent.Policy { return systemOnlyPolicy() }

// ConversionRollup counts the conversions and deliveries of one UTC hour of
// an account (by received time), at one of three levels of detail: level 0
// per integration, event name and original currency; level 1 also per
// property and the UTM source, medium and campaign of the attribution
// snapshot; level 2 also per landing page (without its query string).
// Level 3 is level 0 per quarter hour (hour and click_hour then hold the
// quarter's start), for the time zones whose offset is not a whole number
// of hours. Levels 4 to 6 are levels 0 to 2 per complete UTC day (hour
// and click_hour then hold the day's start), for reports without a time
// dimension. Each
// row also holds the UTC hour of the matched click (-1 without one), so
// that reports by click time read the same rows. Rows with a
// destination_id count deliveries to that destination (their conversions,
// revenue, and how many were sent or failed); rows without count
// conversions. Test conversions, duplicates and invalid ones are not
// counted.
//
// Conversions and deliveries change after their hour (a late match, a
// delivery sent or failed): the rollup job recomputes the hours of every
// conversion and delivery updated since its last run.
type ConversionRollup struct{ ent.Schema }

// Mixin of the ConversionRollup.
func (ConversionRollup) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rlv")} }

// Fields of the ConversionRollup.
func (ConversionRollup) Fields() []ent.Field {
	return []ent.Field{
		field.String("account_id").Immutable(),
		field.Int64("hour").Comment("Unix seconds of the start of the UTC hour the conversions were received in.").Immutable(),
		field.Int64("click_hour").Comment("Unix seconds of the start of the UTC hour of the matched click; -1 when unmatched.").Default(-1).Immutable(),
		field.Int("level").Comment("0: per integration, event name and currency; 1: also per property and UTM; 2: also per landing page; 3: as 0, per quarter hour; 4 to 6: as 0 to 2, per UTC day.").Default(0).Immutable(),
		field.String("integration_id").Immutable(),
		field.String("event_name").Default("").Immutable(),
		field.String("currency").Default("").Immutable(),
		field.String("property_id").Default("").Immutable(),
		field.String("utm_source").Default("").Immutable(),
		field.String("utm_medium").Default("").Immutable(),
		field.String("utm_campaign").Default("").Immutable(),
		field.String("landing_page").Default("").Immutable(),
		field.String("destination_id").Comment("Set on the rows that count deliveries.").Default("").Immutable(),
		field.Int64("conversions").Default(0).Immutable(),
		field.Int64("leads").Default(0).Immutable(),
		field.Int64("purchases").Default(0).Immutable(),
		field.Int64("amount_micros").Default(0).Immutable(),
		field.Int64("deliveries_sent").Default(0).Immutable(),
		field.Int64("deliveries_failed").Default(0).Immutable(),
	}
}

// Indexes of the ConversionRollup: by received hour and by click hour.
func (ConversionRollup) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "level", "hour"),
		index.Fields("account_id", "level", "click_hour"),
	}
}

// Annotations of the ConversionRollup.
func (ConversionRollup) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ConversionRollup.
func (ConversionRollup) Policy() ent.Policy { return systemOnlyPolicy() }

// RollupState is how far the rollups go: every hour before sealed_through
// is rolled up, for every account; reports read later hours raw. A second
// row (name suffixed ".changes") holds, in sealed_through, the updated_at
// (unix seconds) from which the job looks for changed conversions and
// deliveries.
type RollupState struct{ ent.Schema }

// Mixin of the RollupState.
func (RollupState) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rls")} }

// Fields of the RollupState.
func (RollupState) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty(),
		field.Int64("sealed_through").Comment("Unix seconds; 0 before the first run.").Default(0),
	}
}

// Annotations of the RollupState.
func (RollupState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the RollupState.
func (RollupState) Policy() ent.Policy { return systemOnlyPolicy() }

// ExchangeRate is the operator's rate of one currency: how many units of it
// one US dollar buys. Reports convert revenue into the account's currency
// with these rates; conversions keep their original amount and currency.
type ExchangeRate struct{ ent.Schema }

// Mixin of the ExchangeRate.
func (ExchangeRate) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("fxr"), TimeMixin{}}
}

// Fields of the ExchangeRate.
func (ExchangeRate) Fields() []ent.Field {
	return []ent.Field{
		field.String("currency").Unique().MinLen(3).MaxLen(3),
		field.Float("per_usd").Positive(),
	}
}

// Annotations of the ExchangeRate.
func (ExchangeRate) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)}
}

// Policy of the ExchangeRate: anyone signed in reads the rates; only the
// system writes them (the operator's mutation and the rates file).
func (ExchangeRate) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{denyWithoutViewer()},
		Mutation: privacy.MutationPolicy{privacy.ContextQueryMutationRule(func(ctx context.Context) error {
			if v, _ := viewer.FromContext(ctx); v.IsSystem() {
				return privacy.Allow
			}
			return privacy.Denyf("exchange rates are set by the operator")
		})},
	}
}
