// Command loadgen puts load on a running clickback and reports throughput
// and latency.
//
//	loadgen collect -url 'http://localhost:8080/KEY/collect/SLUG?click_id={click_id}&transaction_id={transaction_id}&amount=1.50&secret=…' -c 64 -d 10s
//
//	loadgen tag -url 'http://127.0.0.1:8080/t/PROPERTYKEY' -c 128 -d 10s
//
// In tag mode each simulated browser sends what the tag sends for visits with
// fresh Click IDs (see loadgen.Tag); throughput is in events/s.
//
// In collect mode every postback carries a fresh click id and transaction
// id. Only 2xx answers count as throughput; the others are reported by
// status code.
//
// The bench subcommand starts clickback itself, on SQLite, on a throwaway
// database of a durable PostgreSQL cluster, or on a given PostgreSQL URL,
// runs the same load against the baseline (a bare server that only
// group-commits raw requests into one table of the same PostgreSQL, see
// loadgen.Baseline) and against clickback, checks that every acknowledged
// request is stored, and prints a table with clickback ÷ baseline:
//
//	loadgen bench -db postgres -mode both -d 10s -c 128
//	loadgen bench -db sqlite -mode collect -rate 5000
//
// soak runs clickback as a child process for a long while (10 minutes by
// default) and prints its RSS and goroutines every 10 s:
//
//	loadgen soak -db postgres -d 10m -rate 1000
//
// report runs the standard set (collect and tag on durable PostgreSQL with
// the baseline, and on SQLite) and writes BENCHMARKS.md to stdout:
//
//	go run ./cmd/loadgen report > BENCHMARKS.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/clickback/clickback/internal/gctune"
	"github.com/clickback/clickback/internal/loadgen"
)

func main() {
	// clickback runs in this process for bench and e2e: with the
	// collector's settings of main.go, but no memory limit (this process
	// also holds the load's bookkeeping and the fake platforms' records).
	gctune.Apply(0)
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "tag":
			tagMode()
			return
		case "bench":
			benchMode()
			return
		case "report":
			reportMode()
			return
		case "soak":
			soakMode()
			return
		case "e2e":
			e2eMode()
			return
		case "soak-serve":
			soakServe()
			return
		}
	}
	if len(os.Args) < 2 || os.Args[1] != "collect" {
		fmt.Fprintln(os.Stderr, "usage: loadgen collect -url URL [-c concurrency] [-d duration] [-n requests]")
		fmt.Fprintln(os.Stderr, "       loadgen tag -url http://host/t/PROPERTYKEY [-c browsers] [-d duration] [-n requests]")
		fmt.Fprintln(os.Stderr, "       loadgen bench [-db sqlite|postgres|postgres://…] [-mode collect|tag|both] [-c n] [-d duration] [-rate n] [-baseline=true]")
		fmt.Fprintln(os.Stderr, "       loadgen report [-d duration] > BENCHMARKS.md")
		fmt.Fprintln(os.Stderr, "       loadgen soak [-db …] [-mode …] [-d 10m] [-every 10s] [-rate n]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("collect", flag.ExitOnError)
	url := fs.String("url", "", "postback URL with the macros {click_id} and {transaction_id}")
	conc := fs.Int("c", 64, "postbacks in flight at once")
	dur := fs.Duration("d", 10*time.Second, "duration of the run")
	n := fs.Int64("n", 0, "stop after this many postbacks instead of after -d")
	rate := fs.Float64("rate", 0, "postbacks per second (0: flat out)")
	_ = fs.Parse(os.Args[2:])
	cfg := loadgen.CollectConfig{URL: *url, Concurrency: *conc, Duration: *dur, Requests: *n, Rate: *rate}
	if *n > 0 {
		cfg.Duration = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Collect(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	fmt.Println(res)
	codes := make([]int, 0, len(res.Codes))
	for c := range res.Codes {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Printf("  %d: %d\n", c, res.Codes[c])
	}
	if res.FirstError != "" {
		fmt.Println("first error:", res.FirstError)
	}
	if res.Acked == 0 {
		os.Exit(1)
	}
}

func tagMode() {
	fs := flag.NewFlagSet("tag", flag.ExitOnError)
	url := fs.String("url", "", "the URL of POST /t/{propertyKey}")
	conc := fs.Int("c", 128, "browsers sending at once")
	dur := fs.Duration("d", 10*time.Second, "duration of the run")
	n := fs.Int64("n", 0, "stop after this many requests instead of after -d")
	rate := fs.Float64("rate", 0, "requests per second (0: flat out)")
	_ = fs.Parse(os.Args[2:])
	cfg := loadgen.TagConfig{URL: *url, Concurrency: *conc, Duration: *dur, Requests: *n, Rate: *rate}
	if *n > 0 {
		cfg.Duration = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Tag(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	fmt.Println(res)
	for c, k := range res.Codes {
		fmt.Printf("  %d: %d\n", c, k)
	}
	if res.FirstError != "" {
		fmt.Println("first error:", res.FirstError)
	}
	if res.Acked == 0 {
		os.Exit(1)
	}
}

// startCPUProfile starts a CPU profile of this process into path, when
// path is set, and returns what stops it (call it before any os.Exit:
// deferred calls do not run then).
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	return pprof.StopCPUProfile
}
