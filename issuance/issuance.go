// Package issuance is Laurel's domain core: designs, groups and their custom
// attributes, credentials and their life cycle (unpublished → published →
// revoked, amended, deleted), each change with its audit entry in the same
// transaction, the organisation settings, and the one JSON shape of a
// credential (CredentialJSON).
//
// It owns the tables designs, groups, attributes (the organisation's
// attribute variables, attributes.go), credentials, organisation,
// credential_emails (the email outbox, written by Publish and Resend in
// their transaction and read and marked by delivery through OutboxEmails,
// MarkEmailSent, MarkEmailDelivered, RecordEmailFailure and FinishEmails),
// publish_runs (large publishes, carried out by PublishJob), bulk_runs
// (bulk revoke, resend, expiry or delete of more than 10,000, carried out
// by BulkJob; see bulk_actions.go), attributes (the organisation's
// attribute variables) and group_images (the one image of each image
// attribute of a group). It depends on none of the features built on it
// (issuance/imports, signing, delivery, reminders, staff, api, public); it
// tells them of changes with jobs it defines (ChangedJob, EmailJob,
// EmailBulkJob) and lets them read and write what they need through its
// methods (LockPublic, PublicVersionOf, RevokedSeqs, PublicGroup,
// ExpiringCredentials, QueueExpiryEmails...). Who may see each attribute of a credential is decided
// here too, once, for every surface (Group.Visible, Group.VisibleAttributes,
// Credential.VisibleValues).
package issuance

import "time"

// DesignKind says how a credential looks.
type DesignKind string

// Design kinds.
const (
	Badge       DesignKind = "badge"       // an uploaded PNG or SVG image
	Certificate DesignKind = "certificate" // a printable page / PDF layout
)

// Design is how a group's credentials look.
type Design struct {
	ID             int64      `json:"id"`
	Name           string     `json:"name"`
	Kind           DesignKind `json:"kind"`
	Image          []byte     `json:"-"` // badge image
	ImageType      string     `json:"image_type,omitempty"`
	Title          string     `json:"title"` // certificate heading, e.g. "Certificate of Completion"
	PrimaryColor   string     `json:"primary_color"`
	SecondaryColor string     `json:"secondary_color"`
	Logo           []byte     `json:"-"`
	LogoType       string     `json:"logo_type,omitempty"`
	// PrintedAttributes lists the attribute keys a certificate prints
	// (standard keys such as "recipient_name" and group attribute keys).
	PrintedAttributes []string `json:"printed_attributes"`
	// Layout is the look the design's template gave it (see Layouts);
	// "" on input means the kind's first layout, LayoutClassic for a
	// certificate, the look every design had before layouts.
	Layout Layout `json:"layout"`
	// ImageSlots places a certificate's image attributes (e.g. a
	// signature): slot ("left", "centre", "right") → attribute key.
	ImageSlots map[string]string `json:"image_slots"`
	IsDefault  bool              `json:"is_default"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// AttributeType is the type of a custom attribute's values.
type AttributeType string

// Attribute types.
const (
	TextAttr   AttributeType = "text"
	DateAttr   AttributeType = "date"
	NumberAttr AttributeType = "number"
	URLAttr    AttributeType = "url"
	ImageAttr  AttributeType = "image"
)

// Attribute is a custom attribute defined by a group (e.g. "Grade").
type Attribute struct {
	Key      string        `json:"key"`
	Label    string        `json:"label"`
	Type     AttributeType `json:"type"`
	Required bool          `json:"required"`
	// Visibility says who sees its values (see Group.Visible); empty on
	// input means VisibilityRecipient.
	Visibility Visibility `json:"visibility"`
	// ResultType marks a result (a grade, a score) with its Open Badges
	// ResultType; a public result goes into the signed credential. "" for
	// an attribute that is not a result.
	ResultType ResultType `json:"result_type"`
}

// Group is a collection of learners who completed the same achievement.
type Group struct {
	ID              int64       `json:"id"`
	Name            string      `json:"name"`
	CourseName      string      `json:"course_name"`
	Description     string      `json:"description"`
	CourseLink      string      `json:"course_link"`
	Language        string      `json:"language"`
	DesignID        int64       `json:"design_id"`
	Attributes      []Attribute `json:"attributes"`
	ValidityMonths  *int        `json:"validity_months"`
	AllowDuplicates bool        `json:"allow_duplicates"`
	// AvailableToInstructors lets the instructors of any course map their
	// course onto this group from a launch (otherwise only the instructors
	// of a course the group was created for may).
	AvailableToInstructors bool `json:"available_to_instructors"`
	// AllowAutoPublish lets instructors choose that completions publish at
	// once (otherwise they wait unpublished for staff review).
	AllowAutoPublish bool      `json:"allow_auto_publish"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// State is where a credential is in its life cycle.
type State string

// Credential states.
const (
	Unpublished State = "unpublished"
	Published   State = "published"
	Revoked     State = "revoked"
)

// Label is how pages name the state.
func (s State) Label() string {
	switch s {
	case Unpublished:
		return "Unpublished"
	case Published:
		return "Published"
	case Revoked:
		return "Revoked"
	}
	return string(s)
}

// Source says how a credential came to be.
type Source string

// Credential sources.
const (
	FromCompletion     Source = "completion"
	FromReconciliation Source = "reconciliation"
	FromForm           Source = "form"
	FromCSV            Source = "csv"
	FromAPI            Source = "api"
)

// Recipient is who a credential is for.
type Recipient struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Credential is one recipient's credential in one group. Its one JSON
// shape is CredentialJSON.
type Credential struct {
	ID               string
	GroupID          int64
	State            State
	Recipient        Recipient
	IssuedOn         time.Time  // a date (UTC midnight)
	ExpiresOn        *time.Time // a date (UTC midnight), if any
	Attributes       map[string]string
	EvidenceURL      string
	Source           Source
	ExternalRef      string
	RevocationReason string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	PublishedAt      *time.Time
	RevokedAt        *time.Time
}

// Expired reports whether the credential's expiry date has passed at now.
func (c *Credential) Expired(now time.Time) bool {
	return c.ExpiresOn != nil && now.UTC().Truncate(24*time.Hour).After(*c.ExpiresOn)
}

// DateLayout is the wire and form format of dates.
const DateLayout = "2006-01-02"

// HumanDate is how pages, emails and certificates show a date.
const HumanDate = "2 January 2006"

// Label is how staff pages name the source.
func (s Source) Label() string {
	switch s {
	case FromCompletion:
		return "Course completion"
	case FromReconciliation:
		return "Completion check"
	case FromForm:
		return "Form"
	case FromCSV:
		return "CSV import"
	case FromAPI:
		return "API"
	}
	return string(s)
}

// HasAttribute reports whether g defines attribute key.
func (g Group) HasAttribute(key string) bool {
	for _, a := range g.Attributes {
		if a.Key == key {
			return true
		}
	}
	return false
}

// MaxImageBytes bounds a badge image or logo.
const MaxImageBytes = 1 << 20

// Link is a labelled link to a credential's page or file, as its page and
// its email show it.
type Link struct{ Label, URL string }
