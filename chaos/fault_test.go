//go:build chaos

package chaos

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// outage records the periods a fault lasted and judges the answers given
// meanwhile: those to requests sent and answered wholly inside a period,
// when nothing can have been stored.
type outage struct {
	mu      sync.Mutex
	periods [][2]time.Time // the end is zero while the fault lasts
	inside  map[string]int // "what code" → answers inside a period
	acks    []time.Time    // when each acknowledged postback was answered
}

func newOutage() *outage { return &outage{inside: map[string]int{}} }

func (o *outage) begin() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.periods = append(o.periods, [2]time.Time{time.Now()})
}

func (o *outage) end() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.periods[len(o.periods)-1][1] = time.Now()
}

// during reports whether [sent, answered] lies within one period.
func (o *outage) during(sent, answered time.Time) bool {
	for _, p := range o.periods {
		if !sent.Before(p[0]) && (p[1].IsZero() || !answered.After(p[1])) {
			return true
		}
	}
	return false
}

// observe is a traffic.observe.
func (o *outage) observe(what string, sent, answered time.Time, code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.during(sent, answered) {
		o.inside[what+" "+strconv.Itoa(code)]++
	}
	if what == "postback" && code/100 == 2 {
		o.acks = append(o.acks, answered)
	}
}

// answers returns the answers given inside the periods.
func (o *outage) answers() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.inside))
	for k, v := range o.inside {
		out[k] = v
	}
	return out
}

// firstAckAfter is how long after t the first postback sent after t was
// acknowledged; -1 when none was.
func (o *outage) firstAckAfter(t time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	first := time.Duration(-1)
	for _, a := range o.acks {
		if d := a.Sub(t); d >= 0 && (first < 0 || d < first) {
			first = d
		}
	}
	return first
}

// requireNoFalseAck fails the test when a request sent and answered
// inside an outage got a 2xx or any other answer than 503 (or none), and
// when no request fell inside one at all (the test then proved nothing).
func (o *outage) requireNoFalseAck(t *testing.T) map[string]int {
	t.Helper()
	got := o.answers()
	require.NotEmpty(t, got, "no request was sent and answered inside an outage")
	for k, n := range got {
		switch k {
		case "tag 503", "postback 503", "tag 0", "postback 0":
		default:
			t.Errorf("%d answers %q inside an outage (want 503, or no answer)", n, k)
		}
	}
	return got
}

// probe is one /readyz call.
type probe struct {
	sent, answered time.Time
	code           int
}

// probeReady calls base/readyz every interval until ctx ends; the returned
// function waits for the last call and returns them all.
func probeReady(ctx context.Context, base string, every time.Duration) func() []probe {
	var probes []probe
	done := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			sent := time.Now()
			code := 0
			if resp, err := client.Get(base + "/readyz"); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			probes = append(probes, probe{sent, time.Now(), code})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() []probe { <-done; return probes }
}

// readyAfter is how long after t /readyz first said ready, to a probe sent
// after t; -1 when it never did.
func readyAfter(probes []probe, t time.Time) time.Duration {
	for _, p := range probes {
		if !p.sent.Before(t) && p.code == http.StatusOK {
			return p.answered.Sub(t)
		}
	}
	return -1
}
