// Package moodle is what only Moodle does: a platform's Moodle web service
// settings (the site URL and the sealed token), the client of Moodle's REST
// web service, and the rule "Moodle course completion" behind the rule
// engine of package course (course.Checker): it reads who completed a
// mapped course and hands the awards to course.Grant. It owns the tables
// moodle_platform_settings, moodle_checks and moodle_rule_states.
//
// Moodle's LTI launch names the course and the person by Moodle's own ids:
// the launch's context.id is the course id and its sub the user id
// (mod/lti/locallib.php), so a mapping's context_id is all the web
// services need.
package moodle

import (
	"context"
	"errors"
	"github.com/laurel-edu/laurel/internal/locale"
	"log/slog"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// Issuer is the part of the issuance core a check uses: the idempotent
// create (through course.Grant) and the API's credential shape.
type Issuer interface {
	course.Ensurer
	CredentialJSON(c issuance.Credential) issuance.CredentialJSON
	// Locale is the organisation's language and time zone (the why lines'
	// dates).
	Locale(ctx context.Context) locale.Locale
}

// Courses is the part of package course a check uses.
type Courses interface {
	Mapping(ctx context.Context, id int64) (course.Mapping, error)
}

// Platforms looks a registered platform up (lti.Registry).
type Platforms interface {
	Platform(ctx context.Context, id int64) (lti.Platform, error)
}

// Options configures a Service. DB, Keys, Issuer, Courses and Platforms are
// required.
type Options struct {
	DB        *sqlx.DB
	Keys      *secret.Keys
	Issuer    Issuer
	Courses   Courses
	Platforms Platforms
	// HTTPClient calls Moodle (default: 30 s timeout).
	HTTPClient *http.Client
	// Concurrency bounds the completion requests in flight per course
	// (default 8, see defaultConcurrency).
	Concurrency int
	Now         func() time.Time
	Log         *slog.Logger
}

// defaultConcurrency: Moodle answers each web service call in one PHP
// worker (a typical site runs a few dozen); eight at a time checks a
// 2,000-student course well within a minute while leaving most workers to
// the people using the site.
const defaultConcurrency = 8

// Service is the Moodle feature. Build it with New.
type Service struct {
	db          *sqlx.DB
	issuer      Issuer
	courses     Courses
	platforms   Platforms
	settings    *PlatformSettings
	client      *http.Client
	concurrency int
	now         func() time.Time
	log         *slog.Logger
}

// New builds the Moodle service.
func New(o Options) (*Service, error) {
	switch {
	case o.DB == nil:
		return nil, errors.New("moodle.New: DB is required")
	case o.Keys == nil:
		return nil, errors.New("moodle.New: Keys is required")
	case o.Issuer == nil:
		return nil, errors.New("moodle.New: Issuer is required")
	case o.Courses == nil:
		return nil, errors.New("moodle.New: Courses is required")
	case o.Platforms == nil:
		return nil, errors.New("moodle.New: Platforms is required")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{db: o.DB, issuer: o.Issuer, courses: o.Courses, platforms: o.Platforms,
		settings: NewPlatformSettings(o.DB, o.Keys), client: o.HTTPClient, concurrency: o.Concurrency,
		now: o.Now, log: o.Log}, nil
}

// PlatformSettings is the Moodle settings store, the lti.PlatformExtension
// the app installs on the platform registry.
func (s *Service) PlatformSettings() *PlatformSettings { return s.settings }

// Checker is Moodle's part of the rule engine: give it to
// course.Service.AddChecker.
func (s *Service) Checker() course.Checker { return checker{s} }
