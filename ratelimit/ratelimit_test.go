package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	clock := time.Unix(1_700_000_000, 0)
	l := New(1, 3, 100)
	l.now = func() time.Time { return clock }

	for i := range 3 {
		require.True(t, l.Allow("a"), "burst token %d", i)
	}
	ok, wait := l.Reserve("a")
	require.False(t, ok)
	require.Equal(t, time.Second, wait)
	require.True(t, l.Allow("b"), "keys have their own buckets")

	clock = clock.Add(1500 * time.Millisecond)
	require.True(t, l.Allow("a"))
	require.False(t, l.Allow("a"))

	clock = clock.Add(time.Hour)
	for range 3 {
		require.True(t, l.Allow("a"))
	}
	require.False(t, l.Allow("a"), "refill stops at the burst")
}

func TestLimiterBoundsKeys(t *testing.T) {
	t.Parallel()
	l := New(1, 1, 10)
	for i := range 1000 {
		l.Allow(fmt.Sprint(i))
	}
	require.LessOrEqual(t, len(l.buckets), 10)
}
