package secretbox

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func keyOf(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestNew(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		current, previous []byte
		wantErr           string
	}{
		"current only":       {current: keyOf(1)},
		"with previous":      {current: keyOf(1), previous: keyOf(2)},
		"previous same":      {current: keyOf(1), previous: keyOf(1)},
		"short current":      {current: []byte("short"), wantErr: "encryption key: must be 32 bytes"},
		"long current":       {current: make([]byte, 33), wantErr: "must be 32 bytes, got 33"},
		"short previous":     {current: keyOf(1), previous: []byte("x"), wantErr: "previous encryption key"},
		"empty current":      {current: nil, wantErr: "got 0"},
		"previous but empty": {current: keyOf(1), previous: []byte{}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := New(tt.current, tt.previous)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, KeyID(tt.current), b.KeyID())
		})
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	old, err := New(keyOf(1), nil)
	require.NoError(t, err)
	rotated, err := New(keyOf(2), keyOf(1))
	require.NoError(t, err)
	other, err := New(keyOf(3), nil)
	require.NoError(t, err)

	secret := []byte(`{"accessToken":"EAAB-very-secret"}`)
	sealedOld, oldID, err := old.Seal(secret, []byte("dst_1"))
	require.NoError(t, err)
	sealedNew, newID, err := rotated.Seal(secret, []byte("dst_1"))
	require.NoError(t, err)
	require.NotEqual(t, oldID, newID)
	require.False(t, bytes.Contains(sealedOld, secret))

	damaged := bytes.Clone(sealedNew)
	damaged[len(damaged)-1] ^= 1
	badVersion := bytes.Clone(sealedNew)
	badVersion[0] = 9

	for name, tt := range map[string]struct {
		box    *Box
		ct     []byte
		keyID  string
		ad     string
		want   []byte
		wantIs error
	}{
		"current key":               {box: rotated, ct: sealedNew, keyID: newID, ad: "dst_1", want: secret},
		"previous key after rotate": {box: rotated, ct: sealedOld, keyID: oldID, ad: "dst_1", want: secret},
		"old box, new key":          {box: old, ct: sealedNew, keyID: newID, ad: "dst_1", wantIs: ErrUnknownKey},
		"unrelated box":             {box: other, ct: sealedOld, keyID: oldID, ad: "dst_1", wantIs: ErrUnknownKey},
		"other row (swapped)":       {box: rotated, ct: sealedNew, keyID: newID, ad: "dst_2", wantIs: ErrDecrypt},
		"no associated data":        {box: rotated, ct: sealedNew, keyID: newID, ad: "", wantIs: ErrDecrypt},
		"tampered":                  {box: rotated, ct: damaged, keyID: newID, ad: "dst_1", wantIs: ErrDecrypt},
		"unknown version":           {box: rotated, ct: badVersion, keyID: newID, ad: "dst_1", wantIs: ErrDecrypt},
		"truncated":                 {box: rotated, ct: sealedNew[:10], keyID: newID, ad: "dst_1", wantIs: ErrDecrypt},
		"empty":                     {box: rotated, ct: nil, keyID: newID, ad: "dst_1", wantIs: ErrDecrypt},
		"key id lies about the key": {box: rotated, ct: sealedOld, keyID: newID, ad: "dst_1", wantIs: ErrDecrypt},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.box.Open(tt.ct, tt.keyID, []byte(tt.ad))
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.True(t, rotated.Stale(oldID))
	require.False(t, rotated.Stale(newID))
}

func TestSealIsRandomized(t *testing.T) {
	t.Parallel()
	b, err := New(keyOf(1), nil)
	require.NoError(t, err)
	a1, _, err := b.Seal([]byte("same"), []byte("dst_1"))
	require.NoError(t, err)
	a2, _, err := b.Seal([]byte("same"), []byte("dst_1"))
	require.NoError(t, err)
	require.NotEqual(t, a1, a2, "a fresh nonce per seal")
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	id := KeyID(keyOf(1))
	require.Len(t, id, 16)
	require.Equal(t, id, KeyID(keyOf(1)))
	require.NotEqual(t, id, KeyID(keyOf(2)))
	require.NotContains(t, id, "0101010101")
}
