// Package people answers a person's request to see or erase what Laurel
// holds about them (GDPR articles 15 and 17, FERPA): it finds a person by
// email in every room that keeps personal data, exports it as one JSON
// document, and erases it, asking each owner to act on its own tables
// (the issuance core: credentials, their emails, expiry reminders and
// renewal requests; issuance/recipient: self-service; issuance/signing:
// signed documents and status lists; issuance/imports: import rows and
// stored files; issuance/updates: rows of updates by spreadsheet;
// lti/course: course members; lti: LMS users; canvas: Canvas
// users and inbox payloads; moodle: completion check records;
// internal/audit: entries). Its pages
// (/admin/people), API routes (/api/v1/people) and the `laurel person`
// command are for owners and admins.
//
// It owns no table: every read and write goes through the owner's
// methods. It is a feature on top of those rooms, below internal/app only.
package people

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/imports"
	"github.com/laurel-edu/laurel/issuance/recipient"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
	"github.com/laurel-edu/laurel/issuance/updates"
	"github.com/laurel-edu/laurel/issuance/wallet"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
	"github.com/laurel-edu/laurel/moodle"
)

// Service finds, exports and erases one person at a time.
type Service struct {
	DB      *sqlx.DB // for the audit log, which internal/audit owns
	Core    *issuance.Service
	Signing *signing.Service
	Imports *imports.Service
	// Updates (nil: none kept) holds updates by spreadsheet.
	Updates *updates.Service
	// Reminders holds the expiry reminders and renewal requests of the
	// person's credentials (nil: none to find).
	Reminders *reminders.Service
	Course    *course.Service
	LTI       *lti.Tool
	Canvas    *canvas.Service
	// Wallet holds the credentials' wallet claims (nil: none to find).
	Wallet *wallet.Service
	// Moodle keeps the names and emails its completion checks saw (nil:
	// none).
	Moodle *moodle.Service
	// Keys derive an erased person's tombstone and reference (a keyed hash
	// of the email), so a repeated request is recognised and a run that
	// failed midway finds what it already erased.
	Keys *secret.Keys
	// SelfService is recipient self-service (issuance/recipient), whose
	// name corrections and emails an erasure deletes (nil: none).
	SelfService interface {
		ErasePerson(ctx context.Context, email string, credentialIDs []string) (int, error)
		PersonRecords(ctx context.Context, email string, credentialIDs []string) (recipient.PersonRecords, error)
	}
}

// TombstoneName is the name an erased person's records carry.
const TombstoneName = "Erased"

// Record is everything Laurel holds about one person, as the export
// (GDPR article 15) gives it.
type Record struct {
	Email             string               `json:"email"`
	ExportedAt        time.Time            `json:"exported_at"`
	Credentials       []Credential         `json:"credentials"`
	Emails            []Email              `json:"emails"`
	ImportRows        []imports.PersonRow  `json:"import_rows"`
	CourseMemberships []course.Membership  `json:"course_memberships"`
	LMSUsers          []lti.PersonUser     `json:"lms_users"`
	CanvasUsers       []canvas.PersonUser  `json:"canvas_users"`
	MoodleChecks      []moodle.PersonState `json:"moodle_checks"`
	AuditEntries      []AuditEntry         `json:"audit_entries"`
	WalletClaims      []wallet.Claim       `json:"wallet_claims"`
	Names             []string             `json:"-"`
	credentialIDs     []string
	// SelfService is what the person did on their credentials' pages
	// (issuance/recipient): name corrections, hidden credentials, the
	// self-service emails to them and when links were sent.
	SelfService recipient.PersonRecords `json:"self_service"`
	// UpdateRows are the rows of updates by spreadsheet about the person's
	// credentials, with the values they carried.
	UpdateRows []updates.PersonRow `json:"update_rows"`
	// ExpiryReminders and RenewalRequests are the expiry emails queued for
	// the person's credentials and their requests to renew.
	ExpiryReminders []reminders.PersonReminder `json:"expiry_reminders"`
	RenewalRequests []reminders.PersonRenewal  `json:"renewal_requests"`
}

