package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/report"
	"github.com/clickback/clickback/viewer"
)

func TestLoadRatesFile(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite3")
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	require.NoError(t, report.LoadRatesFile(ctx, db.Ent, write("ok.json", `{"EUR": 0.92, "gbp": 0.79}`)))
	r, err := report.LoadRates(viewer.SystemContext(ctx, ""), db.Ent)
	require.NoError(t, err)
	require.Equal(t, report.Rates{"EUR": 0.92, "GBP": 0.79}, r)
	for name, content := range map[string]string{
		"list.json":     `[1, 2]`,
		"negative.json": `{"EUR": -1}`,
		"unknown.json":  `{"ABC": 1}`,
		"huge.json":     `{"EUR": 1, "x": "` + strings.Repeat("x", 2<<20) + `"}`,
	} {
		require.Error(t, report.LoadRatesFile(ctx, db.Ent, write(name, content)), name)
	}
	require.Error(t, report.LoadRatesFile(ctx, db.Ent, filepath.Join(dir, "missing.json")))
}
