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
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"time"

	"github.com/clickback/clickback/internal/loadgen"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "tag" {
		tagMode()
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "collect" {
		fmt.Fprintln(os.Stderr, "usage: loadgen collect -url URL [-c concurrency] [-d duration] [-n requests]")
		fmt.Fprintln(os.Stderr, "       loadgen tag -url http://host/t/PROPERTYKEY [-c browsers] [-d duration] [-n requests]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("collect", flag.ExitOnError)
	url := fs.String("url", "", "postback URL with the macros {click_id} and {transaction_id}")
	conc := fs.Int("c", 64, "postbacks in flight at once")
	dur := fs.Duration("d", 10*time.Second, "duration of the run")
	n := fs.Int64("n", 0, "stop after this many postbacks instead of after -d")
	_ = fs.Parse(os.Args[2:])
	cfg := loadgen.CollectConfig{URL: *url, Concurrency: *conc, Duration: *dur, Requests: *n}
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
	_ = fs.Parse(os.Args[2:])
	cfg := loadgen.TagConfig{URL: *url, Concurrency: *conc, Duration: *dur, Requests: *n}
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