// Credential is one of the person's credentials in the export.
type Credential struct {
	ID               string            `json:"id"`
	GroupID          int64             `json:"group_id"`
	Group            string            `json:"group"`
	State            issuance.State    `json:"state"`
	Name             string            `json:"recipient_name"`
	Email            string            `json:"recipient_email"`
	IssuedOn         string            `json:"issued_on"`
	ExpiresOn        string            `json:"expires_on,omitempty"`
	Attributes       map[string]string `json:"attributes"`
	EvidenceURL      string            `json:"evidence_url,omitempty"`
	Source           issuance.Source   `json:"source"`
	RevocationReason string            `json:"revocation_reason,omitempty"`
	URL              string            `json:"url,omitempty"`
	CreatedAt        time.Time         `json:"created_at"`
	PublishedAt      *time.Time        `json:"published_at,omitempty"`
	RevokedAt        *time.Time        `json:"revoked_at,omitempty"`
}

// Email is one credential email queued or sent to the person.
type Email struct {
	ID           int64      `json:"id"`
	CredentialID string     `json:"credential_id"`
	To           string     `json:"to"`
	Reason       string     `json:"reason"`
	State        string     `json:"state"`
	Attempts     int        `json:"attempts"`
	LastError    string     `json:"last_error,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	SentAt       *time.Time `json:"sent_at,omitempty"`
}

// AuditEntry is one audit log entry that names the person.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	EntityType string    `json:"entity_type"`
	EntityID   string    `json:"entity_id"`
	Before     any       `json:"before,omitempty"`
	After      any       `json:"after,omitempty"`
}

// CheckEmail validates the email a person is looked up by: one address,
// not an erased person's placeholder. A bad one is an apperr.Fields error
// naming "email".
func CheckEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	bad := func(msg string) (string, error) {
		return "", apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: "email", Message: msg}})
	}
	if e == "" {
		return bad("Type the person's email address.")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e || len(e) > 254 {
		return bad(fmt.Sprintf("%q is not one email address.", e))
	}
	if issuance.IsTombstoneEmail(e) {
		return bad("This is the placeholder of a person already erased; there is nothing to look up.")
	}
	return e, nil
}

// Find returns everything Laurel holds about the person with email (case
// does not matter). A bad email is an apperr.Fields error naming "email".
func (s *Service) Find(ctx context.Context, email string) (Record, error) {
	email, err := CheckEmail(email)
	if err != nil {
		return Record{}, err
	}
	r := Record{Email: strings.ToLower(email), ExportedAt: s.Core.Time().UTC()}
	creds, emails, err := s.Core.PersonCredentials(ctx, email)
	if err != nil {
		return Record{}, err
	}
	groups := map[int64]string{}
	names := map[string]bool{}
	addName := func(n string) {
		if n = strings.Join(strings.Fields(n), " "); n != "" && !names[strings.ToLower(n)] {
			names[strings.ToLower(n)] = true
			r.Names = append(r.Names, n)
		}
	}
	for _, c := range creds {
		if _, ok := groups[c.GroupID]; !ok {
			g, err := s.Core.Group(ctx, c.GroupID)
			if err != nil {
				return Record{}, err
			}
			groups[c.GroupID] = g.Name
		}
		v := Credential{ID: c.ID, GroupID: c.GroupID, Group: groups[c.GroupID], State: c.State, Name: c.Recipient.Name,
			Email: c.Recipient.Email, IssuedOn: c.IssuedOn.Format(issuance.DateLayout), Attributes: c.Attributes,
			EvidenceURL: c.EvidenceURL, Source: c.Source, RevocationReason: c.RevocationReason, CreatedAt: c.CreatedAt,
			PublishedAt: c.PublishedAt, RevokedAt: c.RevokedAt}
		if c.ExpiresOn != nil {
			v.ExpiresOn = c.ExpiresOn.Format(issuance.DateLayout)
		}
		if c.State != issuance.Unpublished {
			v.URL = s.Core.CredentialURL(c.ID)
		}
		r.Credentials = append(r.Credentials, v)
		r.credentialIDs = append(r.credentialIDs, c.ID)
		addName(c.Recipient.Name)
	}
	for _, e := range emails {
		r.Emails = append(r.Emails, Email{ID: e.ID, CredentialID: e.CredentialID, To: e.To, Reason: e.Reason, State: e.State,
			Attempts: e.Attempts, LastError: e.LastError, CreatedAt: e.CreatedAt, SentAt: e.SentAt})
	}
	if r.ImportRows, err = s.Imports.PersonRows(ctx, email); err != nil {
		return Record{}, err
	}
	for _, row := range r.ImportRows {
		addName(row.Name)
	}
	if r.CourseMemberships, err = s.Course.PersonMemberships(ctx, email); err != nil {
		return Record{}, err
	}
	if r.LMSUsers, err = s.LTI.PersonUsers(ctx, email); err != nil {
		return Record{}, err
	}
	for _, u := range r.LMSUsers {
		addName(u.Name)
	}
	if r.CanvasUsers, err = s.Canvas.PersonUsers(ctx, email); err != nil {
		return Record{}, err
	}
	for _, u := range r.CanvasUsers {
		addName(u.Name)
	}
	r.MoodleChecks = []moodle.PersonState{}
	if s.Moodle != nil {
		if r.MoodleChecks, err = s.Moodle.PersonStates(ctx, email); err != nil {
			return Record{}, err
		}
	}
	for _, u := range r.MoodleChecks {
		addName(u.Name)
	}
	r.WalletClaims = []wallet.Claim{}
	if s.Wallet != nil {
		if r.WalletClaims, err = s.Wallet.PersonClaims(ctx, r.credentialIDs); err != nil {
			return Record{}, err
		}
	}
	es, err := audit.PersonEntries(ctx, s.DB, audit.Person{Email: email, EntityType: "credential", EntityIDs: r.credentialIDs})
	if err != nil {
		return Record{}, err
	}
	r.AuditEntries = []AuditEntry{}
	for _, e := range es {
		r.AuditEntries = append(r.AuditEntries, AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action,
			EntityType: e.EntityType, EntityID: e.EntityID, Before: e.Before, After: e.After})
	}
	// Empty lists, not null, so a script can count them.
	r.Credentials, r.Emails, r.ImportRows = orEmpty(r.Credentials), orEmpty(r.Emails), orEmpty(r.ImportRows)
	r.CourseMemberships, r.LMSUsers, r.CanvasUsers = orEmpty(r.CourseMemberships), orEmpty(r.LMSUsers), orEmpty(r.CanvasUsers)
	if err := s.findSelfServiceUpdatesExpiry(ctx, &r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// findSelfServiceUpdatesExpiry adds to r what recipient self-service,
// updates by spreadsheet and expiry reminders keep about the person: each
// of them is deleted by an erasure, so the export lists it first.
func (s *Service) findSelfServiceUpdatesExpiry(ctx context.Context, r *Record) error {
	r.SelfService = recipient.PersonRecords{NameCorrections: []recipient.PersonCorrection{}, Hidden: []recipient.PersonHidden{},
		Emails: []recipient.PersonMail{}, Links: []recipient.PersonLink{}}
	r.UpdateRows, r.ExpiryReminders, r.RenewalRequests = []updates.PersonRow{}, []reminders.PersonReminder{}, []reminders.PersonRenewal{}
	var err error
	if s.SelfService != nil {
		if r.SelfService, err = s.SelfService.PersonRecords(ctx, r.Email, r.credentialIDs); err != nil {
			return err
		}
	}
	if s.Updates != nil {
		if r.UpdateRows, err = s.Updates.PersonRows(ctx, r.credentialIDs); err != nil {
			return err
		}
	}
	if s.Reminders != nil {
		ex, err := s.Reminders.Person(ctx, r.credentialIDs)
		if err != nil {
			return err
		}
		r.ExpiryReminders, r.RenewalRequests = ex.Reminders, ex.RenewalRequests
	}
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Empty reports whether Laurel holds nothing about the person.
func (r Record) Empty() bool {
	return len(r.Credentials)+len(r.Emails)+len(r.ImportRows)+len(r.CourseMemberships)+len(r.LMSUsers)+
		len(r.CanvasUsers)+len(r.AuditEntries)+len(r.SelfService.Emails)+len(r.UpdateRows) == 0
}

// Erasure says what Erase did, in counts only: it is what the audit log
// keeps of an erasure.
type Erasure struct {
	// Ref is the keyed hash of the email that the erasure's audit entry is
	// filed under: the same for the same person every time.
	Ref                 string `json:"ref"`
	CredentialsDeleted  int    `json:"credentials_deleted"`
	CredentialsRevoked  int    `json:"credentials_revoked"`
	CredentialsScrubbed int    `json:"credentials_already_revoked"`
	Emails              int    `json:"emails"`
	SignedDocuments     int    `json:"signed_documents"`
	ImportRows          int    `json:"import_rows"`
	ImportFiles         int    `json:"import_files"`
	UpdateRows          int    `json:"update_rows"`
	CourseMemberships   int    `json:"course_memberships"`
	LMSUsers            int    `json:"lms_users"`
	CanvasUsers         int    `json:"canvas_users"`
	CanvasEvents        int    `json:"canvas_events"`
	MoodleChecks        int    `json:"moodle_checks"`
	AuditEntries        int    `json:"audit_entries"`
	SelfService         int    `json:"self_service,omitempty"`
	WalletClaims        int    `json:"wallet_claims"`
}

// Summary says what the erasure did, for people.
func (e Erasure) Summary() string {
	parts := []string{}
	add := func(n int, one, many string) {
		if n == 1 {
			parts = append(parts, "1 "+one)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(e.CredentialsDeleted, "unpublished credential deleted", "unpublished credentials deleted")
	add(e.CredentialsRevoked, "published credential revoked", "published credentials revoked")
	add(e.CredentialsScrubbed, "revoked credential cleared", "revoked credentials cleared")
	add(e.Emails, "credential email cleared", "credential emails cleared")
	add(e.SignedDocuments, "signed document replaced", "signed documents replaced")
	add(e.ImportRows, "import row cleared", "import rows cleared")
	add(e.ImportFiles, "stored import file rewritten", "stored import files rewritten")
	add(e.UpdateRows, "spreadsheet update row deleted", "spreadsheet update rows deleted")
	add(e.CourseMemberships, "course membership cleared", "course memberships cleared")
	add(e.LMSUsers, "LMS user cleared", "LMS users cleared")
	add(e.CanvasUsers, "Canvas user cleared", "Canvas users cleared")
	add(e.CanvasEvents, "Canvas event payload dropped", "Canvas event payloads dropped")
	add(e.MoodleChecks, "Moodle completion check record cleared", "Moodle completion check records cleared")
	add(e.AuditEntries, "audit entry cleared", "audit entries cleared")
	add(e.SelfService, "self-service record deleted", "self-service records deleted")
	add(e.WalletClaims, "wallet claim forgotten", "wallet claims forgotten")
	if len(parts) == 0 {
		return "nothing left to erase"
	}
	return strings.Join(parts, ", ")
}

// token is the person's keyed hash: the erasure's reference and the local
// part of their tombstone email. Without the secret key it cannot be
// computed from an email, so it does not reveal who was erased.
func (s *Service) token(email string) (string, error) {
	if s.Keys == nil {
		return "", fmt.Errorf("erase a person: no secret key (LAUREL_SECRET_KEY) to derive the tombstone")
	}
	return hex.EncodeToString(s.Keys.MAC([]byte("person-erasure:" + strings.ToLower(email)))[:12]), nil
}

// Tombstone is what replaces the person's name and email.
func (s *Service) Tombstone(email string) (issuance.Tombstone, string, error) {
	tok, err := s.token(email)
	if err != nil {
		return issuance.Tombstone{}, "", err
	}
	return issuance.Tombstone{Name: TombstoneName, Email: "erased-" + tok + "@invalid"}, tok, nil
}

// Erase erases the person with email (GDPR article 17): unpublished
// credentials are deleted; published ones revoked with
// issuance.ErasedReason (the status list re-signed with their bit set);
// the person's name, email and attribute values everywhere Laurel keeps
// them are replaced by the tombstone; and the erasure is audited as
// actor, under the person's keyed hash, with counts only. Each owner's
// step is idempotent and the tombstone is derived from the email, so
// running it again (after a failure midway, or a repeated request) finishes
// the work and changes nothing already done. A bad email is an
// apperr.Fields error naming "email".
func (s *Service) Erase(ctx context.Context, actor, email string) (Erasure, error) {
	r, err := s.Find(ctx, email)
	if err != nil {
		return Erasure{}, err
	}
	email = r.Email
	t, ref, err := s.Tombstone(email)
	if err != nil {
		return Erasure{}, err
	}
	out := Erasure{Ref: ref}
	ce, err := s.Core.ErasePerson(ctx, actor, email, t)
	if err != nil {
		return out, err
	}
	out.CredentialsDeleted, out.CredentialsRevoked, out.CredentialsScrubbed, out.Emails = ce.Deleted, ce.Revoked, ce.Scrubbed, ce.Emails
	if out.SignedDocuments, err = s.Signing.ErasePerson(ctx, ce.Public); err != nil {
		return out, err
	}
	ie, err := s.Imports.ErasePerson(ctx, email, r.Names, t)
	if err != nil {
		return out, err
	}
	out.ImportRows, out.ImportFiles = ie.Rows, ie.Files
	if out.CourseMemberships, err = s.Course.ErasePerson(ctx, email, t.Email); err != nil {
		return out, err
	}
	if out.LMSUsers, err = s.LTI.ErasePerson(ctx, email, t.Name, t.Email); err != nil {
		return out, err
	}
	cv, err := s.Canvas.ErasePerson(ctx, email, t.Name, t.Email)
	if err != nil {
		return out, err
	}
	out.CanvasUsers, out.CanvasEvents = cv.Users, cv.Events
	if s.Moodle != nil {
		if out.MoodleChecks, err = s.Moodle.ErasePerson(ctx, email, t.Name, t.Email); err != nil {
			return out, err
		}
	}
	ids := append(append([]string{}, r.credentialIDs...), ce.Public...)
	if s.SelfService != nil {
		if out.SelfService, err = s.SelfService.ErasePerson(ctx, email, ids); err != nil {
			return out, err
		}
	}
	if s.Updates != nil {
		if out.UpdateRows, err = s.Updates.ErasePerson(ctx, ids); err != nil {
			return out, err
		}
	}
	if s.Wallet != nil {
		if out.WalletClaims, err = s.Wallet.ErasePerson(ctx, ids); err != nil {
			return out, err
		}
	}
	if out.AuditEntries, err = audit.ErasePerson(ctx, s.DB, audit.Person{Email: email, EntityType: "credential", EntityIDs: ids,
		Names: r.Names, TombName: t.Name, TombEmail: t.Email, DropKeys: []string{"attributes", "evidence_url", "holder", "requested_name", "reason"}}); err != nil {
		return out, err
	}
	if err := audit.Record(ctx, s.DB, s.Core.Time(), actor, "erase", "person", ref, nil, out); err != nil {
		return out, err
	}
	s.Core.Logger().Info("person erased", "ref", ref, "actor", actor, "summary", out.Summary())
	return out, nil
}
