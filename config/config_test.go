package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := load(env(map[string]string{"CLICKBACK_DATA_DIR": dir}))
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "http://localhost:8080", c.PublicURL)
	require.Equal(t, 10*time.Minute, c.LateClickWait)
	require.Equal(t, time.Minute, c.JobTimeout)
	require.Equal(t, 2*time.Minute, c.JobRescueAfter)
	require.Zero(t, c.DeliveryRetryBase)
	require.Zero(t, c.Platforms.Timeout)
	require.False(t, c.Postgres())
	require.Equal(t, filepath.Join(dir, "clickback.db"), c.SQLitePath())
	require.Len(t, c.JWTSecret, 32)
	require.Len(t, c.EncryptionKey, 32)
	require.True(t, c.Introspection)
	require.Equal(t, "https://graph.facebook.com", c.Platforms.MetaURL)

	// Generated secrets are kept in the data folder and reused.
	again, err := load(env(map[string]string{"CLICKBACK_DATA_DIR": dir}))
	require.NoError(t, err)
	require.Equal(t, c.JWTSecret, again.JWTSecret)
	require.Equal(t, c.EncryptionKey, again.EncryptionKey)
	info, err := os.Stat(filepath.Join(dir, "jwt.secret"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{1}, 32)
	c, err := load(env(map[string]string{
		"CLICKBACK_DATA_DIR":                t.TempDir(),
		"CLICKBACK_ADDR":                    "127.0.0.1:9000",
		"DATABASE_URL":                      "postgres://u:p@db/clickback",
		"CLICKBACK_PUBLIC_URL":              "https://t.example.com/",
		"CLICKBACK_JWT_SECRET":              "a passphrase the operator chose",
		"CLICKBACK_ENCRYPTION_KEY":          "0101010101010101010101010101010101010101010101010101010101010101",
		"CLICKBACK_LATE_CLICK_WAIT":         "90s",
		"CLICKBACK_JOB_TIMEOUT":             "10s",
		"CLICKBACK_JOB_RESCUE_AFTER":        "15s",
		"CLICKBACK_DELIVERY_RETRY_BASE":     "50ms",
		"CLICKBACK_PLATFORM_TIMEOUT":        "2s",
		"CLICKBACK_ENCRYPTION_KEY_PREVIOUS": "0202020202020202020202020202020202020202020202020202020202020202",
		"CLICKBACK_META_API_URL":            "http://127.0.0.1:1234",
	}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9000", c.Addr)
	require.True(t, c.Postgres())
	require.Equal(t, "https://t.example.com", c.PublicURL)
	require.Equal(t, []byte("a passphrase the operator chose"), c.JWTSecret)
	require.Equal(t, key, c.EncryptionKey)
	require.Equal(t, bytes.Repeat([]byte{2}, 32), c.EncryptionKeyPrevious)
	require.Equal(t, 90*time.Second, c.LateClickWait)
	require.Equal(t, 10*time.Second, c.JobTimeout)
	require.Equal(t, 15*time.Second, c.JobRescueAfter)
	require.Equal(t, 50*time.Millisecond, c.DeliveryRetryBase)
	require.Equal(t, 2*time.Second, c.Platforms.Timeout)
	require.Equal(t, "http://127.0.0.1:1234", c.Platforms.MetaURL)
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct{ key, value, want string }{
		"database":    {"DATABASE_URL", "mysql://x", "DATABASE_URL must start with postgres://"},
		"public url":  {"CLICKBACK_PUBLIC_URL", "localhost:8080", "CLICKBACK_PUBLIC_URL must be an http(s) URL"},
		"api url":     {"CLICKBACK_TIKTOK_API_URL", "ftp://x", "CLICKBACK_TIKTOK_API_URL must be an http(s) URL"},
		"wait":        {"CLICKBACK_LATE_CLICK_WAIT", "10 minutes", "CLICKBACK_LATE_CLICK_WAIT must be a Go duration"},
		"job timeout": {"CLICKBACK_JOB_TIMEOUT", "0s", "CLICKBACK_JOB_TIMEOUT must be a positive Go duration"},
		"rescue":      {"CLICKBACK_JOB_RESCUE_AFTER", "30s", "at least CLICKBACK_JOB_TIMEOUT"},
		"retry base":  {"CLICKBACK_DELIVERY_RETRY_BASE", "-1s", "CLICKBACK_DELIVERY_RETRY_BASE must be a positive Go duration"},
		"platform":    {"CLICKBACK_PLATFORM_TIMEOUT", "soon", "CLICKBACK_PLATFORM_TIMEOUT must be a positive Go duration"},
		"key size":    {"CLICKBACK_ENCRYPTION_KEY", "c2hvcnQga2V5IHNob3J0IGtleQ==", "must be 32 bytes"},
		"previous":    {"CLICKBACK_ENCRYPTION_KEY_PREVIOUS", "c2hvcnQga2V5IHNob3J0IGtleQ==", "CLICKBACK_ENCRYPTION_KEY_PREVIOUS must be 32 bytes"},
		"flag":        {"CLICKBACK_GRAPHQL_INTROSPECTION", "maybe", "must be true or false"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := load(env(map[string]string{"CLICKBACK_DATA_DIR": t.TempDir(), tt.key: tt.value}))
			require.ErrorContains(t, err, tt.want)
		})
	}
}
