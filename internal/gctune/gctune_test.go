package gctune

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	for _, tc := range []struct {
		name            string
		gogc, memlimit  string // "" unset
		limit           int64
		wantGC          int
		wantLimit       int64
		wantGCPercentIs int
	}{
		{"defaults", "", "", MemoryLimit, GCPercent, MemoryLimit, GCPercent},
		{"no limit asked", "", "", 0, GCPercent, -1, GCPercent},
		{"operator's GOGC wins", "150", "", MemoryLimit, -1, MemoryLimit, 100},
		{"operator's GOMEMLIMIT wins", "", "1GiB", MemoryLimit, GCPercent, -1, GCPercent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(1 << 62)
			if tc.gogc != "" {
				t.Setenv("GOGC", tc.gogc)
			}
			if tc.memlimit != "" {
				t.Setenv("GOMEMLIMIT", tc.memlimit)
			}
			gc, limit := Apply(tc.limit)
			if gc != tc.wantGC || limit != tc.wantLimit {
				t.Fatalf("Apply = %d, %d; want %d, %d", gc, limit, tc.wantGC, tc.wantLimit)
			}
			if got := debug.SetGCPercent(100); got != tc.wantGCPercentIs {
				t.Fatalf("GC percent is %d, want %d", got, tc.wantGCPercentIs)
			}
			wantMem := int64(1 << 62)
			if tc.wantLimit > 0 {
				wantMem = tc.wantLimit
			}
			if got := debug.SetMemoryLimit(-1); got != wantMem {
				t.Fatalf("memory limit is %d, want %d", got, wantMem)
			}
		})
	}
}
