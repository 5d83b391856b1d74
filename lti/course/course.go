// Package course is the views an LTI launch shows in a course, for any LTI
// 1.3 platform (Canvas, Moodle, ...): the course ↔ credential group mapping
// (made by an instructor's launch or through the /api/v1/mappings API), the
// student's credential, and the instructor's review and publish of the
// credentials of the course's own people in its group.
//
// It owns the tables course_mappings (a course on a platform → a group, and
// what makes its credentials), course_groups (the groups created for a
// course from its launches) and course_members (the people seen in a
// course, whose credentials alone its instructors see). Credentials go through the issuance core,
// launches and platforms through package lti. What only Canvas does (its
// users, completion checks through its REST API, its platform settings) is
// behind the Canvas interface, which package canvas implements.
package course

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/lti"
)

// Platforms looks a registered platform up; lti.Registry implements it.
type Platforms interface {
	// Platform returns one platform, or an apperr.NotFound error.
	Platform(ctx context.Context, id int64) (lti.Platform, error)
}

// Canvas is what the course views need of Canvas alone: Canvas's user ids
// and root account, its platform settings, and the completion checks it
// answers through its REST API. Package canvas implements it.
type Canvas interface {
	// NoteLaunch records what a launch says about its Canvas user (ids,
	// name, email) and its root account.
	NoteLaunch(ctx context.Context, l *lti.Launch) error
	// Settings returns the platform's Canvas URL ("" when it has none) and
	// whether a Canvas API token is stored.
	Settings(ctx context.Context, platformID int64) (canvasURL string, hasToken bool, err error)
	// Modules lists a Canvas course's modules for the instructor's form
	// (nil when the platform has no Canvas API token).
	Modules(ctx context.Context, platformID int64, canvasCourseID string) ([]Module, error)
	// UserIDs maps the subs of the platform's known Canvas users to their
	// Canvas user ids.
	UserIDs(ctx context.Context, platformID int64) (map[string]string, error)
	// RememberUsers records what a roster says about Canvas users.
	RememberUsers(ctx context.Context, users []CanvasUser) error
	// ExternalRef is the external reference of the credentials issued to
	// a Canvas user from the platform's completions.
	ExternalRef(platformID int64, canvasUserID string) string
	// RequeueUnmapped runs in the transaction that maps a Canvas course (or
	// gives a mapping its Canvas course id): the course's completions that
	// arrived while it was unmapped are processed again.
	RequeueUnmapped(ctx context.Context, tx *sqlx.Tx, platformID int64, canvasCourseID string) error
	// Wake tells the completion worker that work may be waiting.
	Wake()
}

// Module is a module of a Canvas course (a module rule's choice).
type Module struct {
	ID, Name string
}

// Check is one completion check of a mapped course (a Checker's).
type Check struct {
	Trigger   Trigger
	StartedAt time.Time
	Checked   int
	Created   int
	Error     string
}

// Options configures a Service. DB and Platforms are required.
type Options struct {
	DB        *sqlx.DB
	Platforms Platforms
	// BaseURL is LAUREL_BASE_URL: the credential and launch links.
	BaseURL string
	Now     func() time.Time
	Log     *slog.Logger
}

// Service holds the course views' state. Build it with New.
type Service struct {
	db        *sqlx.DB
	platforms Platforms
	baseURL   string
	now       func() time.Time
	log       *slog.Logger
	// stmts runs a launch's reads prepared.
	stmts  *db.Statements
	canvas Canvas

	// checkers are the rule engine's Checkers by rule (AddChecker).
	checkersMu sync.RWMutex
	checkers   map[CompletionRule]Checker

	// lti is set by RegisterLaunch (the launch views need package lti).
	lti LaunchDeps
	// views renders the launch pages (set by RegisterLaunch).
	views viewRenderer
}

// CanvasUser is what a launch or a roster says about a Canvas user.
type CanvasUser struct {
	PlatformID                     int64
	CanvasUserID, Sub, Name, Email string
}

// New builds the course service; until SetCanvas, no platform is Canvas
// beyond its launches' tool_platform claim and nothing Canvas-only is done.
func New(o Options) (*Service, error) {
	switch {
	case o.DB == nil:
		return nil, errors.New("course.New: DB is required")
	case o.Platforms == nil:
		return nil, errors.New("course.New: Platforms is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Service{
		db:        o.DB,
		stmts:     db.NewStatements(o.DB),
		platforms: o.Platforms,
		baseURL:   strings.TrimRight(o.BaseURL, "/"),
		now:       o.Now,
		log:       o.Log,
		canvas:    noCanvas{},
	}
	return s, nil
}

// SetCanvas gives the service Canvas's side (package canvas builds it on
// this service's mappings, hence a setter). Call it before serving.
func (s *Service) SetCanvas(c Canvas) {
	if c == nil {
		c = noCanvas{}
	}
	s.canvas = c
}

// noCanvas is the Canvas side of an installation without it.
type noCanvas struct{}

func (noCanvas) NoteLaunch(context.Context, *lti.Launch) error { return nil }
func (noCanvas) Settings(context.Context, int64) (string, bool, error) {
	return "", false, nil
}
func (noCanvas) Modules(context.Context, int64, string) ([]Module, error)  { return nil, nil }
func (noCanvas) UserIDs(context.Context, int64) (map[string]string, error) { return nil, nil }
func (noCanvas) RememberUsers(context.Context, []CanvasUser) error         { return nil }
func (noCanvas) ExternalRef(int64, string) string                          { return "" }
func (noCanvas) RequeueUnmapped(context.Context, *sqlx.Tx, int64, string) error {
	return nil
}
func (noCanvas) Wake() {}
