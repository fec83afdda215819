// Command loadgen puts load on a running clickback and reports throughput
// and latency.
//
//	loadgen collect -url 'http://localhost:8080/KEY/collect/SLUG?click_id={click_id}&transaction_id={transaction_id}&amount=1.50&secret=…' -c 64 -d 10s
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
	if len(os.Args) < 2 || os.Args[1] != "collect" {
		fmt.Fprintln(os.Stderr, "usage: loadgen collect -url URL [-c concurrency] [-d duration] [-n requests]")
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
