package capitest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaults(t *testing.T) {
	t.Parallel()

	send := func(t *testing.T, tk *TikTok) (int, map[string]any) {
		return post(t, tk.URL+tiktokPath, http.Header{"Access-Token": {"tok"}}, tiktokRequestBody(t, nil))
	}

	t.Run("FailNext fails exactly n requests, in order", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(t)
		tk.FailNext(2, ServerError())
		tk.FailNext(1, TikTokRateLimited())
		status, _ := send(t, tk)
		require.Equal(t, 500, status)
		status, _ = send(t, tk)
		require.Equal(t, 500, status)
		status, answer := send(t, tk)
		require.Equal(t, 200, status)
		require.EqualValues(t, 40100, answer["code"])
		_, answer = send(t, tk)
		require.EqualValues(t, 0, answer["code"])
		require.Equal(t, 4, tk.Requests())
		require.Len(t, tk.Events(), 1)
	})

	t.Run("Down until Up", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(t)
		tk.Down(TooManyRequests(30 * time.Second))
		for range 3 {
			status, _ := send(t, tk)
			require.Equal(t, 429, status)
		}
		tk.Up()
		status, _ := send(t, tk)
		require.Equal(t, 200, status)
		require.Len(t, tk.Events(), 1)
	})

	t.Run("Retry-After header", func(t *testing.T) {
		t.Parallel()
		m := NewMeta(t)
		m.FailNext(1, TooManyRequests(30*time.Second))
		resp, err := http.Post(m.URL+"/v25.0/1/events", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "30", resp.Header.Get("Retry-After"))
	})

	t.Run("slow answer ends when the client gives up", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(t)
		tk.FailNext(1, Slow(time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tk.URL+tiktokPath, strings.NewReader(tiktokRequestBody(t, nil)))
		require.NoError(t, err)
		_, err = http.DefaultClient.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Empty(t, tk.Events())
	})

	t.Run("slow answer then processed normally", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(t)
		tk.FailNext(1, Slow(20*time.Millisecond))
		start := time.Now()
		status, _ := send(t, tk)
		require.Equal(t, 200, status)
		require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
		require.Len(t, tk.Events(), 1)
	})

	t.Run("Close releases a held request", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(nil)
		tk.Down(Slow(time.Hour))
		done := make(chan error, 1)
		go func() {
			resp, err := http.Post(tk.URL+tiktokPath, "application/json", strings.NewReader(`{}`))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		require.Eventually(t, func() bool { return tk.Requests() == 1 }, 5*time.Second, time.Millisecond)
		tk.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release the request")
		}
	})
}

// fatalRecorder is a testing.TB whose Fatalf only records, to test failures.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msg = format
}

func TestWaitForEvents(t *testing.T) {
	t.Parallel()

	t.Run("wakes when events arrive", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(t)
		go func() {
			for range 3 {
				post(t, tk.URL+tiktokPath, http.Header{"Access-Token": {"tok"}}, tiktokRequestBody(t, nil))
			}
		}()
		events := tk.WaitForEvents(t, 3, 5*time.Second)
		require.Len(t, events, 3)
		require.Equal(t, map[string]int{"ev-1": 3}, tk.CountByEventID())
	})

	t.Run("fails the test on timeout", func(t *testing.T) {
		t.Parallel()
		tk := NewTikTok(t)
		rec := &fatalRecorder{TB: t}
		require.Nil(t, tk.WaitForEvents(rec, 1, 10*time.Millisecond))
		require.Contains(t, rec.msg, "waited")
	})
}

func TestFakesAreSafeForConcurrentUse(t *testing.T) {
	t.Parallel()

	tk := NewTikTok(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%10 == 0 {
				tk.FailNext(1, ServerError())
			}
			req, err := http.NewRequest(http.MethodPost, tk.URL+tiktokPath, strings.NewReader(tiktokRequestBody(t, nil)))
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("Access-Token", "tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			_ = tk.Events()
			_ = tk.CountByEventID()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 40, tk.Requests())
	require.Len(t, tk.Events(), 36, "4 requests got the injected 500")
	require.Equal(t, 36, tk.CountByEventID()["ev-1"])
}

// TestObserve: an observer gets the body of every request the fake
// answered and the status it answered, faults included, and the fake
// still reads and validates the body.
func TestObserve(t *testing.T) {
	t.Parallel()
	tk := NewTikTok(t)
	type seen struct {
		body   string
		status int
	}
	var (
		mu  sync.Mutex
		got []seen
	)
	tk.Observe(func(body []byte, status int) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{string(body), status})
	})
	body := tiktokRequestBody(t, nil)
	tk.FailNext(1, Unavailable())
	for _, want := range []int{503, 200} {
		status, _ := post(t, tk.URL+tiktokPath, http.Header{"Access-Token": {"tok"}}, body)
		require.Equal(t, want, status)
	}
	require.Len(t, tk.Events(), 1, "the fake read the body the observer read too")
	mu.Lock()
	require.Equal(t, []seen{{string(body), 503}, {string(body), 200}}, got)
	mu.Unlock()

	tk.Observe(nil)
	status, _ := post(t, tk.URL+tiktokPath, http.Header{"Access-Token": {"tok"}}, body)
	require.Equal(t, 200, status)
	mu.Lock()
	require.Len(t, got, 2, "no observer after Observe(nil)")
	mu.Unlock()
}
