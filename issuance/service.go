package issuance

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/web"
)

// Service is the issuance core: every change to designs, groups and
// credentials goes through it, with its audit entry in the same transaction.
type Service struct {
	DB      *sqlx.DB
	BaseURL string // public URL of this deployment, without a trailing slash
	Now     func() time.Time
	Log     *slog.Logger
}

// New returns a Service on db whose public links start with baseURL.
func New(db *sqlx.DB, baseURL string) *Service {
	return &Service{DB: db, BaseURL: baseURL, Now: time.Now, Log: slog.Default()}
}

var errTODO = errors.New("not implemented yet")

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
}

// PublishResult says what Publish did.
type PublishResult struct{ Published, Emails int }

// AuditEntry is one change in the audit log.
type AuditEntry struct {
	ID            int64
	At            time.Time
	Actor, Action string
	Before, After json.RawMessage
}

// Email is one credential email and its delivery state.
type Email struct {
	ID                           int64
	To, Reason, State, LastError string
	Attempts                     int
	CreatedAt                    time.Time
	SentAt                       *time.Time
}

func (s *Service) CreateDesign(ctx context.Context, actor string, d Design) (Design, error) {
	return Design{}, errTODO
}
func (s *Service) UpdateDesign(ctx context.Context, actor string, d Design) (Design, error) {
	return Design{}, errTODO
}
func (s *Service) Design(ctx context.Context, id int64) (Design, error) { return Design{}, errTODO }
func (s *Service) Designs(ctx context.Context) ([]Design, error)        { return nil, errTODO }
func (s *Service) DefaultDesign(ctx context.Context) (Design, error)    { return Design{}, errTODO }
func (s *Service) CreateGroup(ctx context.Context, actor string, g Group) (Group, error) {
	return Group{}, errTODO
}
func (s *Service) UpdateGroup(ctx context.Context, actor string, g Group) (Group, error) {
	return Group{}, errTODO
}
func (s *Service) Group(ctx context.Context, id int64) (Group, error) { return Group{}, errTODO }
func (s *Service) Groups(ctx context.Context, only []int64) ([]GroupSummary, error) {
	return nil, errTODO
}
func (s *Service) ValidateNew(ctx context.Context, g Group, items []NewCredential) error {
	return errTODO
}
func (s *Service) CreateCredentials(ctx context.Context, actor string, groupID int64, src Source, items []NewCredential) ([]Credential, error) {
	return nil, errTODO
}
func (s *Service) Credential(ctx context.Context, id string) (Credential, error) {
	return Credential{}, errTODO
}
func (s *Service) Credentials(ctx context.Context, groupID int64, opt ListOptions) ([]Credential, string, error) {
	return nil, "", errTODO
}
func (s *Service) AmendCredential(ctx context.Context, actor, id string, a Amendment) (Credential, error) {
	return Credential{}, errTODO
}
func (s *Service) CountPublishable(ctx context.Context, sel Selection) (int, error) {
	return 0, errTODO
}
func (s *Service) Publish(ctx context.Context, actor string, sel Selection) (PublishResult, error) {
	return PublishResult{}, errTODO
}
func (s *Service) Revoke(ctx context.Context, actor, id, reason string) (Credential, error) {
	return Credential{}, errTODO
}
func (s *Service) Resend(ctx context.Context, actor, id string) error { return errTODO }
func (s *Service) History(ctx context.Context, credentialID string) ([]AuditEntry, error) {
	return nil, errTODO
}
func (s *Service) Emails(ctx context.Context, credentialID string) ([]Email, error) {
	return nil, errTODO
}
func (s *Service) EnsureCredential(ctx context.Context, tx *sqlx.Tx, actor string, groupID int64, src Source, item NewCredential, publish bool) (Credential, bool, error) {
	return Credential{}, false, errTODO
}
func (s *Service) SendEmailJob(sender *mail.Sender, from string) jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error { return errTODO }
}
func (s *Service) RegisterAPI(r gin.IRouter)                      {}
func (s *Service) RegisterPublic(r gin.IRouter, rd *web.Renderer) {}
