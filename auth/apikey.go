package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// APIKeyPrefix starts every API key, so that a key pasted where it should
// not be is recognisable (and findable by secret scanners).
const APIKeyPrefix = "cbk_"

// NewAPIKey returns a fresh API key and the hash to store for it.
func NewAPIKey() (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate api key: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), nil
}

// HashAPIKey returns the stored form of an API key: keys have 256 random
// bits, so a fast hash is enough and lets lookups be an index probe.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IsAPIKey reports whether a bearer token looks like an API key rather
// than a JWT.
func IsAPIKey(token string) bool { return strings.HasPrefix(token, APIKeyPrefix) }

// APIKeyDisplayPrefix is what is kept of a key to tell it apart in lists.
func APIKeyDisplayPrefix(key string) string {
	if len(key) > len(APIKeyPrefix)+6 {
		return key[:len(APIKeyPrefix)+6]
	}
	return key
}
