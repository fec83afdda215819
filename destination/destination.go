package destination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"entgo.io/ent/privacy"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/delivery"
	entdest "github.com/clickback/clickback/ent/destination"
	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/secretbox"
	"github.com/clickback/clickback/viewer"
)

// Service holds what managing and using destinations needs: the key that
// seals credentials and the platform clients.
type Service struct {
	Box     *secretbox.Box
	Clients *Clients
}

// NewService returns the Service of a configuration: its encryption keys
// and the process's shared clients for its platform URLs.
func NewService(cfg config.Config) (*Service, error) {
	box, err := secretbox.New(cfg.EncryptionKey, cfg.EncryptionKeyPrevious)
	if err != nil {
		return nil, err
	}
	return &Service{Box: box, Clients: ClientsFor(cfg.Platforms)}, nil
}

// Input creates or updates a destination. Nil fields are left as they are
// (create fills in defaults).
type Input struct {
	Name *string
	// Kind is required by Create and ignored by Update (it is immutable).
	Kind entdest.Kind
	// Settings holds the nested settings inputs that were given, by the
	// kind they belong to; within one, a nil value is a setting not given
	// and "" clears an optional one.
	Settings map[entdest.Kind]map[string]*string
	Enabled  *bool
	// Rules replaces the destination's own event mapping when not nil.
	Rules *[]Rule
}

// ErrCredentials means a destination's credentials cannot be opened: they
// were sealed with a key that is no longer configured, or damaged. A person
// must enter them again.
var ErrCredentials = errors.New("the destination's credentials cannot be decrypted: enter them again (was CLICKBACK_ENCRYPTION_KEY changed without CLICKBACK_ENCRYPTION_KEY_PREVIOUS?)")

func inputErr(format string, args ...any) error {
	return &auth.InputError{Msg: fmt.Sprintf(format, args...)}
}

// Create adds a destination to the viewer's account. The settings of its
// kind are required, those of any other kind refused.
func (s *Service) Create(ctx context.Context, client *ent.Client, in Input) (*ent.Destination, error) {
	if entdest.KindValidator(in.Kind) != nil {
		return nil, inputErr("kind must be META, GA4, GOOGLE_ADS or TIKTOK")
	}
	name, err := cleanName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := onlyKind(in.Kind, in.Settings, true); err != nil {
		return nil, err
	}
	settings, secrets := map[string]string{}, map[string]string{}
	if err := applySettings(in.Kind, in.Settings[in.Kind], settings, secrets, true); err != nil {
		return nil, err
	}
	own := map[string]string{}
	if in.Rules != nil {
		if own, err = normalizeRules(in.Kind, *in.Rules); err != nil {
			return nil, err
		}
	}
	id := pulid.New("dst")
	sealed, keyID, err := s.seal(id, secrets)
	if err != nil {
		return nil, err
	}
	create := client.Destination.Create().
		SetID(id).
		SetName(name).
		SetKind(in.Kind).
		SetSettings(settings).
		SetCredentials(sealed).
		SetKeyID(keyID).
		SetEventMapping(own)
	if in.Enabled != nil {
		create.SetEnabled(*in.Enabled)
	}
	return create.Save(ctx)
}

