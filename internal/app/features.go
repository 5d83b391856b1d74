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
	ltiadmin "github.com/laurel-edu/laurel/lti/admin"
	"github.com/laurel-edu/laurel/lti/course"
	"github.com/laurel-edu/laurel/moodle"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/people"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/api"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/imports"
	"github.com/laurel-edu/laurel/issuance/insight"
	"github.com/laurel-edu/laurel/issuance/public"
	"github.com/laurel-edu/laurel/issuance/recipient"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
	"github.com/laurel-edu/laurel/issuance/staff"
	"github.com/laurel-edu/laurel/issuance/updates"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

// features are the services the app is made of.
type features struct {
	Auth     *auth.Auth
	Accounts *accounts.Service
	Issuance *issuance.Service
	Signing  *signing.Service
	Delivery *delivery.Service
	// Reminders are the expiry emails and renewal requests.
	Reminders *reminders.Service
	Imports   *imports.Service
	Updates   *updates.Service
	Public    *public.Service
	Staff     *staff.Service
	LTI       *lti.Tool
	Course    *course.Service
	Canvas    *canvas.Service
	Moodle    *moodle.Service
	Mail      *mail.Sender
	People    *people.Service
	Wallet    *wallet.Service
	Insight   *insight.Service
	// Recipient is recipient self-service: one-time links, hiding, name
	// corrections and the notices of a changed email address.
	Recipient *recipient.Service
}

