package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/laurel-edu/laurel/internal/app"
	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/db"
)

// open validates the full configuration and opens the app.
func (m *Main) open(ctx context.Context, migrate bool) (*app.App, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return m.openWith(ctx, cfg, migrate, app.Options{})
}

func (m *Main) openWith(ctx context.Context, cfg config.Config, migrate bool, opts app.Options) (*app.App, error) {
	a, err := app.Open(ctx, cfg, slog.Default(), opts)
	if err != nil {
		return nil, err
	}
	m.onClose(a.Close)
	if migrate {
		if err := a.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := m.flags("serve")
	workers := fs.Bool("workers", true, "also run the background workers")
	migrate := fs.Bool("migrate", true, "apply pending migrations on start")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := m.open(ctx, *migrate)
	if err != nil {
		return err
	}
	return runServer(ctx, a, *workers)
}

// runServer serves HTTP and, if asked, the workers until ctx ends.
func runServer(ctx context.Context, a *app.App, workers bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	werr := make(chan error, 1)
	if workers {
		go func() { werr <- a.RunWorkers(ctx) }()
	} else {
		close(werr)
	}
	err := a.Serve(ctx, a.Config.Listen)
	cancel()
	if e := <-werr; err == nil && e != nil {
		err = e
	}
	return err
}

func (m *Main) worker(ctx context.Context, args []string) error {
	fs := m.flags("worker")
	migrate := fs.Bool("migrate", true, "apply pending migrations on start")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := m.open(ctx, *migrate)
	if err != nil {
		return err
	}
	return a.RunWorkers(ctx)
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	action := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if err := parse(m.flags("migrate "+action), args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if err := cfg.ValidateStore(); err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer d.Close()
	switch action {
	case "up":
		n, err := db.Migrate(ctx, d.DB)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "applied %d migrations\n", n)
		return nil
	case "status":
		st, err := db.Status(ctx, d.DB)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(m.Stdout, "%04d  %-28s %s\n", s.Version, s.Name, state)
		}
		return nil
	}
	return fmt.Errorf("migrate: unknown action %q (want up or status)", action)
}