// Update changes a destination of the viewer's account. Given secrets
// replace the stored ones; all of them are sealed again with the current
// key, which is how a key rotation reaches a destination.
func (s *Service) Update(ctx context.Context, client *ent.Client, id string, in Input) (*ent.Destination, error) {
	d, err := client.Destination.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	upd := client.Destination.UpdateOne(d)
	if in.Name != nil {
		name, err := cleanName(in.Name)
		if err != nil {
			return nil, err
		}
		upd.SetName(name)
	}
	if in.Enabled != nil {
		upd.SetEnabled(*in.Enabled)
	}
	if in.Rules != nil {
		own, err := normalizeRules(d.Kind, *in.Rules)
		if err != nil {
			return nil, err
		}
		upd.SetEventMapping(own)
	}
	if err := onlyKind(d.Kind, in.Settings, false); err != nil {
		return nil, err
	}
	if given, ok := in.Settings[d.Kind]; ok {
		secrets, err := s.open(d)
		if err != nil && !errors.Is(err, ErrCredentials) {
			return nil, err
		}
		// Credentials that cannot be opened any more are replaced by what
		// is given; create's rule then says which are still missing.
		lost := err != nil
		settings := maps.Clone(d.Settings)
		if settings == nil {
			settings = map[string]string{}
		}
		if err := applySettings(d.Kind, given, settings, secrets, lost); err != nil {
			return nil, err
		}
		sealed, keyID, err := s.seal(d.ID, secrets)
		if err != nil {
			return nil, err
		}
		upd.SetSettings(settings).SetCredentials(sealed).SetKeyID(keyID)
	}
	return upd.Save(ctx)
}

// Delete removes a destination and its deliveries. Forward jobs still
// queued for them find nothing and end.
func Delete(ctx context.Context, client *ent.Client, id string) error {
	d, err := client.Destination.Get(ctx, id)
	if err != nil {
		return err
	}
	if _, err := client.Delivery.Delete().Where(delivery.DestinationID(d.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("delete deliveries: %w", err)
	}
	return client.Destination.DeleteOne(d).Exec(ctx)
}

// onlyKind refuses settings inputs of another kind than k; with create,
// the input of k is required.
func onlyKind(k entdest.Kind, given map[entdest.Kind]map[string]*string, create bool) error {
	var wrong []string
	for other := range given {
		if other != k {
			wrong = append(wrong, InputName(other))
		}
	}
	if len(wrong) > 0 {
		return inputErr("a %s destination takes only the %s settings, not %s", k, InputName(k), strings.Join(wrong, ", "))
	}
	if _, ok := given[k]; create && !ok {
		return inputErr("a %s destination needs its %s settings", k, InputName(k))
	}
	return nil
}

func cleanName(p *string) (string, error) {
	if p == nil || strings.TrimSpace(*p) == "" {
		return "", inputErr("name is required")
	}
	name := strings.TrimSpace(*p)
	if len(name) > 200 {
		return "", inputErr("name is longer than 200 bytes")
	}
	return name, nil
}

// seal encrypts a destination's secrets, bound to its id.
func (s *Service) seal(id string, secrets map[string]string) ([]byte, string, error) {
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, "", fmt.Errorf("encode credentials: %w", err)
	}
	return s.Box.Seal(plain, []byte(id))
}

// open decrypts a destination's secrets. A destination without any opens
// to an empty map.
func (s *Service) open(d *ent.Destination) (map[string]string, error) {
	secrets := map[string]string{}
	if len(d.Credentials) == 0 {
		return secrets, nil
	}
	plain, err := s.Box.Open(d.Credentials, d.KeyID, []byte(d.ID))
	if err != nil {
		return secrets, fmt.Errorf("%w (%v)", ErrCredentials, err)
	}
	if err := json.Unmarshal(plain, &secrets); err != nil {
		return map[string]string{}, fmt.Errorf("%w (%v)", ErrCredentials, err)
	}
	return secrets, nil
}

// Credentials are a destination's settings and secrets in capi's terms,
// for one request. They never leave the process except in that request.
type Credentials struct {
	Kind      entdest.Kind
	Meta      capi.MetaCredentials
	GA4       capi.GA4Credentials
	GoogleAds capi.GoogleAdsCredentials
	TikTok    capi.TikTokCredentials
}

