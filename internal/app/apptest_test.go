package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/app"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// running is a whole Laurel, as `laurel serve` runs it, on a loopback port
// with real PostgreSQL, Redis and SMTP.
type running struct {
	*app.App
	URL  string
	Mail *mail.Catcher
	// Engine is the router, to list its routes.
	Engine *gin.Engine
}

func mustRun(t *testing.T) *running {
	t.Helper()
	return mustRunWith(t, testenv.DatabaseURL(t), testenv.RedisURL(t))
}

// mustRunWith runs Laurel on the given PostgreSQL and Redis; tune changes
// the configuration first.
func mustRunWith(t *testing.T, databaseURL, redisURL string, tune ...func(*config.Config)) *running {
	t.Helper()
	catcher, err := mail.NewCatcher("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catcher.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	cfg := config.Config{
		DatabaseURL: databaseURL, RedisURL: redisURL, BaseURL: base,
		SecretKey: secret.Generate(), SMTPURL: catcher.URL(), MailFrom: "Laurel <no-reply@laurel.test>",
		ReconcileInterval: time.Hour, AllowHTTPPlatforms: true, // the simulated Canvas runs on loopback
	}
	for _, f := range tune {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var engine *gin.Engine
	a, err := app.Open(ctx, cfg, log, app.Options{Routes: func(r *gin.Engine, _ *web.Renderer) { engine = r }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := a.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	done := make(chan error, 1)
	go func() { done <- a.RunWorkers(ctx) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("workers: %v", err)
		}
		a.Close()
	})
	return &running{App: a, URL: base, Mail: catcher, Engine: engine}
}

// ownerPassword is the password seedOwnerAndCredential gives the owner
// it@uni.example.edu.
const ownerPassword = "correct horse battery staple"

// seedOwnerAndCredential creates the owner it@uni.example.edu (password
// ownerPassword), a group and one unpublished credential for Grace Hopper.
func seedOwnerAndCredential(t *testing.T, app *running) (issuance.Group, issuance.Credential) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := app.Accounts.CreateUser(ctx, "it@uni.example.edu", "Iris Owner", auth.Owner, nil, ownerPassword); err != nil {
		t.Fatal(err)
	}
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Grace Hopper", Email: "grace@uni.example.edu"}, IssuedOn: "2026-11-20"}})
	if err != nil {
		t.Fatal(err)
	}
	return g, cs[0]
}
