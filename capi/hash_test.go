package capi

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSpecVectors checks every test vector of specs/capi.md §0.2: the
// normalised form and its SHA-256.
func TestSpecVectors(t *testing.T) {
	t.Parallel()

	us := func(f func(string, string) string) func(string) string {
		return func(s string) string { return f(s, "US") }
	}
	tests := []struct {
		name       string
		raw        string
		normalize  func(string) string
		normalized string
		hash       string
	}{
		{"meta em", "John_Smith@gmail.com", NormalizeEmail, "john_smith@gmail.com", "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"},
		{"meta ph", "(650)555-1212", us(MetaPhone), "16505551212", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"},
		{"meta fn", "Mary", NormalizeName, "mary", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"},
		{"meta fn utf-8", "Valéry", NormalizeName, "valéry", "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"},
		{"meta db", "2/16/1997", NormalizeDateOfBirth, "19970216", "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"},
		{"meta country", "United States", NormalizeCountry, "us", "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"},
		{"meta zp", "94035-1234", us(NormalizeZip), "94035", "1794327a4d443904421f5ca1f3d72d0a62ba2f0770d80755ec2220fc0efb052e"},
		{"meta st", "CA", us(NormalizeState), "ca", "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"},
		{"google phone", "(650) 555-1212", us(NormalizePhone), "+16505551212", "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"},
		{"tiktok phone", "(650) 555-1212", us(TikTokPhone), "+16505551212", "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"},
		{"snap em", "Person@Example.com", NormalizeEmail, "person@example.com", "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"},
		{"snap ph", "+44 844 412 4653", us(MetaPhone), "448444124653", "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.normalized, tt.normalize(tt.raw))
			require.Equal(t, tt.hash, Hash(tt.normalized))
			require.Equal(t, tt.hash, hashWith(tt.raw, tt.normalize))
		})
	}
}

func TestHash(t *testing.T) {
	t.Parallel()

	digest := "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty stays empty", "", ""},
		{"empty-string digest is never sent", EmptyHash, ""},
		{"digest passes through", digest, digest},
		{"value is hashed", "john_smith@gmail.com", digest},
		{"uppercase hex is a value like any other", strings.ToUpper(digest), sha256Hex(strings.ToUpper(digest))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Hash(tt.in))
		})
	}
}

func TestHashWith(t *testing.T) {
	t.Parallel()

	digest := "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
	phone := func(s string) string { return MetaPhone(s, "US") }
	tests := []struct {
		name      string
		raw       string
		normalize func(string) string
		want      string
	}{
		{"missing value is omitted", "", NormalizeEmail, ""},
		{"value normalising to nothing is omitted", "not an email", NormalizeEmail, ""},
		{"phone without digits is omitted", "n/a", phone, ""},
		{"already hashed is not hashed twice", digest, NormalizeEmail, digest},
		{"already hashed survives a normaliser that would mangle it", digest, phone, digest},
		{"uppercase digest from a caller is lowercased, not rehashed", " " + strings.ToUpper(digest) + " ", phone, digest},
		{"empty-string digest from a caller is dropped", EmptyHash, NormalizeEmail, ""},
		{"raw value is normalised then hashed", "  John_Smith@GMAIL.com ", NormalizeEmail, digest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, hashWith(tt.raw, tt.normalize))
		})
	}
}

func TestIsHashed(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want bool
	}{
		{EmptyHash, true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("A", 64), false},
		{strings.Repeat("a", 63), false},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("g", 64), false},
		{"", false},
		{"5d41402abc4b2a76b9719d911017c592", false}, // MD5 is not SHA-256
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, IsHashed(tt.in))
		})
	}
}

// sha256Hex is an independent SHA-256 for expectations.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
