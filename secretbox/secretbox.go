// Package secretbox seals small secrets — the ad platform credentials of a
// Destination — with AES-256-GCM for storage in the database.
//
// Every ciphertext is stored next to the id of the key that sealed it
// (KeyID), so the operator can rotate CLICKBACK_ENCRYPTION_KEY: the new key
// seals, the previous one (CLICKBACK_ENCRYPTION_KEY_PREVIOUS) still opens
// what it sealed until those rows are sealed again. Callers bind each
// ciphertext to its row with associated data (the row's id): a ciphertext
// copied into another row does not open there, so one tenant's credentials
// cannot be moved under another tenant's destination by someone who can
// write the table but does not hold the key.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// version is the first byte of every ciphertext, so that the format can
// change without guessing.
const version byte = 1

// Errors Open returns. Neither says anything about the plaintext.
var (
	// ErrUnknownKey means the ciphertext was sealed by a key the Box does
	// not hold: the operator rotated twice, or lost the key.
	ErrUnknownKey = errors.New("secretbox: sealed with a key that is not configured")
	// ErrDecrypt means the ciphertext is damaged, was sealed for other
	// associated data (another row), or the key id is wrong.
	ErrDecrypt = errors.New("secretbox: cannot decrypt")
)

// Box seals with its current key and opens with the current or the
// previous one. It is safe for concurrent use.
type Box struct {
	current  key
	previous *key
}

type key struct {
	id   string
	aead cipher.AEAD
}

// New returns a Box sealing with current (32 bytes) and also opening what
// previous sealed, when previous is not empty.
func New(current, previous []byte) (*Box, error) {
	c, err := newKey(current)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	b := &Box{current: c}
	if len(previous) > 0 {
		p, err := newKey(previous)
		if err != nil {
			return nil, fmt.Errorf("previous encryption key: %w", err)
		}
		if p.id != c.id {
			b.previous = &p
		}
	}
	return b, nil
}

func newKey(k []byte) (key, error) {
	if len(k) != KeySize {
		return key{}, fmt.Errorf("must be %d bytes, got %d", KeySize, len(k))
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	return key{id: KeyID(k), aead: aead}, nil
}

// KeyID returns the public id of a key: 16 hex characters of an HMAC of a
// fixed label under the key. It identifies the key without revealing
// anything about it.
func KeyID(k []byte) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("clickback secretbox key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// KeyID is the id of the key Seal uses.
func (b *Box) KeyID() string { return b.current.id }

// Seal encrypts plaintext under the current key, bound to ad, and returns
// the ciphertext (version, random nonce, sealed data) and the key's id, to
// be stored together.
func (b *Box) Seal(plaintext, ad []byte) (ciphertext []byte, keyID string, err error) {
	a := b.current.aead
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plaintext)+a.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, "", fmt.Errorf("secretbox: nonce: %w", err)
	}
	return a.Seal(out, out[1:], plaintext, ad), b.current.id, nil
}

// Open decrypts a ciphertext Seal returned with keyID and the same ad.
func (b *Box) Open(ciphertext []byte, keyID string, ad []byte) ([]byte, error) {
	var k *key
	switch {
	case keyID == b.current.id:
		k = &b.current
	case b.previous != nil && keyID == b.previous.id:
		k = b.previous
	default:
		return nil, ErrUnknownKey
	}
	n := k.aead.NonceSize()
	if len(ciphertext) < 1+n+k.aead.Overhead() || ciphertext[0] != version {
		return nil, ErrDecrypt
	}
	pt, err := k.aead.Open(nil, ciphertext[1:1+n], ciphertext[1+n:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Stale reports whether keyID is not the current key: the secret should be
// sealed again with it (after a rotation).
func (b *Box) Stale(keyID string) bool { return keyID != b.current.id }
