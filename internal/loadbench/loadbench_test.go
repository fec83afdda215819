package loadbench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/internal/pgtest"
)

// TestBenchShort runs the bench for a moment — the baseline and clickback,
// collect and tag at once, on PostgreSQL, and on SQLite — so that the
// baseline, the tag mode and the report never rot.
func TestBenchShort(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"postgres", "sqlite"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if spec == "postgres" {
				spec = pgtest.URL(t)
			}
			d, err := OpenDatabase(ctx, spec)
			require.NoError(t, err)
			defer d.Close()
			rows, err := Run(ctx, d, Options{Mode: "both", Duration: time.Second, Concurrency: 8, Baseline: true})
			require.NoError(t, err)
			want := 2
			if d.URL != "" {
				want = 4
			}
			require.Len(t, rows, want)
			for _, r := range rows {
				require.Positive(t, r.Result.Acked, "%s %s", r.Target, r.Load)
				require.Zero(t, r.Result.Refused+r.Result.Errors, "%s %s: %s", r.Target, r.Load, r.Result.FirstError)
				require.True(t, strings.HasPrefix(r.Stored, "ok"), "%s %s: %s", r.Target, r.Load, r.Stored)
				if d.URL != "" && r.Target == "clickback" {
					require.Positive(t, r.Ratio)
				}
			}
			var buf bytes.Buffer
			Report(&buf, Machine(), "go run ./cmd/loadgen report", "", rows)
			require.Contains(t, buf.String(), "| clickback |")
			t.Log("\n" + buf.String())
		})
	}
}

// TestPaced checks the fixed-rate mode keeps to its rate. It has workers
// to spare: on a busy machine a commit can take a few hundred ms, and
// with 8 workers all waiting on answers the due requests fell behind.
func TestPaced(t *testing.T) {
	t.Parallel()
	d, err := OpenDatabase(context.Background(), "sqlite")
	require.NoError(t, err)
	defer d.Close()
	rows, err := Run(context.Background(), d, Options{Mode: "collect", Duration: 2 * time.Second, Concurrency: 64, Rate: 100})
	require.NoError(t, err)
	require.InDelta(t, 200, rows[0].Result.Acked, 10)
}
