package issuance

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/groupcommit"
)

// Service is the issuance core: every change to designs, groups and
// credentials goes through it, with its audit entry in the same transaction.
type Service struct {
	DB      *sqlx.DB
	BaseURL string // public URL of this deployment, without a trailing slash
	Now     func() time.Time
	Log     *slog.Logger
	// Actors names who did what in the history pages (audit.Namer); the
	// app wires the owners of staff, tokens and LMS users. nil: no names.
	Actors auditlog.Namer
	// Limits adds a group a limited team member creates to their limit
	// (CreateGroupInLimit); the app wires the staff accounts.
	Limits GroupLimits
	// AddressChanged, when set, runs in the transaction of an amendment that
	// changes a published credential's email address (old is the previous
	// one), so the notices to both addresses are queued with the change;
	// the app wires recipient self-service.
	AddressChanged func(ctx context.Context, tx *sqlx.Tx, c Credential, old string) error
	// prepared runs the queries of a launch's student view prepared.
	prepared     *db.Statements
	preparedOnce sync.Once
	// sent gathers the "sent" records of emails accepted at the same
	// moment on different SMTP connections into one statement.
	sent     *groupcommit.Writer[sentRecord, struct{}]
	sentOnce sync.Once
	// org is Organisation's brief cache (one entry), made on first use so
	// a Service built without New has one; orgMu orders its compare-and-set
	// against UpdateOrganisation's.
	org     *cache.TTL[struct{}, Organisation]
	orgOnce sync.Once
	orgMu   sync.Mutex
}

// New returns a Service on db whose public links start with baseURL.
func New(db *sqlx.DB, baseURL string) *Service {
	return &Service{DB: db, BaseURL: baseURL, Now: time.Now, Log: slog.Default()}
}

func (s *Service) stmts() *db.Statements {
	s.preparedOnce.Do(func() { s.prepared = db.NewStatements(s.DB) })
	return s.prepared
}

// GroupSummary is a group with its credential counts per state.
type GroupSummary struct {
	Group
	Unpublished, Published, Revoked int
}

// NewCredential is one credential to create.
type NewCredential struct {
	Recipient   Recipient
	IssuedOn    string // YYYY-MM-DD
	ExpiresOn   string // YYYY-MM-DD; "" derives it from the group's validity
	Attributes  map[string]string
	EvidenceURL string
	ExternalRef string
}

// ListOptions selects a page of credentials.
type ListOptions struct {
	State  State
	Cursor string
	Limit  int // 0 → 50, at most 500
	// Query keeps credentials whose recipient name or email contains it
	// (case-insensitive); "" keeps all.
	Query string
	// Source keeps one source; "" keeps all.
	Source Source
	// IssuedFrom and IssuedTo (YYYY-MM-DD, inclusive; "" for open) bound
	// the issue date.
	IssuedFrom, IssuedTo string
	// Recipients keeps the credentials of these people only; nil keeps all.
	Recipients *Recipients
}

// Amendment changes some of a credential's fields; nil fields stay as they are.
type Amendment struct {
	Name, Email, IssuedOn, ExpiresOn *string
	Attributes                       map[string]string // nil = unchanged
}

// Selection names credentials to publish: IDs, or every unpublished one in a group.
type Selection struct {
	IDs            []string
	GroupID        int64
	AllUnpublished bool
	// Recipients limits the selection to these people's credentials
	// (nil: no limit).
	Recipients *Recipients
}

// PublishResult says what Publish did: how many credentials it published
// and emails it queued, or, with InBackground, how many a PublishJob is
// publishing (and emailing) now.
type PublishResult struct {
	Published, Emails int
	InBackground      bool
}

// Email is one credential email and its delivery state.
type Email struct {
	ID                           int64
	To, Reason, State, LastError string
	Attempts                     int
	CreatedAt                    time.Time
	SentAt                       *time.Time
	LastAttemptAt                *time.Time
}

// ReasonText says in words why the email was sent.
func (e Email) ReasonText() string {
	switch e.Reason {
	case "published":
		return "Published"
	case "resend":
		return "Sent again"
	case "reminder":
		return "Expiry reminder"
	case "expired":
		return "Expired"
	}
	return e.Reason
}

// StateText says in words where the email is.
func (e Email) StateText() string {
	switch e.State {
	case "queued":
		return "Waiting to be sent"
	case "sent":
		return "Sent"
	case "failed":
		return "Not delivered"
	}
	return e.State
}

// Time is the service's clock, s.Now (time.Now for a Service built without
// New): every time the service decides by or stores comes from it, and the
// features built on the core read it too, so a test that moves it moves
// them all.
func (s *Service) Time() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Logger is s.Log, or the default logger for a Service built without New;
// the features built on the core log through it.
func (s *Service) Logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
