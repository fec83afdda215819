package graph

import (
	"context"
	"errors"
	"time"

	"github.com/clickback/clickback/destination"
	"github.com/clickback/clickback/ent"
	entdest "github.com/clickback/clickback/ent/destination"
	"github.com/clickback/clickback/graph/model"
)

// errNoDestinations is returned when the server was built without a
// destination service (a Config without a valid encryption key).
var errNoDestinations = errors.New("destinations are unavailable: the server has no valid encryption key")

func (r *Resolver) destinations() (*destination.Service, error) {
	if r.Destinations == nil {
		return nil, errNoDestinations
	}
	return r.Destinations, nil
}

// destinationInput converts the API's inputs for the destination package.
func destinationInput(name *string, kind entdest.Kind, enabled *bool, rules []*model.EventMappingInput,
	meta *model.MetaDestinationInput, ga4 *model.GA4DestinationInput,
	ads *model.GoogleAdsDestinationInput, tiktok *model.TikTokDestinationInput) destination.Input {
	in := destination.Input{Name: name, Kind: kind, Enabled: enabled, Settings: map[entdest.Kind]map[string]*string{}}
	if meta != nil {
		in.Settings[destination.KindMeta] = map[string]*string{
			destination.PixelID: meta.PixelID, destination.AccessToken: meta.AccessToken, destination.TestEventCode: meta.TestEventCode,
		}
	}
	if ga4 != nil {
		in.Settings[destination.KindGA4] = map[string]*string{
			destination.MeasurementID: ga4.MeasurementID, destination.APISecret: ga4.APISecret,
		}
	}
	if ads != nil {
		in.Settings[destination.KindGoogleAds] = map[string]*string{
			destination.CustomerID: ads.CustomerID, destination.ConversionActionID: ads.ConversionActionID,
			destination.DeveloperToken: ads.DeveloperToken, destination.ClientID: ads.ClientID,
			destination.ClientSecret: ads.ClientSecret, destination.RefreshToken: ads.RefreshToken,
			destination.LoginCustomerID: ads.LoginCustomerID,
		}
	}
	if tiktok != nil {
		in.Settings[destination.KindTikTok] = map[string]*string{
			destination.PixelCode: tiktok.PixelCode, destination.AccessToken: tiktok.AccessToken, destination.TestEventCode: tiktok.TestEventCode,
		}
	}
	if rules != nil {
		out := make([]destination.Rule, 0, len(rules))
		for _, r := range rules {
			rule := destination.Rule{Event: r.Event}
			if r.PlatformEvent != nil {
				rule.PlatformEvent = *r.PlatformEvent
			}
			out = append(out, rule)
		}
		in.Rules = &out
	}
	return in
}

// optional is nil for "", the API's null for an unset optional setting.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func metaSettings(d *ent.Destination) *model.MetaDestinationSettings {
	if d.Kind != destination.KindMeta {
		return nil
	}
	return &model.MetaDestinationSettings{
		PixelID:        destination.Setting(d.Settings, destination.PixelID),
		TestEventCode:  optional(destination.Setting(d.Settings, destination.TestEventCode)),
		HasAccessToken: destination.HasSecret(d.Settings, destination.AccessToken),
	}
}

func ga4Settings(d *ent.Destination) *model.GA4DestinationSettings {
	if d.Kind != destination.KindGA4 {
		return nil
	}
	return &model.GA4DestinationSettings{
		MeasurementID: destination.Setting(d.Settings, destination.MeasurementID),
		HasAPISecret:  destination.HasSecret(d.Settings, destination.APISecret),
	}
}

func googleAdsSettings(d *ent.Destination) *model.GoogleAdsDestinationSettings {
	if d.Kind != destination.KindGoogleAds {
		return nil
	}
	return &model.GoogleAdsDestinationSettings{
		CustomerID:         destination.Setting(d.Settings, destination.CustomerID),
		ConversionActionID: destination.Setting(d.Settings, destination.ConversionActionID),
		ClientID:           destination.Setting(d.Settings, destination.ClientID),
		LoginCustomerID:    optional(destination.Setting(d.Settings, destination.LoginCustomerID)),
		HasDeveloperToken:  destination.HasSecret(d.Settings, destination.DeveloperToken),
		HasClientSecret:    destination.HasSecret(d.Settings, destination.ClientSecret),
		HasRefreshToken:    destination.HasSecret(d.Settings, destination.RefreshToken),
	}
}

func tiktokSettings(d *ent.Destination) *model.TikTokDestinationSettings {
	if d.Kind != destination.KindTikTok {
		return nil
	}
	return &model.TikTokDestinationSettings{
		PixelCode:      destination.Setting(d.Settings, destination.PixelCode),
		TestEventCode:  optional(destination.Setting(d.Settings, destination.TestEventCode)),
		HasAccessToken: destination.HasSecret(d.Settings, destination.AccessToken),
	}
}

func eventMapping(d *ent.Destination) []*model.EventMapping {
	rules := destination.Rules(d.Kind, d.EventMapping)
	out := make([]*model.EventMapping, 0, len(rules))
	for _, r := range rules {
		out = append(out, &model.EventMapping{Event: r.Event, PlatformEvent: optional(r.PlatformEvent), Default: r.Default})
	}
	return out
}

func attemptLog(d *ent.Delivery) []*model.DeliveryAttempt {
	out := make([]*model.DeliveryAttempt, 0, len(d.AttemptLog))
	for _, a := range d.AttemptLog {
		out = append(out, &model.DeliveryAttempt{At: a.At, StatusCode: a.StatusCode, Response: a.Response, Error: optional(a.Error)})
	}
	return out
}

// testDestination runs destination.Service.Test and presents the report.
func (r *Resolver) testDestination(ctx context.Context, id string, testEventCode *string) (*model.DestinationTestResult, error) {
	svc, err := r.destinations()
	if err != nil {
		return nil, err
	}
	rep, err := svc.Test(ctx, ent.FromContext(ctx), id, testEventCode, time.Now())
	if err != nil {
		return nil, err
	}
	msgs := rep.Messages
	if msgs == nil {
		msgs = []string{}
	}
	return &model.DestinationTestResult{Ok: rep.OK, Summary: rep.Summary, Messages: msgs, StatusCode: rep.StatusCode, Response: rep.Response}, nil
}
