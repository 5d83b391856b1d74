// Package app assembles Laurel from its parts: it opens PostgreSQL and Redis,
// builds each feature's service, mounts their routes behind the right
// middleware and runs the background workers. cmd/laurel stays thin.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/web"
)

// App is a running Laurel: its connections and services.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *sqlx.DB
	Redis    *redis.Client
	Metrics  *prometheus.Registry
	Renderer *web.Renderer

	features
	opts Options
}

// Options add to the app what only `laurel dev` mounts.
type Options struct {
	Templates []fs.FS                               // extra page templates
	Routes    func(r *gin.Engine, rd *web.Renderer) // extra routes (the /dev pages)
}

// Open connects to PostgreSQL and Redis and builds every feature. cfg must be
// validated (Validate, or ValidateStore for administrative commands).
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Log: log, Metrics: prometheus.NewRegistry(), opts: opts}
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a.DB = d
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("LAUREL_REDIS_URL: %w", err)
		}
		a.Redis = redis.NewClient(opt)
	}
	if err := a.build(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Migrate applies pending migrations and logs how many.
func (a *App) Migrate(ctx context.Context) error {
	n, err := db.Migrate(ctx, a.DB.DB)
	if err != nil {
		return err
	}
	if n > 0 {
		a.Log.Info("migrated database", "applied", n)
	}
	return nil
}

// handler returns the HTTP handler with every route and middleware.
func (a *App) handler() (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// No proxy is trusted unless the operator puts one in front and says so;
	// client IPs (login rate limits) then come from the connection.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	r.Use(web.RequestID(), web.Logger(a.Log), web.Recovery(a.Renderer))
	a.registerOps(r)
	web.RegisterStatic(r)
	h, err := a.routes(r)
	if err != nil {
		return nil, err
	}
	if a.opts.Routes != nil {
		a.opts.Routes(r, a.Renderer)
	}
	return web.HeadAsGet(h), nil
}

// Serve runs the HTTP server until ctx ends, then drains it.
func (a *App) Serve(ctx context.Context, listen string) error {
	h, err := a.handler()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe() }()
	// The page views this process counts move to Redis every few seconds.
	ictx, stopInsight := context.WithCancel(context.Background())
	insightDone := make(chan struct{})
	go func() { a.Insight.Run(ictx); close(insightDone) }()
	defer func() { stopInsight(); <-insightDone }()
	a.Log.Info("serving", "listen", listen, "base_url", a.Config.BaseURL)
	if msrv := a.metricsServer(); msrv != nil {
		go func() { errc <- msrv.ListenAndServe() }()
		defer msrv.Close()
		a.Log.Info("serving metrics", "listen", msrv.Addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// Close releases connections.
func (a *App) Close() {
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}
