package app

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/lti"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

// features are the services the app is made of.
type features struct {
	Auth     *auth.Auth
	Issuance *issuance.Service
	LTI      *lti.Tool
	Canvas   *canvas.Service
	Mail     *mail.Sender
}

func templates(f fs.FS) fs.FS {
	s, err := fs.Sub(f, "templates")
	if err != nil {
		panic(err) // embedded paths are fixed at compile time
	}
	return s
}

// build constructs every feature's service and parses the templates, so a
// broken template stops start-up.
func (a *App) build(ctx context.Context) error {
	pages := append([]fs.FS{templates(auth.Templates), templates(issuance.Templates), lti.Templates, canvas.Templates}, a.opts.Templates...)
	rd, err := web.NewRenderer(nil, pages...)
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	a.Renderer = rd
	a.Issuance = issuance.New(a.DB, a.Config.BaseURL)
	a.Issuance.Log = a.Log
	a.Issuance.Keys = a.Config.Keys
	// Administrative commands run without Redis: Auth then serves accounts
	// and tokens only, never a session.
	a.Auth = auth.New(a.DB, a.Redis, a.Config.Keys, a.Config.BaseURL)
	a.Auth.GroupOptions = a.groupOptions
	a.LTI = lti.New(a.DB, a.Redis, a.Config.Keys, a.Config.BaseURL, a.Log, nil)
	a.LTI.AllowHTTPPlatforms = a.Config.AllowHTTPPlatforms
	a.Canvas, err = canvas.New(canvas.Options{
		DB: a.DB, Keys: a.Config.Keys, Issuer: a.Issuance, Platforms: canvas.LTIPlatforms(a.LTI.Registry()),
		BaseURL: a.Config.BaseURL, LiveEventsJWKSURL: a.Config.LiveEventsJWKSURL, KeySets: a.LTI.KeySets(),
		ReconcileInterval: a.Config.ReconcileInterval, Registerer: a.Metrics, Log: a.Log,
		HTTPClient: a.LTI.NewPlatformClient(30 * time.Second), // Canvas URLs follow the platform fetch rule
	})
	if err != nil {
		return err
	}
	a.LTI.SetLaunchHandler(a.Canvas.HandleLaunch)
	// Canvas keeps its platform settings (URL, API token) in its own table.
	a.LTI.Registry().SetExtension(a.Canvas.PlatformSettings())
	if a.Config.SMTPURL != "" {
		if a.Mail, err = mail.NewSender(a.Config.SMTPURL, a.Config.MailFrom, 8); err != nil {
			return fmt.Errorf("LAUREL_SMTP_URL: %w", err)
		}
	}
	return nil
}

// routes mounts every feature and returns the full handler: sessions load
// before gin runs, and cross-origin form posts are refused before anything.
func (a *App) routes(r *gin.Engine) (http.Handler, error) {
	rd := a.Renderer
	r.Use(a.Auth.Load(), web.TextGuard(rd))

	a.Auth.Register(r, rd)
	a.Issuance.RegisterPublic(r, rd)

	// Cross-site by design, each protected by its own checks (state, nonce
	// and signatures; launch tokens; signed events).
	a.LTI.Register(r, rd)
	a.Canvas.RegisterDevKey(r)
	a.Canvas.RegisterLaunch(r, a.launchDeps(rd))
	a.Canvas.RegisterWebhook(r)

	api := r.Group("/api/v1", a.Auth.Bearer(), web.TextGuard(rd))
	a.Issuance.RegisterAPI(api)
	a.Canvas.RegisterAPI(api)

	staff := r.Group("/", auth.RequireStaff(rd))
	a.Issuance.RegisterUI(staff, rd)
	a.Auth.RegisterStaff(staff, rd)
	a.LTI.RegisterAdmin(staff, rd)
	a.Canvas.RegisterAdmin(staff, rd)

	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/groups") })
	r.NoRoute(rd.Page(func(c *gin.Context) error {
		if len(c.Request.URL.Path) >= 5 && c.Request.URL.Path[:5] == "/api/" {
			web.WriteJSONError(c, notFound)
			return nil
		}
		return notFound
	}))
	return web.SecurityHeaders(a.Config.BaseURL, auth.CSRF(a.Auth.Sessions.LoadAndSave(r))), nil
}

// RunWorkers runs the background jobs until ctx ends: one jobs.Worker for
// every kind (email, signing, imports, account mail, the Canvas inbox and
// the scheduled reconciliation), woken by PostgreSQL notifications.
func (a *App) RunWorkers(ctx context.Context) error {
	w := jobs.NewWorker(a.DB, a.Log)
	w.Listen = a.Config.DatabaseURL
	// The inbox had 8 loops of its own beside the worker's 8 goroutines:
	// 16 keep completions moving while emails are being sent. Idle, they
	// cost nothing (woken one at a time by notifications).
	w.Concurrency = 16
	w.Handle(auth.AccountEmailJob, a.Auth.SendAccountEmail(a.Mail, a.Config.MailFrom, a.Config.BaseURL))
	w.HandleBatch(issuance.EmailJob, a.Issuance.SendEmailBatch(a.Mail, a.Config.MailFrom))
	w.SetPolicy(issuance.EmailJob, issuance.EmailRetry)
	w.Handle(issuance.SignJob, a.Issuance.SignCredentialsJob())
	a.Issuance.HandleImportJobs(w)
	a.Canvas.HandleJobs(w)
	return w.Run(ctx)
}
