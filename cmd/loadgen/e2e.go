package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/internal/loadbench"
	"github.com/clickback/clickback/internal/loadgen"
)

// e2eMode starts clickback on a database, with the four fake platforms of
// capitest on loopback as its destinations, records visits through the
// tag's ingest endpoint, sends postbacks that match them, and reports
// conversions forwarded per second and the time from postback to each
// platform's 200; it fails unless every acknowledged postback reached each
// platform exactly once. It also reports the CPU time and database
// transactions per conversion (see loadgen.Usage):
//
//	loadgen e2e -db postgres -rate 1000 -d 10s
//	loadgen e2e -db sqlite -n 5000
func e2eMode() {
	fs := flag.NewFlagSet("e2e", flag.ExitOnError)
	db := fs.String("db", "postgres", "sqlite, postgres (a throwaway database in a durable local cluster) or a postgres:// URL of an empty database")
	conc := fs.Int("c", 64, "requests in flight at once")
	dur := fs.Duration("d", 10*time.Second, "how long postbacks are sent (with -rate, or flat out with -visits)")
	n := fs.Int64("n", 0, "send this many postbacks instead (flat out unless -rate)")
	rate := fs.Float64("rate", 0, "postbacks per second (0: flat out)")
	visits := fs.Int64("visits", 0, "visits to record first (default: one per postback to come)")
	settle := fs.Duration("settle", 2*time.Minute, "how long to wait without progress for forwarding to finish")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (clickback, the fake platforms and the load generator share this process) to this file")
	_ = fs.Parse(os.Args[2:])
	if *n > 0 {
		*dur = 0
	}
	stopProfile := startCPUProfile(*cpuProfile)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := runE2E(ctx, *db, loadgen.E2EConfig{Concurrency: *conc, Duration: *dur, Conversions: *n, Rate: *rate, Visits: *visits, Settle: *settle})
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	fmt.Println(res)
	if !res.OK() {
		fmt.Println("FAILED: not every acknowledged postback reached each platform exactly once")
		os.Exit(1)
	}
}

// runE2E runs cfg against a clickback it starts on the database spec
// names (see loadbench.OpenDatabase), with the fake platforms.
func runE2E(ctx context.Context, spec string, cfg loadgen.E2EConfig) (loadgen.E2EResult, error) {
	p := loadgen.StartPlatforms()
	defer p.Close()
	d, err := loadbench.OpenDatabase(ctx, spec)
	if err != nil {
		return loadgen.E2EResult{}, err
	}
	defer d.Close()
	var conf config.Config
	cb, err := loadbench.StartClickback(ctx, d.DB, loadbench.ServerOptions{WorkJobs: true, Config: func(c *config.Config) {
		c.Platforms = p.URLs
		conf = *c
	}})
	if err != nil {
		return loadgen.E2EResult{}, err
	}
	defer cb.Close()
	if err := loadgen.CreateDestinations(ctx, d.DB, conf, cb.AccountID, p); err != nil {
		return loadgen.E2EResult{}, err
	}
	cfg.TagURL, cfg.PostbackURL, cfg.Platforms, cfg.DB = cb.TagURL, cb.CollectURL, p, d.DB
	return loadgen.E2E(ctx, cfg)
}
