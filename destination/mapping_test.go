package destination

import (
	"testing"

	"github.com/stretchr/testify/require"

	entdest "github.com/clickback/clickback/ent/destination"
)

func TestMap(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		kind    entdest.Kind
		own     map[string]string
		event   string
		want    string
		skipped string
	}{
		"meta purchase":           {kind: KindMeta, event: "Purchase", want: "Purchase"},
		"meta lead":               {kind: KindMeta, event: "Lead", want: "Lead"},
		"ga4 purchase":            {kind: KindGA4, event: "Purchase", want: "purchase"},
		"ga4 lead":                {kind: KindGA4, event: "Lead", want: "generate_lead"},
		"tiktok purchase":         {kind: KindTikTok, event: "Purchase", want: "Purchase"},
		"tiktok lead":             {kind: KindTikTok, event: "Lead", want: "Lead"},
		"google ads uploads both": {kind: KindGoogleAds, event: "Lead", want: GoogleAdsUpload},
		"case does not matter":    {kind: KindGA4, event: "purchase", want: "purchase"},
		"custom unmapped":         {kind: KindMeta, event: "Sale", skipped: `no event mapping for "Sale"`},
		"custom mapped":           {kind: KindMeta, own: map[string]string{"Sale": "Purchase"}, event: "Sale", want: "Purchase"},
		"custom mapped any case":  {kind: KindMeta, own: map[string]string{"sale": "Purchase"}, event: "SALE", want: "Purchase"},
		"own rule overrides":      {kind: KindTikTok, own: map[string]string{"Purchase": "CompletePayment"}, event: "Purchase", want: "CompletePayment"},
		"own rule skips default":  {kind: KindGoogleAds, own: map[string]string{"Lead": ""}, event: "Lead", skipped: `skips "Lead"`},
		"other conversion action": {kind: KindGoogleAds, own: map[string]string{"Trial": "555"}, event: "Trial", want: "555"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok, why := Map(tt.kind, tt.own, tt.event)
			if tt.skipped != "" {
				require.False(t, ok)
				require.Empty(t, got)
				require.Contains(t, why, tt.skipped)
				return
			}
			require.True(t, ok, why)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeRules(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		kind    entdest.Kind
		rules   []Rule
		want    map[string]string
		wantErr string
	}{
		"trimmed":           {kind: KindMeta, rules: []Rule{{Event: " Sale ", PlatformEvent: " Purchase "}}, want: map[string]string{"Sale": "Purchase"}},
		"skip":              {kind: KindMeta, rules: []Rule{{Event: "Lead"}}, want: map[string]string{"Lead": ""}},
		"twice":             {kind: KindMeta, rules: []Rule{{Event: "Sale", PlatformEvent: "A"}, {Event: "sale", PlatformEvent: "B"}}, wantErr: "mapped twice"},
		"empty event":       {kind: KindMeta, rules: []Rule{{Event: " ", PlatformEvent: "A"}}, wantErr: "1 to 128 printable"},
		"ga4 bad name":      {kind: KindGA4, rules: []Rule{{Event: "Sale", PlatformEvent: "bad-name"}}, wantErr: "start with a letter"},
		"ga4 reserved":      {kind: KindGA4, rules: []Rule{{Event: "Sale", PlatformEvent: "first_open"}}, wantErr: "reserved by GA4"},
		"ga4 prefix":        {kind: KindGA4, rules: []Rule{{Event: "Sale", PlatformEvent: "google_sale"}}, wantErr: "reserved by GA4"},
		"ga4 ok":            {kind: KindGA4, rules: []Rule{{Event: "Sale", PlatformEvent: "purchase"}}, want: map[string]string{"Sale": "purchase"}},
		"ads upload":        {kind: KindGoogleAds, rules: []Rule{{Event: "Sale", PlatformEvent: "upload"}}, want: map[string]string{"Sale": "upload"}},
		"ads other action":  {kind: KindGoogleAds, rules: []Rule{{Event: "Sale", PlatformEvent: "123"}}, want: map[string]string{"Sale": "123"}},
		"ads name":          {kind: KindGoogleAds, rules: []Rule{{Event: "Sale", PlatformEvent: "Purchase"}}, wantErr: "map an event to UPLOAD"},
		"control character": {kind: KindTikTok, rules: []Rule{{Event: "Sale", PlatformEvent: "a\nb"}}, wantErr: "printable"},
		"every problem":     {kind: KindGA4, rules: []Rule{{Event: "A", PlatformEvent: "1x"}, {Event: "B", PlatformEvent: "error"}}, wantErr: `event "A"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeRules(tt.kind, tt.rules)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := normalizeRules(KindMeta, make([]Rule, maxRules+1))
	require.ErrorContains(t, err, "at most 100")
}

func TestRules(t *testing.T) {
	t.Parallel()
	got := Rules(KindGA4, map[string]string{"Sale": "purchase", "lead": ""})
	require.Equal(t, []Rule{
		{Event: "lead", PlatformEvent: ""},
		{Event: "Purchase", PlatformEvent: "purchase", Default: true},
		{Event: "Sale", PlatformEvent: "purchase"},
	}, got)
}

func TestApplySettings(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for name, tt := range map[string]struct {
		kind         entdest.Kind
		given        map[string]*string
		create       bool
		wantSettings map[string]string
		wantSecrets  map[string]string
		wantErr      string
	}{
		"meta create": {kind: KindMeta, create: true,
			given:        map[string]*string{PixelID: s(" 123 "), AccessToken: s("tok"), TestEventCode: nil},
			wantSettings: map[string]string{PixelID: "123", secretsKey: AccessToken}, wantSecrets: map[string]string{AccessToken: "tok"}},
		"meta missing token": {kind: KindMeta, create: true, given: map[string]*string{PixelID: s("123")}, wantErr: "meta.accessToken is required"},
		"meta bad pixel":     {kind: KindMeta, create: true, given: map[string]*string{PixelID: s("px"), AccessToken: s("t")}, wantErr: "meta.pixelID is not a numeric"},
		"ga4 bad id":         {kind: KindGA4, create: true, given: map[string]*string{MeasurementID: s("UA-1"), APISecret: s("x")}, wantErr: "G-ABC123"},
		"unknown setting":    {kind: KindGA4, create: true, given: map[string]*string{"pixelID": s("1"), MeasurementID: s("G-ABCD12"), APISecret: s("x")}, wantErr: "pixelID is not a setting of GA4"},
		"required emptied":   {kind: KindTikTok, given: map[string]*string{AccessToken: s("")}, wantErr: "tiktok.accessToken cannot be empty"},
		"optional cleared": {kind: KindTikTok, given: map[string]*string{TestEventCode: s("")},
			wantSettings: map[string]string{PixelCode: "CPIX1234", secretsKey: AccessToken}, wantSecrets: map[string]string{AccessToken: "old"}},
		"google ads all": {kind: KindGoogleAds, create: true, given: map[string]*string{
			CustomerID: s("123-456-7890"), ConversionActionID: s("42"), DeveloperToken: s("d"), ClientID: s("c"),
			ClientSecret: s("cs"), RefreshToken: s("r"), LoginCustomerID: s("9999999999"),
		}, wantSettings: map[string]string{CustomerID: "123-456-7890", ConversionActionID: "42", ClientID: "c", LoginCustomerID: "9999999999",
			secretsKey: "clientSecret,developerToken,refreshToken"},
			wantSecrets: map[string]string{DeveloperToken: "d", ClientSecret: "cs", RefreshToken: "r"}},
		"google ads many problems": {kind: KindGoogleAds, create: true, given: map[string]*string{CustomerID: s("12")},
			wantErr: "googleAds.customerID is not a 10-digit Google Ads customer id; googleAds.conversionActionID is required"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			settings, secrets := map[string]string{}, map[string]string{}
			if !tt.create {
				settings = map[string]string{PixelCode: "CPIX1234", TestEventCode: "T1", secretsKey: AccessToken}
				secrets = map[string]string{AccessToken: "old"}
			}
			err := applySettings(tt.kind, tt.given, settings, secrets, tt.create)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantSettings, settings)
			require.Equal(t, tt.wantSecrets, secrets)
			require.Empty(t, Setting(settings, secretsKey), "the list of secrets is not a setting")
			for name := range secrets {
				require.True(t, HasSecret(settings, name))
			}
		})
	}
}
