package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/clickback/clickback/internal/loadbench"
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
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
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
	machine.LoadAfter = loadbench.LoadAverage()
	loadbench.Report(os.Stdout, machine, fmt.Sprintf("go run ./cmd/loadgen report -d %s -c %d > BENCHMARKS.md", *dur, *conc), *note, all)
}
