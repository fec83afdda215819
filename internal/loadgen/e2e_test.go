package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/internal/loadbench"
	"github.com/clickback/clickback/internal/loadgen"
)

// TestE2ESmoke runs the end-to-end mode for a few seconds on SQLite: every
// acknowledged postback must reach each of the four fake platforms exactly
// once, and the figures must be filled in.
func TestE2ESmoke(t *testing.T) {
	ctx := context.Background()
	p := loadgen.StartPlatforms()
	defer p.Close()
	d, err := loadbench.OpenDatabase(ctx, "sqlite")
	require.NoError(t, err)
	defer d.Close()
	var conf config.Config
	cb, err := loadbench.StartClickback(ctx, d.DB, loadbench.ServerOptions{WorkJobs: true, Config: func(c *config.Config) {
		c.Platforms = p.URLs
		conf = *c
	}})
	require.NoError(t, err)
	defer cb.Close()
	require.NoError(t, loadgen.CreateDestinations(ctx, d.DB, conf, cb.AccountID, p))

	res, err := loadgen.E2E(ctx, loadgen.E2EConfig{
		TagURL: cb.TagURL, PostbackURL: cb.CollectURL, Platforms: p,
		Concurrency: 8, Conversions: 200, Rate: 200, Settle: 30 * time.Second,
	})
	require.NoError(t, err)
	t.Log(res)
	require.EqualValues(t, 200, res.Visits)
	require.EqualValues(t, 200, res.Postbacks.Acked)
	require.True(t, res.OK(), "%s", res)
	require.Positive(t, res.ForwardedPerSecond())
	require.Positive(t, res.P50)
	require.GreaterOrEqual(t, res.P99, res.P50)
	// The fakes agree: each has each conversion once.
	for name, counts := range map[string]map[string]int{"META": p.Meta.CountByEventID(), "TIKTOK": p.TikTok.CountByEventID(), "GOOGLE_ADS": p.Ads.CountByEventID()} {
		require.Len(t, counts, 200, name)
		for id, n := range counts {
			require.Equal(t, 1, n, "%s %s", name, id)
		}
	}
	require.Len(t, p.GA4.Events(), 200)

	_, err = loadgen.E2E(ctx, loadgen.E2EConfig{TagURL: cb.TagURL, PostbackURL: "http://127.0.0.1/no-macros", Platforms: p})
	require.Error(t, err)
}
