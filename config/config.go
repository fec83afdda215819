// Package config turns the environment into a typed Config, with the
// defaults of the embedded mode: SQLite in the data folder, secrets generated
// into it on first start and kept there.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is clickback's whole configuration. Every field comes from an
// environment variable of PRODUCT.md; none is settable by a tenant.
type Config struct {
	// Addr is the listen address (CLICKBACK_ADDR, default ":8080").
	Addr string
	// DataDir holds the SQLite database and generated secrets
	// (CLICKBACK_DATA_DIR, default "./data").
	DataDir string
	// DatabaseURL selects PostgreSQL when it starts with postgres:// or
	// postgresql:// (DATABASE_URL); empty means the embedded SQLite.
	DatabaseURL string
	// PublicURL is the base of generated URLs: postback URLs, tag snippets
	// (CLICKBACK_PUBLIC_URL, default "http://localhost:8080"), without a
	// trailing slash.
	PublicURL string
	// JWTSecret signs session tokens (CLICKBACK_JWT_SECRET; generated into
	// the data folder when unset).
	JWTSecret []byte
	// EncryptionKey seals destination credentials (CLICKBACK_ENCRYPTION_KEY,
	// 32 bytes as base64 or hex; generated into the data folder when unset).
	EncryptionKey []byte
	// EncryptionKeyPrevious still opens credentials sealed before a key
	// rotation (CLICKBACK_ENCRYPTION_KEY_PREVIOUS, optional, 32 bytes as
	// base64 or hex); they are sealed again with EncryptionKey when next
	// used.
	EncryptionKeyPrevious []byte
	// LateClickWait is how long an unmatched conversion waits for its click
	// before it becomes NO_MATCH (CLICKBACK_LATE_CLICK_WAIT, default 10m).
	LateClickWait time.Duration
	// Platforms are the ad platforms' API base URLs, for staging and tests.
	Platforms Platforms
	// Introspection enables GraphQL schema introspection
	// (CLICKBACK_GRAPHQL_INTROSPECTION, default true).
	Introspection bool
	// DeliveryRetryBase is the first wait before a failed delivery is
	// retried; later waits grow from it (see jobs.ForwardWorker)
	// (CLICKBACK_DELIVERY_RETRY_BASE, for tests that watch retries happen
	// and a retry budget run out). Zero means the production default.
	DeliveryRetryBase time.Duration
	// JobTimeout cancels a River job running longer than it
	// (CLICKBACK_JOB_TIMEOUT, default 1m); JobRescueAfter is how long a job
	// whose process died stays running before it is rescued and run again
	// (CLICKBACK_JOB_RESCUE_AFTER, default 2m, at least JobTimeout). Zero
	// means the default (jobs.JobTimeout, jobs.RescueAfter).
	JobTimeout, JobRescueAfter time.Duration
}

// Platforms holds the operator's ad platform API base URLs.
type Platforms struct {
	MetaURL        string // CLICKBACK_META_API_URL
	GA4URL         string // CLICKBACK_GA4_API_URL
	GoogleAdsURL   string // CLICKBACK_GOOGLE_ADS_API_URL
	GoogleOAuthURL string // CLICKBACK_GOOGLE_OAUTH_URL
	TikTokURL      string // CLICKBACK_TIKTOK_API_URL
	// Timeout bounds one platform request (CLICKBACK_PLATFORM_TIMEOUT, for
	// tests of slow platforms); zero means the production default
	// (destination.ClientsFor).
	Timeout time.Duration
}

// Postgres reports whether the configuration selects PostgreSQL.
func (c Config) Postgres() bool { return c.DatabaseURL != "" }

// SQLitePath is the embedded database file.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "clickback.db") }

// Load reads the configuration from the environment, creating the data
// folder and any missing generated secret in it.
func Load() (Config, error) { return load(os.Getenv) }

