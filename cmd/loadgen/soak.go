package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/loadbench"
	"github.com/clickback/clickback/internal/loadgen"
)

// soakMode runs clickback as a child process (this binary, soak-serve) and
// puts load on it for a long while, sampling the child's RSS and goroutines.
func soakMode() {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	db := fs.String("db", "postgres", "sqlite, postgres (durable throwaway cluster) or a postgres:// URL of an empty database")
	mode := fs.String("mode", "both", "collect, tag or both")
	dur := fs.Duration("d", 10*time.Minute, "duration of the soak")
	every := fs.Duration("every", 10*time.Second, "sampling interval")
	conc := fs.Int("c", 64, "requests in flight at once, per load")
	rate := fs.Float64("rate", 0, "requests per second per load (0: flat out)")
	_ = fs.Parse(os.Args[2:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := runSoak(ctx, os.Stdout, soakOptions{DB: *db, Mode: *mode, Duration: *dur, Every: *every, Concurrency: *conc, Rate: *rate}); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// soakOptions is what a soak runs: the database spec (see
// loadbench.OpenDatabase), the load (collect, tag or both; per load,
// requests in flight and requests per second, 0 for flat out), how long, and
// how often RSS and goroutines are sampled.
type soakOptions struct {
	DB, Mode        string
	Duration, Every time.Duration
	Concurrency     int
	Rate            float64
}

// runSoak runs clickback as a child process (this binary, soak-serve), puts
// the load of o on it, and writes to w a Markdown table of the child's RSS
// and goroutines every o.Every, then the loads' results.
func runSoak(ctx context.Context, w io.Writer, o soakOptions) error {
	d, err := loadbench.OpenDatabase(ctx, o.DB)
	if err != nil {
		return err
	}
	defer d.Close()
	spec := d.URL
	if spec == "" {
		dir, err := os.MkdirTemp("", "clickback-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		spec = filepath.Join(dir, "clickback.db")
		sq, err := database.OpenSQLite(spec)
		if err != nil {
			return err
		}
		if err := sq.Migrate(ctx); err != nil {
			sq.Close()
			return fmt.Errorf("migrate the soak database: %w", err)
		}
		sq.Close()
	}
	cmd := exec.Command(os.Args[0], "soak-serve", "-db", spec)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the soak child: %w", err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	var urls struct{ Collect, Tag, Stats string }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || json.Unmarshal([]byte(line), &urls) != nil {
		return fmt.Errorf("child did not start: %v %q", err, line)
	}
	fmt.Fprintf(w, "| elapsed | RSS | goroutines |\n| ---: | ---: | ---: |\n")
	sample := func(at time.Duration) {
		rss := rssOf(cmd.Process.Pid)
		g := "?"
		if resp, err := http.Get(urls.Stats); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			g = strings.TrimSpace(string(b))
		}
		fmt.Fprintf(w, "| %s | %.0f MB | %s |\n", at.Round(time.Second), float64(rss)/(1<<20), g)
	}
	lctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	var results []string
	var mu sync.Mutex
	if o.Mode == "collect" || o.Mode == "both" {
		wg.Go(func() {
			res, err := loadgen.Collect(lctx, loadgen.CollectConfig{URL: urls.Collect, Concurrency: o.Concurrency, Duration: o.Duration, Rate: o.Rate})
			mu.Lock()
			defer mu.Unlock()
			results = append(results, fmt.Sprintf("collect: %s (err %v)", res, err))
		})
	}
	if o.Mode == "tag" || o.Mode == "both" {
		wg.Go(func() {
			res, err := loadgen.Tag(lctx, loadgen.TagConfig{URL: urls.Tag, Concurrency: o.Concurrency, Duration: o.Duration, Rate: o.Rate})
			mu.Lock()
			defer mu.Unlock()
			results = append(results, fmt.Sprintf("tag: %s (err %v)", res, err))
		})
	}
	start := time.Now()
	sample(0)
	tick := time.NewTicker(o.Every)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-tick.C:
			sample(time.Since(start))
		case <-done:
			break loop
		}
	}
	tick.Stop()
	sample(time.Since(start))
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "%s\n\n", r)
	}
	return nil
}

// rssOf is the resident set size of process pid in bytes (Linux).
func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// soakServe is the child of soak: clickback on the database named by -db
// (a postgres:// URL or a migrated SQLite file), until stdin closes. It
// prints the load URLs and a goroutine-count URL as one JSON line.
func soakServe() {
	fs := flag.NewFlagSet("soak-serve", flag.ExitOnError)
	spec := fs.String("db", "", "postgres:// URL or SQLite file")
	_ = fs.Parse(os.Args[2:])
	ctx := context.Background()
	var db *database.DB
	var err error
	if strings.HasPrefix(*spec, "postgres") {
		db, err = database.OpenPostgres(ctx, *spec)
	} else {
		db, err = database.OpenSQLite(*spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak-serve:", err)
		os.Exit(1)
	}
	defer db.Close()
	c, err := loadbench.StartClickback(ctx, db, loadbench.ServerOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak-serve:", err)
		os.Exit(1)
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak-serve:", err)
		os.Exit(1)
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, runtime.NumGoroutine())
		}))
	}()
	out, _ := json.Marshal(map[string]string{"Collect": c.CollectURL, "Tag": c.TagURL, "Stats": "http://" + ln.Addr().String()})
	fmt.Println(string(out))
	_, _ = io.Copy(io.Discard, os.Stdin)
}
