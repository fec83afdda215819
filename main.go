// Command clickback is the whole product in one binary:
//
//	go run .            serve on CLICKBACK_ADDR (default :8080)
//	go run . migrate    bring the database schema up to date and exit
//
// With no DATABASE_URL it runs on SQLite in CLICKBACK_DATA_DIR; see
// README.md for every setting.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clickback/clickback/auth"
	"github.com/clickback/clickback/collect"
	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/internal/gctune"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/report"
	"github.com/clickback/clickback/server"
	"github.com/clickback/clickback/visit"
)

func main() {
	logger := slog.New(server.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))
	slog.SetDefault(logger)
	if gc, limit := gctune.Apply(gctune.MemoryLimit); gc > 0 || limit > 0 {
		logger.Debug("garbage collector tuned (GOGC and GOMEMLIMIT override)", "gogc", gc, "memory_limit", limit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], logger); err != nil {
		logger.Error("clickback stopped", "err", err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("CLICKBACK_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func run(ctx context.Context, args []string, logger *slog.Logger) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve", "migrate":
	default:
		return fmt.Errorf("unknown command %q (want serve or migrate)", cmd)
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	logger.Info("database ready", "dialect", db.Dialect)
	if cmd == "migrate" {
		return nil
	}
	return serve(ctx, cfg, db, logger)
}

// shutdownGrace is how long in-flight requests and running jobs get to
// finish after SIGTERM; jobs still running after it are cancelled and
// handed back to the queue for another process.
const shutdownGrace = 25 * time.Second

func serve(ctx context.Context, cfg config.Config, db *database.DB, logger *slog.Logger) error {
	river, err := jobs.NewClient(jobs.Deps{DB: db, Config: cfg, Logger: logger})
	if err != nil {
		return err
	}
	if path := os.Getenv(report.RatesFileEnv); path != "" {
		if err := report.LoadRatesFile(ctx, db.Ent, path); err != nil {
			return err
		}
		logger.Info("exchange rates loaded", "file", path)
	}
	if err := river.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	visits := visit.NewRecorder(db, visit.Options{})
	collector := collect.New(collect.Deps{DB: db, River: river, Logger: logger})
	handler := server.New(server.Deps{
		Config:    cfg,
		DB:        db,
		River:     river,
		Auth:      auth.NewService(cfg.JWTSecret),
		Logger:    logger,
		Visits:    visits,
		Collector: collector,
	})
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	logger.Info("clickback serving", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop http: %w", err))
	}
	visits.Close()
	collector.Close()
	if err := river.Stop(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop jobs: %w", err))
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