// build constructs every feature's service and parses the templates, so a
// broken template stops start-up.
func (a *App) build(ctx context.Context) error {
	pages := append([]fs.FS{auth.Templates, accounts.Templates, staff.Templates, imports.Templates, updates.Templates,
		delivery.Templates, public.Templates, wallet.Templates, lti.Templates, ltiadmin.Templates, course.Templates, canvas.Templates, people.Templates, insight.Templates, recipient.Templates}, a.opts.Templates...)
	rd, err := web.NewRenderer(nil, pages...)
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	a.Renderer = rd
	a.Issuance = issuance.New(a.DB, a.Config.BaseURL)
	a.Issuance.Log = a.Log
	// Every page shows dates in the organisation's language and time zone.
	rd.Locale = a.Issuance.Locale
	a.Reminders = reminders.New(a.Issuance, a.Config.Keys) // the keys sign the renewal links
	a.Signing = signing.New(a.Issuance, a.Config.Keys)
	a.Delivery = delivery.New(a.Issuance, a.Reminders, a.Signing)
	a.Imports = imports.New(a.Issuance)
	a.Updates = updates.New(a.Issuance)
	a.Public = public.New(a.Issuance, a.Reminders, a.Signing)
	a.Staff = staff.New(a.Issuance, a.Reminders, a.Public, a.Delivery)
	a.Wallet = wallet.New(a.Issuance, a.Signing, a.Redis, a.Config.Keys)
	// The credential page offers a wallet link when the wallet room can
	// sign and keep its nonces.
	a.Public.Wallets = a.Redis != nil && a.Config.Keys != nil
	a.Staff.Wallets = a.Wallet
	if a.Public.Wallets {
		a.Delivery.WalletLink = a.Wallet.EmailLink
	}
	// Engagement counts: the public pages count, the email's button and the
	// page's LinkedIn and share links go through counting redirects.
	a.Insight = insight.New(a.DB, a.Redis, a.Issuance)
	a.Insight.Log = a.Log
	a.Staff.Insight = a.Insight
	if !a.Config.NoEngagementCounting {
		a.Public.Counter, a.Delivery.CountClicks = a.Insight, true
	}
	a.Accounts = accounts.New(a.DB, a.Config.Keys)
	a.Delivery.Staff = a.Accounts // renewal requests are told to the group's staff
	a.Accounts.GroupOptions = a.groupOptions
	a.Accounts.OrganisationName = orgSettings{a.Issuance}.OrganisationName
	// A limited team member's new group joins their limit (accounts' table).
	a.Issuance.Limits = a.Accounts
	a.Accounts.Locale = a.Issuance.Locale
	// Administrative commands run without Redis: they use Accounts, never
	// a session.
	a.Auth = auth.New(a.Redis, a.Config.Keys, a.Config.BaseURL, a.Accounts)
	a.Auth.Landing = a.signInLanding
	// A recipient's session rides in the staff sign-in's session manager,
	// under its own key, which grants nothing on staff routes.
	a.Recipient = recipient.New(a.DB, a.Issuance, a.Config.Keys, a.Redis, a.Auth.Sessions)
	a.Public.Recipients = a.Recipient
	a.Staff.SelfService = a.Recipient
	a.Issuance.AddressChanged = a.Recipient.AddressChanged
	a.LTI = lti.New(a.DB, a.Redis, a.Config.Keys, a.Config.BaseURL, a.Log, nil)
	a.LTI.AllowHTTPPlatforms = a.Config.AllowHTTPPlatforms
	a.LTI.Locale = a.Issuance.Locale
	// The audit log names each kind of actor through the package owning it.
	actors := audit.Namers{a.Accounts, a.LTI}
	a.Issuance.Actors, a.Accounts.Actors = actors, actors
	a.LTI.Staff = a.Accounts
	a.Course, err = course.New(course.Options{DB: a.DB, Platforms: a.LTI.Registry(), BaseURL: a.Config.BaseURL, Log: a.Log})
	if err != nil {
		return err
	}
	a.Canvas, err = canvas.New(canvas.Options{
		DB: a.DB, Keys: a.Config.Keys, Issuer: a.Issuance, Platforms: canvas.LTIPlatforms(a.LTI.Registry()), Courses: a.Course,
		BaseURL: a.Config.BaseURL, LiveEventsJWKSURL: a.Config.LiveEventsJWKSURL, KeySets: a.LTI.KeySets(),
		Registerer: a.Metrics, Log: a.Log,
		HTTPClient: a.LTI.NewPlatformClient(30 * time.Second), // Canvas URLs follow the platform fetch rule
	})
	if err != nil {
		return err
	}
	a.Course.SetCanvas(a.Canvas.CourseSide())
	a.Moodle, err = moodle.New(moodle.Options{DB: a.DB, Keys: a.Config.Keys, Issuer: a.Issuance, Courses: a.Course,
		Platforms: a.LTI.Registry(), Log: a.Log,
		HTTPClient: a.LTI.NewPlatformClient(30 * time.Second), // Moodle URLs follow the platform fetch rule
	})
	if err != nil {
		return err
	}
	// The rule engine: each platform's rules are checked by their Checker.
	a.Course.AddChecker(a.Canvas.Checker())
	a.Course.AddChecker(a.Moodle.Checker())
	a.LTI.SetLaunchHandler(a.Course.HandleLaunch)
	// Canvas keeps its platform settings (URL, API token) in its own table.
	a.LTI.Registry().SetExtension(a.Canvas.PlatformSettings())
	// Moodle keeps its web service settings (URL, token) in its own table.
	a.LTI.Registry().AddExtension(a.Moodle.PlatformSettings())
	a.People = &people.Service{DB: a.DB, Core: a.Issuance, Signing: a.Signing, Imports: a.Imports, Updates: a.Updates,
		Reminders: a.Reminders, Course: a.Course,
		LTI: a.LTI, Canvas: a.Canvas, Wallet: a.Wallet, Moodle: a.Moodle, Keys: a.Config.Keys}
	a.People.SelfService = a.Recipient
	if a.Config.SMTPURL != "" {
		if a.Mail, err = mail.NewSender(a.Config.SMTPURL, a.Config.MailFrom, a.Config.SMTPPool()); err != nil {
			return fmt.Errorf("LAUREL_SMTP_URL: %w", err)
		}
	}
	return nil
}

