package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/clickback/clickback/internal/loadbench"
	"github.com/clickback/clickback/internal/loadgen"
)

func benchMode() {
	failed := false
	defer func() {
		if failed {
			os.Exit(1)
		}
	}()
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	db := fs.String("db", "postgres", "sqlite, postgres (a throwaway database in a durable local cluster) or a postgres:// URL of an empty database")
	mode := fs.String("mode", "both", "collect, tag or both (at once)")
	conc := fs.Int("c", 128, "requests in flight at once, per load")
	dur := fs.Duration("d", 10*time.Second, "duration of each run")
	rate := fs.Float64("rate", 0, "requests per second per load (0: flat out)")
	base := fs.Bool("baseline", true, "also run the load against the baseline (PostgreSQL only)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (clickback runs in this process) to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file at the end")
	var srv loadbench.ServerOptions
	fs.IntVar(&srv.Collect.Writers, "collect-writers", 0, "postback group committer: transactions at once (0: the default)")
	fs.IntVar(&srv.Collect.MaxBatch, "collect-batch", 0, "postback group committer: most postbacks a transaction (0: the default)")
	fs.DurationVar(&srv.Collect.Window, "collect-window", 0, "postback group committer: how long a batch gathers (0: the default)")
	fs.IntVar(&srv.Tag.Writers, "tag-writers", 0, "tag group committer: transactions at once (0: the default)")
	fs.IntVar(&srv.Tag.MaxBatch, "tag-batch", 0, "tag group committer: most requests a transaction (0: the default)")
	fs.DurationVar(&srv.Tag.Window, "tag-window", 0, "tag group committer: how long a batch gathers (0: the default)")
	_ = fs.Parse(os.Args[2:])
	defer startCPUProfile(*cpuProfile)()
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d, err := loadbench.OpenDatabase(ctx, *db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	defer d.Close()
	rows, err := loadbench.Run(ctx, d, loadbench.Options{Mode: *mode, Duration: *dur, Concurrency: *conc, Rate: *rate, Baseline: *base, Log: os.Stderr, Server: srv})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	loadbench.Table(os.Stdout, rows)
	for _, r := range rows {
		if !strings.HasPrefix(r.Stored, "ok") {
			failed = true
		}
	}
}

func reportMode() {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	dur := fs.Duration("d", 10*time.Second, "duration of each run")
	conc := fs.Int("c", 128, "requests in flight at once, per load")
	note := fs.String("note", "", "a paragraph on the conditions of the run (what else the machine was doing)")
	e2eN := fs.Int64("e2e-n", 60000, "end to end, flat out: postbacks sent (0: skip)")
	e2eRate := fs.Float64("e2e-rate", 1000, "end to end, paced: postbacks per second for -d (0: skip)")
	e2eSustain := fs.Float64("e2e-sustain", 3000, "end to end, paced: postbacks per second for twice -d, the rate to sustain (0: skip)")
	soak := fs.Duration("soak", 0, "also soak clickback for this long (collect and tag at 1,000 requests/s each on PostgreSQL) and report RSS and goroutines (0: skip)")
	_ = fs.Parse(os.Args[2:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	machine := loadbench.Machine()
	var all []loadbench.Row
	for _, spec := range []string{"postgres", "sqlite"} {
		for _, mode := range []string{"collect", "tag"} {
			d, err := loadbench.OpenDatabase(ctx, spec)
			if err != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", err)
				os.Exit(2)
			}
			rows, err := loadbench.Run(ctx, d, loadbench.Options{Mode: mode, Duration: *dur, Concurrency: *conc, Baseline: true, Log: os.Stderr})
			d.Close()
			if err != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", err)
				os.Exit(1)
			}
			all = append(all, rows...)
		}
	}
	var sections []loadbench.Section
	if *e2eN > 0 || *e2eRate > 0 || *e2eSustain > 0 {
		sections = append(sections, e2eSection(ctx, *e2eN, *e2eRate, *e2eSustain, *dur))
	}
	if *soak > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "`go run ./cmd/loadgen soak -db postgres -d %s -every 10s -rate 1000 -c 64`: clickback as a child process, collect at 1,000 postbacks/s and tag ingest at 1,000 requests/s at once on the durable PostgreSQL.\n\n", *soak)
		if err := runSoak(ctx, &b, soakOptions{DB: "postgres", Mode: "both", Duration: *soak, Every: 10 * time.Second, Concurrency: 64, Rate: 1000}); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		sections = append(sections, loadbench.Section{Title: "Soak (memory)", Body: b.String()})
	}
	machine.LoadAfter = loadbench.LoadAverage()
	command := fmt.Sprintf("go run ./cmd/loadgen report -d %s -c %d", *dur, *conc)
	if *soak > 0 {
		command += fmt.Sprintf(" -soak %s", *soak)
	}
	loadbench.Report(os.Stdout, machine, command+" > BENCHMARKS.md", *note, all, sections...)
}

// e2eSection runs the end-to-end load on durable PostgreSQL with the fake
// platforms: n postbacks flat out (conversions forwarded per second), rate
// postbacks per second for d (latency at that rate), and sustain postbacks
// per second for 2d (whether forwarding keeps up with that rate).
func e2eSection(ctx context.Context, n int64, rate, sustain float64, d time.Duration) loadbench.Section {
	var b strings.Builder
	b.WriteString("Visits recorded through the tag endpoint first, then postbacks that match them, forwarded to the four fake platforms (Meta, GA4, Google Ads, TikTok; capi/capitest) on loopback, on durable PostgreSQL with the jobs running. Sent/s is the postbacks acknowledged per second while they were sent; forwarded/s counts conversions that reached all four platforms, from the first postback to the last forwarded (so a paced run's is below its rate by the last postbacks' way through); latency is from sending a postback to a platform's 2xx for it. Each run fails unless every acknowledged postback reached each platform exactly once.\n\n")
	b.WriteString("| load | postbacks acknowledged | sent/s | forwarded to all 4 | forwarded/s | p50 | p99 | max | missing | duplicates |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	run := func(label string, cfg loadgen.E2EConfig) {
		res, err := runE2E(ctx, "postgres", cfg)
		if err != nil {
			fmt.Fprintf(&b, "| %s | error: %v | | | | | | | | |\n", label, err)
			return
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %d | %.0f | %s | %s | %s | %v | %v |\n", label, res.Postbacks.Acked, res.Postbacks.Throughput(), res.Forwarded, res.ForwardedPerSecond(),
			res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), res.Max.Round(time.Millisecond), perPlatform(res.Missing), perPlatform(res.Duplicates))
	}
	if n > 0 {
		run(fmt.Sprintf("%d postbacks flat out", n), loadgen.E2EConfig{Concurrency: 128, Conversions: n, Settle: 2 * time.Minute})
	}
	if rate > 0 {
		run(fmt.Sprintf("%.0f postbacks/s for %s", rate, d), loadgen.E2EConfig{Concurrency: 256, Duration: d, Rate: rate, Settle: 2 * time.Minute})
	}
	if sustain > 0 {
		run(fmt.Sprintf("%.0f postbacks/s for %s", sustain, 2*d), loadgen.E2EConfig{Concurrency: 256, Duration: 2 * d, Rate: sustain, Settle: 2 * time.Minute})
	}
	return loadbench.Section{Title: "End to end (postback → matched → forwarded)", Body: b.String()}
}

// perPlatform renders counts by platform: "0" when all are zero, else each
// platform's non-zero count.
func perPlatform(counts map[string]int) string {
	var parts []string
	for name, n := range counts {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, n))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
