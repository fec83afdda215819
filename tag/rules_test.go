package tag

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeAutoTagRules(t *testing.T) {
	t.Parallel()
	got, err := NormalizeAutoTagRules([]AutoTagRule{
		{Domain: " Network.Example. ", Param: "sub1"},
		{Domain: "*.deep.network.example", Param: "aff_sub"},
		{Domain: ".network.example", Param: "dup"},
	})
	require.NoError(t, err)
	require.Equal(t, []AutoTagRule{
		{Domain: "deep.network.example", Param: "aff_sub"},
		{Domain: "network.example", Param: "sub1"},
	}, got)

	got, err = NormalizeAutoTagRules(nil)
	require.NoError(t, err)
	require.Empty(t, got)

	for _, bad := range []AutoTagRule{
		{Domain: "n.example/x", Param: "s"},
		{Domain: "", Param: "s"},
		{Domain: "n.example", Param: ""},
		{Domain: "n.example", Param: "a b"},
	} {
		_, err := NormalizeAutoTagRules([]AutoTagRule{bad})
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", bad)
	}
}