// Open returns the credentials of d for sending.
func (s *Service) Open(d *ent.Destination) (Credentials, error) {
	sec, err := s.open(d)
	if err != nil {
		return Credentials{}, err
	}
	set := d.Settings
	c := Credentials{Kind: d.Kind}
	switch d.Kind {
	case KindMeta:
		c.Meta = capi.MetaCredentials{PixelID: set[PixelID], AccessToken: sec[AccessToken], TestEventCode: set[TestEventCode]}
	case KindGA4:
		c.GA4 = capi.GA4Credentials{MeasurementID: set[MeasurementID], APISecret: sec[APISecret]}
	case KindGoogleAds:
		c.GoogleAds = capi.GoogleAdsCredentials{
			CustomerID: set[CustomerID], ConversionActionID: set[ConversionActionID],
			DeveloperToken: sec[DeveloperToken], ClientID: set[ClientID], ClientSecret: sec[ClientSecret],
			RefreshToken: sec[RefreshToken], LoginCustomerID: set[LoginCustomerID],
		}
	case KindTikTok:
		c.TikTok = capi.TikTokCredentials{PixelCode: set[PixelCode], AccessToken: sec[AccessToken], TestEventCode: set[TestEventCode]}
	}
	return c, nil
}

// Stale reports whether d's credentials were sealed with a previous key.
func (s *Service) Stale(d *ent.Destination) bool {
	return len(d.Credentials) > 0 && s.Box.Stale(d.KeyID)
}

// Reseal seals d's credentials again with the current key, after a key
// rotation. The update is conditional on the old ciphertext, so a
// concurrent change of the credentials wins.
func (s *Service) Reseal(ctx context.Context, client *ent.Client, d *ent.Destination) error {
	secrets, err := s.open(d)
	if err != nil {
		return err
	}
	sealed, keyID, err := s.seal(d.ID, secrets)
	if err != nil {
		return err
	}
	return client.Destination.Update().
		Where(entdest.ID(d.ID), entdest.KeyID(d.KeyID)).
		SetCredentials(sealed).
		SetKeyID(keyID).
		Exec(ctx)
}

// WithTestEventCode returns c with the test event code replaced, for the
// platforms that have one (Meta, TikTok).
func (c Credentials) WithTestEventCode(code string) Credentials {
	c.Meta.TestEventCode = code
	c.TikTok.TestEventCode = code
	return c
}

// Test sends a test event to the destination id and returns what the
// platform answered. testEventCode, when not nil, replaces the
// destination's test event code for this test. It needs the ADMIN role:
// it spends the tenant's platform quota.
func (s *Service) Test(ctx context.Context, client *ent.Client, id string, testEventCode *string, now time.Time) (capi.TestReport, error) {
	if v, _ := viewer.FromContext(ctx); !v.Can(viewer.RoleAdmin) {
		return capi.TestReport{}, privacy.Denyf("testing a destination needs the ADMIN role")
	}
	d, err := client.Destination.Get(ctx, id)
	if err != nil {
		return capi.TestReport{}, err
	}
	creds, err := s.Open(d)
	if err != nil {
		return capi.TestReport{}, inputErr("%v", err)
	}
	if testEventCode != nil {
		creds = creds.WithTestEventCode(strings.TrimSpace(*testEventCode))
	}
	name, _, _ := Map(d.Kind, d.EventMapping, "Purchase")
	if name == "" {
		name, _, _ = Map(d.Kind, nil, "Purchase")
	}
	if d.Kind == KindGoogleAds && digitsRE.MatchString(name) {
		creds.GoogleAds.ConversionActionID = name
	}
	ev := capi.Event{
		EventID:   "clickback-test-" + strings.ToLower(pulid.New("t")[2:]),
		EventName: name,
		Time:      now,
		Value:     1_000_000,
		Currency:  "USD",
		SourceURL: "https://example.com/clickback-test",
		ClientIP:  "203.0.113.7",
		UserAgent: "Mozilla/5.0 (clickback destination test)",
		User:      capi.UserData{Email: "test@example.com", Country: "US"},
	}
	return s.Clients.Test(ctx, creds, ev), nil
}
