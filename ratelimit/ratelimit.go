// Package ratelimit is a keyed token-bucket limiter held in memory: one
// bucket per key (an email, an IP, an account), refilled continuously.
//
// Limits are per process. With several replicas each enforces its own
// share, which bounds abuse to N times the limit — enough to slow brute
// force and floods without a round trip to the database on the hot path.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows Burst events at once per key, and Rate events per second
// after that.
type Limiter struct {
	rate  float64
	burst float64
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter refilling perSecond tokens a second up to burst,
// tracking at most maxKeys keys (the fullest buckets are forgotten first
// when it is exceeded, which only ever errs on the side of allowing).
func New(perSecond float64, burst int, maxKeys int) *Limiter {
	return &Limiter{rate: perSecond, burst: float64(burst), max: maxKeys, now: time.Now, buckets: make(map[string]*bucket)}
}

// Allow takes a token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Reserve(key)
	return ok
}

// Reserve takes a token from key's bucket. When there is none it returns
// false and how long until there will be one.
func (l *Limiter) Reserve(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// evict forgets every bucket that has refilled completely; if none has, it
// forgets half of them. Called with l.mu held.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.max {
		return
	}
	n := len(l.buckets) / 2
	for k := range l.buckets {
		if n == 0 {
			break
		}
		delete(l.buckets, k)
		n--
	}
}