func load(getenv func(string) string) (Config, error) {
	get := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Addr:        get("CLICKBACK_ADDR", ":8080"),
		DataDir:     get("CLICKBACK_DATA_DIR", "./data"),
		DatabaseURL: get("DATABASE_URL", ""),
		PublicURL:   strings.TrimRight(get("CLICKBACK_PUBLIC_URL", "http://localhost:8080"), "/"),
		Platforms: Platforms{
			MetaURL:        get("CLICKBACK_META_API_URL", "https://graph.facebook.com"),
			GA4URL:         get("CLICKBACK_GA4_API_URL", "https://www.google-analytics.com"),
			GoogleAdsURL:   get("CLICKBACK_GOOGLE_ADS_API_URL", "https://googleads.googleapis.com"),
			GoogleOAuthURL: get("CLICKBACK_GOOGLE_OAUTH_URL", "https://oauth2.googleapis.com"),
			TikTokURL:      get("CLICKBACK_TIKTOK_API_URL", "https://business-api.tiktok.com"),
		},
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return c, errors.New("DATABASE_URL must start with postgres:// or postgresql://")
	}
	for name, raw := range map[string]string{
		"CLICKBACK_PUBLIC_URL":         c.PublicURL,
		"CLICKBACK_META_API_URL":       c.Platforms.MetaURL,
		"CLICKBACK_GA4_API_URL":        c.Platforms.GA4URL,
		"CLICKBACK_GOOGLE_ADS_API_URL": c.Platforms.GoogleAdsURL,
		"CLICKBACK_GOOGLE_OAUTH_URL":   c.Platforms.GoogleOAuthURL,
		"CLICKBACK_TIKTOK_API_URL":     c.Platforms.TikTokURL,
	} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("%s must be an http(s) URL, not %q", name, raw)
		}
	}
	var err error
	if c.LateClickWait, err = time.ParseDuration(get("CLICKBACK_LATE_CLICK_WAIT", "10m")); err != nil || c.LateClickWait < 0 {
		return c, fmt.Errorf("CLICKBACK_LATE_CLICK_WAIT must be a Go duration such as 10m: %q", getenv("CLICKBACK_LATE_CLICK_WAIT"))
	}
	if c.JobTimeout, err = time.ParseDuration(get("CLICKBACK_JOB_TIMEOUT", "1m")); err != nil || c.JobTimeout <= 0 {
		return c, fmt.Errorf("CLICKBACK_JOB_TIMEOUT must be a positive Go duration such as 1m: %q", getenv("CLICKBACK_JOB_TIMEOUT"))
	}
	if c.JobRescueAfter, err = time.ParseDuration(get("CLICKBACK_JOB_RESCUE_AFTER", "2m")); err != nil || c.JobRescueAfter < c.JobTimeout {
		return c, fmt.Errorf("CLICKBACK_JOB_RESCUE_AFTER must be a Go duration such as 2m, at least CLICKBACK_JOB_TIMEOUT: %q", getenv("CLICKBACK_JOB_RESCUE_AFTER"))
	}
	if raw := get("CLICKBACK_DELIVERY_RETRY_BASE", ""); raw != "" {
		if c.DeliveryRetryBase, err = time.ParseDuration(raw); err != nil || c.DeliveryRetryBase <= 0 {
			return c, fmt.Errorf("CLICKBACK_DELIVERY_RETRY_BASE must be a positive Go duration such as 30s: %q", raw)
		}
	}
	if raw := get("CLICKBACK_PLATFORM_TIMEOUT", ""); raw != "" {
		if c.Platforms.Timeout, err = time.ParseDuration(raw); err != nil || c.Platforms.Timeout <= 0 {
			return c, fmt.Errorf("CLICKBACK_PLATFORM_TIMEOUT must be a positive Go duration such as 20s: %q", raw)
		}
	}
	switch get("CLICKBACK_GRAPHQL_INTROSPECTION", "true") {
	case "true", "1", "yes":
		c.Introspection = true
	case "false", "0", "no":
	default:
		return c, errors.New("CLICKBACK_GRAPHQL_INTROSPECTION must be true or false")
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return c, fmt.Errorf("create data folder: %w", err)
	}
	if c.JWTSecret, err = secret(getenv("CLICKBACK_JWT_SECRET"), filepath.Join(c.DataDir, "jwt.secret"), 32); err != nil {
		return c, fmt.Errorf("CLICKBACK_JWT_SECRET: %w", err)
	}
	if c.EncryptionKey, err = secret(getenv("CLICKBACK_ENCRYPTION_KEY"), filepath.Join(c.DataDir, "encryption.key"), 32); err != nil {
		return c, fmt.Errorf("CLICKBACK_ENCRYPTION_KEY: %w", err)
	}
	if len(c.EncryptionKey) != 32 {
		return c, fmt.Errorf("CLICKBACK_ENCRYPTION_KEY must be 32 bytes (base64 or hex), got %d", len(c.EncryptionKey))
	}
	if prev := strings.TrimSpace(getenv("CLICKBACK_ENCRYPTION_KEY_PREVIOUS")); prev != "" {
		if c.EncryptionKeyPrevious = decode(prev); len(c.EncryptionKeyPrevious) != 32 {
			return c, fmt.Errorf("CLICKBACK_ENCRYPTION_KEY_PREVIOUS must be 32 bytes (base64 or hex), got %d", len(c.EncryptionKeyPrevious))
		}
	}
	return c, nil
}

// secret returns the value given in the environment, else the one kept in
// file, else a new random one of n bytes written to file. Values are base64
// (standard or URL, padded or not) or hex (tried first); anything else is taken as raw
// bytes, which suits a JWT secret but not an encryption key.
func secret(env, file string, n int) ([]byte, error) {
	if env != "" {
		return decode(env), nil
	}
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
		return decode(strings.TrimSpace(string(b))), nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	// O_EXCL: two processes starting at once must not write different
	// secrets; the loser reads the winner's.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return secret("", file, n)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := f.WriteString(enc + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", file, err)
	}
	return raw, nil
}

func decode(s string) []byte {
	if b, err := hex.DecodeString(s); err == nil && len(b) >= 16 {
		return b
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) >= 16 {
			return b
		}
	}
	return []byte(s)
}
