package destination

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	entdest "github.com/clickback/clickback/ent/destination"
)

// Kinds of destination, the values of PRODUCT.md.
const (
	KindMeta      = entdest.KindMETA
	KindGA4       = entdest.KindGA4
	KindGoogleAds = entdest.KindGOOGLE_ADS
	KindTikTok    = entdest.KindTIKTOK
)

// Setting names: the field names of the GraphQL inputs, and the keys of the
// settings JSON and of the sealed secrets.
const (
	PixelID            = "pixelID"
	AccessToken        = "accessToken"
	TestEventCode      = "testEventCode"
	MeasurementID      = "measurementID"
	APISecret          = "apiSecret"
	CustomerID         = "customerID"
	ConversionActionID = "conversionActionID"
	DeveloperToken     = "developerToken"
	ClientID           = "clientID"
	ClientSecret       = "clientSecret"
	RefreshToken       = "refreshToken"
	LoginCustomerID    = "loginCustomerID"
	PixelCode          = "pixelCode"
)

// secretsKey is the settings entry listing which secrets are set (comma
// separated), so the API can say so without opening them.
const secretsKey = "_secrets"

// field describes one setting of a kind.
type field struct {
	name     string
	secret   bool
	required bool
	// check validates a non-empty value; nil accepts any value of at most
	// maxSettingLen bytes.
	check func(string) error
}

// maxSettingLen bounds every setting: access tokens run to a few hundred
// bytes, nothing legitimate comes near this.
const maxSettingLen = 4096

var (
	digitsRE        = regexp.MustCompile(`^[0-9]{1,30}$`)
	measurementIDRE = regexp.MustCompile(`^G-[A-Z0-9]{4,20}$`)
	customerIDRE    = regexp.MustCompile(`^[0-9]{3}-?[0-9]{3}-?[0-9]{4}$`)
	pixelCodeRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)
)

func matches(re *regexp.Regexp, what string) func(string) error {
	return func(v string) error {
		if !re.MatchString(v) {
			return fmt.Errorf("is not %s", what)
		}
		return nil
	}
}

// fields lists each kind's settings, in the order errors name them.
var fields = map[entdest.Kind][]field{
	KindMeta: {
		{name: PixelID, required: true, check: matches(digitsRE, "a numeric Meta pixel (dataset) id")},
		{name: AccessToken, secret: true, required: true},
		{name: TestEventCode},
	},
	KindGA4: {
		{name: MeasurementID, required: true, check: matches(measurementIDRE, "a GA4 measurement id like G-ABC123")},
		{name: APISecret, secret: true, required: true},
	},
	KindGoogleAds: {
		{name: CustomerID, required: true, check: matches(customerIDRE, "a 10-digit Google Ads customer id")},
		{name: ConversionActionID, required: true, check: matches(digitsRE, "a numeric conversion action id")},
		{name: DeveloperToken, secret: true, required: true},
		{name: ClientID, required: true},
		{name: ClientSecret, secret: true, required: true},
		{name: RefreshToken, secret: true, required: true},
		{name: LoginCustomerID, check: matches(customerIDRE, "a 10-digit Google Ads manager account id")},
	},
	KindTikTok: {
		{name: PixelCode, required: true, check: matches(pixelCodeRE, "a TikTok pixel code")},
		{name: AccessToken, secret: true, required: true},
		{name: TestEventCode},
	},
}

// InputName is the GraphQL input field holding the settings of kind.
func InputName(k entdest.Kind) string {
	switch k {
	case KindMeta:
		return "meta"
	case KindGA4:
		return "ga4"
	case KindGoogleAds:
		return "googleAds"
	case KindTikTok:
		return "tiktok"
	}
	return strings.ToLower(string(k))
}

// applySettings merges the given values (nil: not given; "": clear) into
// the stored settings and secrets of a destination of kind k. With create,
// every required setting must end up set. It returns every problem found,
// so a person fixes them in one go.
func applySettings(k entdest.Kind, given map[string]*string, settings, secrets map[string]string, create bool) error {
	known := fields[k]
	var problems []string
	for name := range given {
		if !slices.ContainsFunc(known, func(f field) bool { return f.name == name }) {
			problems = append(problems, fmt.Sprintf("%s is not a setting of %s destinations", name, k))
		}
	}
	slices.Sort(problems)
	prefix := InputName(k) + "."
	for _, f := range known {
		p, ok := given[f.name]
		if ok && p != nil {
			v := strings.TrimSpace(*p)
			switch {
			case v == "" && f.required:
				problems = append(problems, prefix+f.name+" cannot be empty")
				continue
			case len(v) > maxSettingLen:
				problems = append(problems, fmt.Sprintf("%s%s is longer than %d bytes", prefix, f.name, maxSettingLen))
				continue
			case v != "" && f.check != nil:
				if err := f.check(v); err != nil {
					problems = append(problems, fmt.Sprintf("%s%s %v", prefix, f.name, err))
					continue
				}
			}
			target := settings
			if f.secret {
				target = secrets
			}
			if v == "" {
				delete(target, f.name)
			} else {
				target[f.name] = v
			}
		}
		if create && f.required {
			have := settings[f.name]
			if f.secret {
				have = secrets[f.name]
			}
			if have == "" {
				problems = append(problems, prefix+f.name+" is required")
			}
		}
	}
	if len(problems) > 0 {
		return inputErr("%s", strings.Join(problems, "; "))
	}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) > 0 {
		settings[secretsKey] = strings.Join(names, ",")
	} else {
		delete(settings, secretsKey)
	}
	return nil
}

// Setting returns a non-secret setting of a destination; "" when unset.
// Asking for a secret's name returns "" too: secrets are not settings.
func Setting(settings map[string]string, name string) string {
	if name == secretsKey {
		return ""
	}
	return settings[name]
}

// HasSecret reports whether the destination has the secret name set,
// without opening anything.
func HasSecret(settings map[string]string, name string) bool {
	return slices.Contains(strings.Split(settings[secretsKey], ","), name)
}
