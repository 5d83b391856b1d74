package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/app"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/sandbox"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

const devOwnerEmail = "owner@laurel.test"

// devRun starts the mail catcher, opens and seeds the app, and serves it with
// its workers and the /dev pages.
func (m *Main) devRun(ctx context.Context, dir string, cfg config.Config, migrate bool) error {
	sb := &sandbox.Sandbox{}
	if cfg.SMTPURL == "" {
		catcher, err := mail.NewCatcher("127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start mail catcher: %w", err)
		}
		m.onClose(func() { _ = catcher.Close() })
		cfg.SMTPURL = catcher.URL()
		sb.Mail = catcher
	}
	sim, err := sandbox.NewCanvas(cfg.BaseURL)
	if err != nil {
		return fmt.Errorf("build the Canvas sandbox: %w", err)
	}
	sb.Canvas = sim
	if _, set := os.LookupEnv("LAUREL_LIVE_EVENTS_JWKS_URL"); !set {
		// Sandbox completions are signed by the sandbox, not Instructure.
		cfg.LiveEventsJWKSURL = sim.LiveEventsJWKSURL()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	opts := app.Options{
		Templates: []fs.FS{sandbox.Templates},
		Routes:    func(r *gin.Engine, rd *web.Renderer) { sb.Register(r, rd) },
	}
	a, err := m.openWith(ctx, cfg, migrate, opts)
	if err != nil {
		return err
	}
	owner, err := devSeed(ctx, a, dir)
	if err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	sb.Owner = owner
	reach := "this machine only; set LAUREL_LISTEN=:8080 to accept other machines"
	if !loopbackOnly(cfg.Listen) {
		// Anyone who can reach the sandbox could read /dev: the password
		// stays in this terminal.
		sb.Owner = devOwnerEmail + " (its password is printed in the terminal running laurel dev; it is not shown here because this sandbox listens on " + cfg.Listen + ", reachable from other machines)"
		reach = "EVERY interface: other machines can reach this sandbox; /dev does not show the password"
	}
	if err := sim.RegisterPlatform(ctx, a.LTI.Registry()); err != nil {
		return fmt.Errorf("register the Canvas sandbox platform: %w", err)
	}
	fmt.Fprintf(m.Stdout, `
Laurel is running at %[1]s
  listening on:    %[6]s (%[7]s)
  staff sign-in:   %[1]s/login   as %[2]s
  sandbox:         %[1]s/dev     (launch as a Canvas instructor or student)
  mail catcher:    %[1]s/dev/mail
  data:            %[3]s (delete it to start over)

To use the CLI against this sandbox in another shell:
  export LAUREL_DATABASE_URL='%[4]s' LAUREL_SECRET_KEY="$(cat %[5]s)"

`, cfg.BaseURL, owner, dir, cfg.DatabaseURL, filepath.Join(dir, "secret.key"), cfg.Listen, reach)
	return runServer(ctx, a, true)
}

// devSeed creates, once, an owner account, a design and a demo group. It
// returns "email / password" of the owner (the password is kept in the data
// directory so every run can print it).
func devSeed(ctx context.Context, a *app.App, dir string) (string, error) {
	pwFile := filepath.Join(dir, "owner-password")
	users, err := a.Accounts.Users(ctx)
	if err != nil {
		return "", err
	}
	if len(users) == 0 {
		_, password, err := a.Accounts.CreateUser(ctx, devOwnerEmail, "Demo Owner", auth.Owner, nil, "")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return "", err
		}
		design, err := a.Issuance.DefaultDesign(ctx)
		if err != nil {
			return "", err
		}
		_, err = a.Issuance.CreateGroup(ctx, "system:dev-seed", issuance.Group{
			Name:        "Introduction to Data Science",
			CourseName:  "DS 101: Introduction to Data Science",
			Description: "Awarded to learners who completed every module of DS 101.",
			Language:    "en",
			DesignID:    design.ID,
			// The sandbox's teacher may map the demo course onto it.
			AvailableToInstructors: true,
			Attributes: []issuance.Attribute{
				{Key: "grade", Label: "Grade", Type: issuance.TextAttr},
				{Key: "hours", Label: "Hours", Type: issuance.NumberAttr},
			},
		})
		if err != nil {
			return "", err
		}
		if err := devSeedOrganisation(ctx, a); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(pwFile)
	if errors.Is(err, os.ErrNotExist) {
		return devOwnerEmail + " / (password set on an earlier run; see `laurel user add` to add another owner)", nil
	}
	if err != nil {
		return "", err
	}
	return devOwnerEmail + " / " + strings.TrimSpace(string(b)), nil
}

// devLogo is the demo university's logo: a shield with its initials.
const devLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 140" width="120" height="140">
<path d="M60 4 L112 22 V70 C112 104 88 126 60 136 C32 126 8 104 8 70 V22 Z" fill="#1f3a5f" stroke="#c9a227" stroke-width="6"/>
<text x="60" y="86" font-family="Georgia, serif" font-size="40" fill="#ffffff" text-anchor="middle">ESU</text>
</svg>`

// devSeedOrganisation names the sandbox's issuer, so its emails and
// credentials look like a university's.
func devSeedOrganisation(ctx context.Context, a *app.App) error {
	o, err := a.Issuance.Organisation(ctx)
	if err != nil {
		return err
	}
	o.Name = "Example State University"
	o.Website = "https://www.example.edu"
	o.ContactEmail = "registrar@example.edu"
	o.SenderName = "Example State University Registrar"
	o.Language = "en"
	_, err = a.Issuance.UpdateOrganisation(ctx, "system:dev-seed", issuance.OrganisationUpdate{Organisation: o, Logo: []byte(devLogo)})
	return err
}