// routes mounts every feature and returns the full handler: sessions load
// before gin runs, and cross-origin form posts are refused before anything.
func (a *App) routes(r *gin.Engine) (http.Handler, error) {
	rd := a.Renderer
	r.Use(a.Auth.Load(), a.Recipient.Load(), web.TextGuard(rd))

	a.Auth.Register(r, rd)
	a.Accounts.Register(r, rd, a.Auth)
	a.Public.Register(r, rd)
	// Called by wallet apps (no session, protected by the offer's secrets,
	// proofs of possession and single-use nonces) and by the credential page.
	a.Wallet.Register(r, rd)
	a.Recipient.Register(r, rd)

	// Cross-site by design, each protected by its own checks (state, nonce
	// and signatures; launch tokens; signed events).
	a.LTI.Register(r, rd)
	a.Canvas.RegisterDevKey(r)
	a.Course.RegisterLaunch(r, a.launchDeps(rd))
	a.Canvas.RegisterWebhook(r)

	apiv1 := r.Group("/api/v1", a.Auth.Bearer(), web.TextGuard(rd))
	api.Register(apiv1, a.Issuance, a.Reminders)
	a.Imports.RegisterAPI(apiv1)
	a.Course.RegisterAPI(apiv1)
	a.People.RegisterAPI(apiv1)
	a.Wallet.RegisterAPI(apiv1)
	a.Recipient.RegisterAPI(apiv1)

	staffr := r.Group("/", auth.RequireStaff(rd), a.Recipient.NavCount())
	a.Staff.Register(staffr, rd)
	a.Imports.RegisterUI(staffr, rd)
	a.Updates.RegisterUI(staffr, rd)
	a.Delivery.RegisterUI(staffr, rd)
	a.Accounts.RegisterStaff(staffr, rd, a.Auth)
	ltiadmin.New(a.LTI, a.Log).Register(staffr, rd)
	a.Canvas.RegisterAdmin(staffr, rd)
	a.People.RegisterUI(staffr, rd)
	a.Wallet.RegisterStaff(staffr, rd)
	a.Insight.Register(staffr, rd)
	a.Recipient.RegisterStaff(staffr, rd)

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
// every kind (email, signing, imports, account mail, the Canvas inbox, the
// scheduled reconciliation and scheduled publishes), woken by PostgreSQL notifications.
func (a *App) RunWorkers(ctx context.Context) error {
	w := jobs.NewWorker(a.DB, a.Log)
	w.Listen = a.Config.DatabaseURL
	// Beside one goroutine per SMTP connection for bulk email, 8 keep
	// completions and the other kinds moving while a publish is being
	// sent. Idle, they cost nothing (woken one at a time by notifications).
	w.Concurrency = a.Config.SMTPPool() + 8
	w.Handle(accounts.AccountEmailJob, a.Accounts.SendAccountEmail(a.Mail, a.Config.MailFrom, a.Config.BaseURL))
	w.HandleBatch(issuance.EmailJob, a.Delivery.SendEmailBatch(a.Mail, a.Config.MailFrom))
	w.SetPolicy(issuance.EmailJob, delivery.EmailRetry)
	w.Handle(issuance.EmailBulkJob, a.Delivery.SendEmailBulk(a.Mail, a.Config.MailFrom))
	// A bulk email job holds its 250 signed and rendered messages while it
	// waits for an SMTP connection: no more run at once than there are
	// connections, and the other goroutines keep the other kinds moving.
	bulk := delivery.EmailBulkRetry
	bulk.Concurrency = a.Config.SMTPPool()
	w.SetPolicy(issuance.EmailBulkJob, bulk)
	w.Handle(issuance.ChangedJob, a.Signing.HandleChanged())
	w.Handle(issuance.PublishScheduleJob, a.Issuance.HandlePublishSchedule)
	w.Handle(issuance.SearchKeysJob, func(ctx context.Context, _ jobs.Job) error {
		_, err := a.Issuance.FillSearchKeys(ctx)
		return err
	})
	w.Handle(issuance.PublishJob, a.Issuance.HandlePublish())
	w.Handle(issuance.BulkJob, a.Issuance.HandleBulk())
	w.Handle(wallet.EmailJob, a.Wallet.SendOfferEmail(a.Mail, a.Config.MailFrom))
	w.Schedule(reminders.Job, reminders.Interval, a.Reminders.Handle)
	w.Handle(reminders.RenewalNoticeJob, a.Delivery.SendRenewalNotice(a.Mail, a.Config.MailFrom))
	w.SetPolicy(reminders.RenewalNoticeJob, delivery.EmailRetry)
	w.Handle(recipient.EmailJob, a.Recipient.SendEmail(a.Mail, a.Config.MailFrom, a.Config.BaseURL))
	a.Imports.HandleImportJobs(w)
	w.Schedule(insight.FlushJob, insight.FlushEvery, a.Insight.HandleFlush)
	a.Canvas.HandleJobs(w)
	// The one reconciliation schedule, for every platform's rules.
	a.Course.HandleJobs(w, a.Config.ReconcileInterval)
	return w.Run(ctx)
}

// signInLanding sends an owner's sign-in to organisation setup while the
// organisation has no name: nothing can be published before, and only an
// owner can name it.
func (a *App) signInLanding(ctx context.Context, p *auth.Principal) (string, error) {
	if p.Role != auth.Owner {
		return "", nil
	}
	switch err := a.Issuance.PublishAllowed(ctx); {
	case apperr.Reason(err) == issuance.ReasonOrganisationNotSet:
		return issuance.OrganisationSetupURL, nil
	case err != nil:
		return "", err
	}
	return "", nil
}
