package issuance

import (
	"context"
	"database/sql"
	"fmt"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"golang.org/x/text/language"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/locale"
)

// Organisation is the issuer: the university or school whose name, website
// and logo every credential, email and Open Badges issuer profile carries.
// There is one, edited by owners on /admin/organisation.
type Organisation struct {
	Name         string `json:"name"`
	Website      string `json:"website"`       // "" when not set; else an absolute http(s) URL
	ContactEmail string `json:"contact_email"` // "" when not set
	// LogoURL is the public, absolute URL of the logo ("" when there is
	// none); LogoType its MIME type (image/png or image/svg+xml).
	LogoURL  string `json:"logo_url"`
	LogoType string `json:"logo_type"`
	// SenderName is the display name of the publish email's From (the
	// address stays LAUREL_MAIL_FROM's); "" uses Name. ReplyTo "" uses
	// ContactEmail (and no Reply-To when that is empty too).
	SenderName string `json:"sender_name"`
	ReplyTo    string `json:"reply_to"`
	// Language is a BCP 47 tag (e.g. "en", "pt-BR"): the language of the
	// publish email the owner writes and the default of new groups. Laurel's
	// own pages are in English.
	Language string `json:"language"`
	// TimeZone is the IANA name of the zone pages and emails show times in
	// (e.g. "Europe/Paris"); never "" once read: an unset zone reads as the
	// server's (ServerZone).
	TimeZone string `json:"time_zone"`
	// EmailSubject and EmailBody are the publish email's text with
	// placeholders such as {recipient_name} (see Placeholders); "" means
	// DefaultEmailSubject / DefaultEmailBody.
	EmailSubject string `json:"email_subject"`
	EmailBody    string `json:"email_body"`
	// InstructorsMayPublish lets instructors review, amend and publish
	// their own course's credentials inside the LMS (default off).
	InstructorsMayPublish bool `json:"instructors_may_publish"`
	// LimitedMembersCreateGroups lets a team member limited to some groups
	// create groups, each of which joins their limit (default on, as the
	// Illinois guide has team members create their groups).
	LimitedMembersCreateGroups bool `json:"limited_members_create_groups"`
	// Named tells whether an owner has saved the settings at least once
	// (the seeded "Laurel" is not a name): until then nothing is published.
	Named     bool      `json:"named"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ServerZone is the time zone an organisation that has not chosen one
// uses: the server's (TZ), or UTC.
func ServerZone() string { return locale.ServerZone() }

// Subject is the publish email's subject template in effect.
func (o Organisation) Subject() string {
	if o.EmailSubject == "" {
		return DefaultEmailSubject
	}
	return o.EmailSubject
}

// Body is the publish email's body template in effect.
func (o Organisation) Body() string {
	if o.EmailBody == "" {
		return DefaultEmailBody
	}
	return o.EmailBody
}

// Sender is the display name of the publish email's From.
func (o Organisation) Sender() string {
	if o.SenderName != "" {
		return o.SenderName
	}
	return o.Name
}

// ReplyAddress is the publish email's Reply-To, "" for none.
func (o Organisation) ReplyAddress() string {
	if o.ReplyTo != "" {
		return o.ReplyTo
	}
	return o.ContactEmail
}

// The publish email's text until an owner writes their own.
const (
	DefaultEmailSubject = "Your credential for {credential_name}"
	DefaultEmailBody    = `Hello {recipient_name},

{issuer_name} has issued you a credential for {credential_name}, dated {issued_on}.

View, share and verify it here:
{credential_url}`
)

// Placeholder is one name the publish email's text may use in braces.
type Placeholder struct{ Name, Means string }

// Placeholders are the names the publish email's subject and text may use,
// written in braces: {recipient_name}. Any other name in braces is an error.
var Placeholders = []Placeholder{
	{"recipient_name", "the recipient's name"},
	{"credential_name", "the credential's name (its group)"},
	{"course_name", "the course's name"},
	{"issued_on", "the issue date"},
	{"issuer_name", "your organisation's name"},
	{"credential_url", "the link to the credential's page (required in the text)"},
	{"credential_id", "the credential's ID"},
}

// eachPlaceholder calls f with the name of each placeholder in text — 1 to
// 60 characters in braces, none of them a brace or white space (space, tab,
// CR, LF, form feed) — and where it starts and ends, from left to right,
// as the regular expression \{([^{}\s]{1,60})\} finds them. A byte scan,
// not that expression: every email of a bulk publish fills its text.
func eachPlaceholder(text string, f func(name string, start, end int)) {
	for i := 0; ; {
		k := strings.IndexByte(text[i:], '{')
		if k < 0 {
			return
		}
		i += k
		j, n := i+1, 0
	run:
		for ; j < len(text) && n <= 60; n++ {
			switch text[j] {
			case '{', '}', ' ', '\t', '\n', '\f', '\r':
				break run
			}
			_, size := utf8.DecodeRuneInString(text[j:])
			j += size
		}
		if j < len(text) && text[j] == '}' && n >= 1 && n <= 60 {
			f(text[i+1:j], i, j+1)
			i = j + 1
		} else {
			i++
		}
	}
}

// unknownPlaceholdersIn lists the names in braces in text that are not in
// known, each once, in order.
func unknownPlaceholdersIn(text string, known []Placeholder) []string {
	var out []string
	eachPlaceholder(text, func(name string, _, _ int) {
		known := slices.ContainsFunc(known, func(p Placeholder) bool { return p.Name == name })
		if !known && !slices.Contains(out, "{"+name+"}") {
			out = append(out, "{"+name+"}")
		}
	})
	return out
}

// Fill replaces the placeholders in text with vals (keyed by name without
// braces); names not in vals stay as written (checked on save).
func Fill(text string, vals map[string]string) string {
	var b strings.Builder
	last := 0
	eachPlaceholder(text, func(name string, start, end int) {
		if v, ok := vals[name]; ok {
			b.WriteString(text[last:start])
			b.WriteString(v)
			last = end
		}
	})
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

const (
	maxOrgText   = 200
	maxEmailBody = 5000
)

// CheckEmailText checks an email's subject (body false) or text (body
// true), written with the placeholders known: at most 200 or 5,000
// characters, no other name in braces, and a text that links the
// credential ({credential_url}; "" is the default text, which does). It
// returns what is wrong, in words, or "".
func CheckEmailText(text string, body bool, known []Placeholder) string {
	limit, what := maxOrgText, "The subject"
	if body {
		limit, what = maxEmailBody, "The email text"
	}
	switch u := unknownPlaceholdersIn(text, known); {
	case len([]rune(text)) > limit:
		return fmt.Sprintf("%s must be at most %d characters.", what, limit)
	case len(u) > 0:
		return unknownMessageIn(u, known)
	case body && text != "" && !strings.Contains(text, "{credential_url}"):
		return "The email text must contain {credential_url}, the link to the credential: without it the recipient cannot open it."
	}
	return ""
}

// checkOrganisation normalises o and returns its problems, each naming its
// field (the form's input names).
func checkOrganisation(o *Organisation) []apperr.FieldError {
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	o.Name = oneLine(o.Name)
	o.SenderName = oneLine(o.SenderName)
	o.Website = strings.TrimSpace(o.Website)
	o.ContactEmail = strings.TrimSpace(o.ContactEmail)
	o.ReplyTo = strings.TrimSpace(o.ReplyTo)
	o.Language = strings.TrimSpace(o.Language)
	o.EmailSubject = oneLine(o.EmailSubject)
	o.EmailBody = strings.TrimSpace(strings.ReplaceAll(o.EmailBody, "\r\n", "\n"))
	switch {
	case o.Name == "":
		bad("name", "Enter your organisation's name, e.g. University of Example.")
	case len([]rune(o.Name)) > maxOrgText:
		bad("name", fmt.Sprintf("The name must be at most %d characters.", maxOrgText))
	}
	if len([]rune(o.SenderName)) > maxOrgText {
		bad("sender_name", fmt.Sprintf("The sender name must be at most %d characters.", maxOrgText))
	}
	if o.Website != "" {
		u, err := url.Parse(o.Website)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(o.Website) > 500 {
			bad("website", "The website must be a full address starting with https://, e.g. https://www.example.edu.")
		}
	}
	for _, f := range []struct {
		field, label string
		v            *string
	}{{"contact_email", "The contact email", &o.ContactEmail}, {"reply_to", "The reply-to address", &o.ReplyTo}} {
		if *f.v == "" {
			continue
		}
		a, err := netmail.ParseAddress(*f.v)
		if err != nil || a.Name != "" || a.Address != *f.v || !strings.Contains(a.Address, ".") || len(*f.v) > 254 {
			bad(f.field, fmt.Sprintf("%s %q is not an email address (e.g. registry@example.edu).", f.label, *f.v))
		}
	}
	if o.Language == "" {
		o.Language = "en"
	}
	if tag, err := language.Parse(o.Language); err != nil || len(o.Language) > 35 {
		bad("language", fmt.Sprintf("%q is not a language code (e.g. en, fr, pt-BR).", o.Language))
	} else {
		o.Language = tag.String()
	}
	if o.TimeZone = strings.TrimSpace(o.TimeZone); o.TimeZone == "" {
		o.TimeZone = ServerZone()
	}
	if _, err := time.LoadLocation(o.TimeZone); err != nil || o.TimeZone == "Local" || len(o.TimeZone) > 60 {
		bad("time_zone", fmt.Sprintf("%q is not a time zone; use a name such as Europe/Paris, America/Chicago or UTC.", o.TimeZone))
	}
	if msg := CheckEmailText(o.EmailSubject, false, Placeholders); msg != "" {
		bad("email_subject", msg)
	}
	if msg := CheckEmailText(o.EmailBody, true, Placeholders); msg != "" {
		bad("email_body", msg)
	}
	// The default text is stored as "", so a later improvement of the
	// default reaches owners who never changed it.
	if o.EmailSubject == DefaultEmailSubject {
		o.EmailSubject = ""
	}
	if o.EmailBody == DefaultEmailBody {
		o.EmailBody = ""
	}
	return fe
}

// unknownMessageIn says which of names are unknown and lists known.
func unknownMessageIn(names []string, placeholders []Placeholder) string {
	known := make([]string, len(placeholders))
	for i, p := range placeholders {
		known[i] = "{" + p.Name + "}"
	}
	what := "Unknown placeholder " + names[0]
	if len(names) > 1 {
		what = "Unknown placeholders " + strings.Join(names, ", ")
	}
	return what + "; the placeholders are " + strings.Join(known, ", ") + "."
}

type orgRow struct {
	Name                  string         `db:"name"`
	Website               string         `db:"website"`
	ContactEmail          string         `db:"contact_email"`
	LogoType              sql.NullString `db:"logo_type"`
	SenderName            string         `db:"sender_name"`
	ReplyTo               string         `db:"reply_to"`
	Language              string         `db:"language"`
	TimeZone              string         `db:"time_zone"`
	EmailSubject          string         `db:"email_subject"`
	EmailBody             string         `db:"email_body"`
	InstructorsMayPublish bool           `db:"instructors_may_publish"`
	LimitedMembersCreate  bool           `db:"limited_members_create_groups"`
	NamedAt               sql.NullTime   `db:"named_at"`
	UpdatedAt             time.Time      `db:"updated_at"`
}

// orgCols leaves out the logo's bytes: only the logo route reads them.
const orgCols = `name, website, contact_email, logo_type, sender_name, reply_to, language, email_subject, email_body,
	instructors_may_publish, limited_members_create_groups, named_at, updated_at, time_zone`

func (s *Service) organisation(r orgRow) Organisation {
	o := Organisation{Name: r.Name, Website: r.Website, ContactEmail: r.ContactEmail, LogoType: r.LogoType.String,
		SenderName: r.SenderName, ReplyTo: r.ReplyTo, Language: r.Language, EmailSubject: r.EmailSubject,
		EmailBody: r.EmailBody, InstructorsMayPublish: r.InstructorsMayPublish, LimitedMembersCreateGroups: r.LimitedMembersCreate, Named: r.NamedAt.Valid, UpdatedAt: r.UpdatedAt}
	o.TimeZone = r.TimeZone
	if o.TimeZone == "" {
		o.TimeZone = ServerZone()
	}
	if o.LogoType != "" {
		// The version defeats caches when the logo changes.
		o.LogoURL = fmt.Sprintf("%s/organisation/logo?v=%d", strings.TrimRight(s.BaseURL, "/"), r.UpdatedAt.Unix())
	}
	return o
}

// auditOrganisation is what the audit log keeps of the settings.
func auditOrganisation(o Organisation, logoBytes int) map[string]any {
	return map[string]any{"name": o.Name, "website": o.Website, "contact_email": o.ContactEmail,
		"logo_type": o.LogoType, "logo_bytes": logoBytes, "sender_name": o.SenderName, "reply_to": o.ReplyTo,
		"language": o.Language, "email_subject": o.EmailSubject, "email_body": o.EmailBody,
		"instructors_may_publish": o.InstructorsMayPublish, "limited_members_create_groups": o.LimitedMembersCreateGroups, "time_zone": o.TimeZone}
}

// orgCacheFor is how long Organisation answers from memory: the public page
// and every email batch read it. A change made through this Service shows at
// once; one made by another instance within this time.
const orgCacheFor = 5 * time.Second

// orgCache is Organisation's cache, on the service's clock (s.Time, so a
// test's later Now applies).
func (s *Service) orgCache() *cache.TTL[struct{}, Organisation] {
	s.orgOnce.Do(func() { s.org = cache.New[struct{}, Organisation](orgCacheFor, 0, s.Time) })
	return s.org
}

// Organisation returns the issuing organisation's settings (without the
// logo's bytes; see OrganisationLogo). It is the one accessor other
// features use for the issuer's identity, cached briefly.
func (s *Service) Organisation(ctx context.Context) (Organisation, error) {
	if o, ok := s.orgCache().Get(struct{}{}); ok {
		return o, nil
	}
	var r orgRow
	if err := s.DB.GetContext(ctx, &r, `SELECT `+orgCols+` FROM organisation WHERE id`); err != nil {
		return Organisation{}, fmt.Errorf("load organisation settings: %w", err)
	}
	o := s.organisation(r)
	s.orgMu.Lock()
	// A read that raced with an update must not replace the newer copy
	// UpdateOrganisation cached.
	if cur, ok := s.orgCache().Get(struct{}{}); !ok || !cur.UpdatedAt.After(o.UpdatedAt) {
		s.orgCache().Set(struct{}{}, o)
	}
	s.orgMu.Unlock()
	return o, nil
}

// Locale is the organisation's language and time zone, which pages and
// emails show dates in; English in the server's zone while the settings
// cannot be read (the error is logged).
func (s *Service) Locale(ctx context.Context) locale.Locale {
	o, err := s.Organisation(ctx)
	if err != nil {
		if s.Log != nil {
			s.Log.ErrorContext(ctx, "organisation locale", "err", err)
		}
		return locale.Default()
	}
	return locale.New(o.Language, o.TimeZone)
}

// InstructorsMayPublish reports whether the owner lets instructors review
// and publish their own course's credentials in the LMS.
func (s *Service) InstructorsMayPublish(ctx context.Context) (bool, error) {
	o, err := s.Organisation(ctx)
	return o.InstructorsMayPublish, err
}

// OrganisationLogo returns the logo's bytes and MIME type (nil when there is
// none) and when the settings last changed.
func (s *Service) OrganisationLogo(ctx context.Context) ([]byte, string, time.Time, error) {
	var r struct {
		Logo      []byte         `db:"logo"`
		LogoType  sql.NullString `db:"logo_type"`
		UpdatedAt time.Time      `db:"updated_at"`
	}
	if err := s.DB.GetContext(ctx, &r, `SELECT logo, logo_type, updated_at FROM organisation WHERE id`); err != nil {
		return nil, "", time.Time{}, fmt.Errorf("load organisation logo: %w", err)
	}
	return r.Logo, r.LogoType.String, r.UpdatedAt, nil
}

// OrganisationUpdate is a change of the settings. Logo nil keeps the stored
// logo; RemoveLogo drops it.
type OrganisationUpdate struct {
	Organisation
	Logo       []byte
	RemoveLogo bool
}

// CheckOrganisation normalises o as UpdateOrganisation would and returns an
// apperr.Fields error naming each bad field, or nil.
func CheckOrganisation(o *Organisation) error {
	if fe := checkOrganisation(o); len(fe) > 0 {
		return apperr.Fields("The organisation settings have problems.", fe)
	}
	return nil
}

// UpdateOrganisation stores the settings in u, audited as actor's change.
// The first save names the organisation: publishing is allowed from then on.
// Errors: Invalid (an apperr.Fields error naming each bad field), with
// nothing stored.
func (s *Service) UpdateOrganisation(ctx context.Context, actor string, u OrganisationUpdate) (Organisation, error) {
	o := u.Organisation
	fe := checkOrganisation(&o)
	if u.Logo != nil {
		typ, why := imageType(u.Logo)
		switch {
		case len(u.Logo) > MaxImageBytes:
			fe = append(fe, apperr.FieldError{Index: -1, Field: "logo", Message: "The logo must be at most 1 MiB."})
		case typ == "":
			fe = append(fe, apperr.FieldError{Index: -1, Field: "logo", Message: "The logo " + why + "."})
		default:
			o.LogoType = typ
		}
	}
	if len(fe) > 0 {
		return Organisation{}, apperr.Fields("The organisation settings have problems.", fe)
	}
	var out Organisation
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var old orgRow
		var oldLogo int
		if err := tx.GetContext(ctx, &old, `SELECT `+orgCols+` FROM organisation WHERE id FOR UPDATE`); err != nil {
			return fmt.Errorf("update organisation settings: %w", err)
		}
		if err := tx.GetContext(ctx, &oldLogo, `SELECT COALESCE(octet_length(logo), 0) FROM organisation WHERE id`); err != nil {
			return fmt.Errorf("update organisation settings: %w", err)
		}
		now := s.Time()
		const q = `UPDATE organisation SET name = $1, website = $2, contact_email = $3,
				logo = CASE WHEN $4 THEN NULL ELSE COALESCE($5, logo) END,
				logo_type = CASE WHEN $4 THEN NULL WHEN $5::bytea IS NOT NULL THEN $6 ELSE logo_type END,
				sender_name = $7, reply_to = $8, language = $9, email_subject = $10, email_body = $11,
				instructors_may_publish = $12, updated_at = $13, named_at = COALESCE(named_at, $13),
				limited_members_create_groups = $14, time_zone = $15
			WHERE id RETURNING ` + orgCols
		var r orgRow
		if err := tx.GetContext(ctx, &r, q, o.Name, o.Website, o.ContactEmail, u.RemoveLogo && u.Logo == nil, u.Logo,
			o.LogoType, o.SenderName, o.ReplyTo, o.Language, o.EmailSubject, o.EmailBody, o.InstructorsMayPublish, now, o.LimitedMembersCreateGroups, o.TimeZone); err != nil {
			return fmt.Errorf("update organisation settings: %w", err)
		}
		out = s.organisation(r)
		newLogo := oldLogo
		switch {
		case u.Logo != nil:
			newLogo = len(u.Logo)
		case u.RemoveLogo:
			newLogo = 0
		}
		return audit(ctx, tx, now, actor, "update", "organisation", "1", auditOrganisation(s.organisation(old), oldLogo), auditOrganisation(out, newLogo))
	})
	if err != nil {
		return Organisation{}, err
	}
	s.orgMu.Lock()
	s.orgCache().Set(struct{}{}, out)
	s.orgMu.Unlock()
	return out, nil
}

// ReasonOrganisationNotSet is the apperr Reason of a publish refused because
// no owner has named the organisation yet.
const ReasonOrganisationNotSet = "organisation_not_set"

// OrganisationSetupURL is the page where an owner names the organisation.
const OrganisationSetupURL = "/admin/organisation"

// errNotNamed refuses a publish before the organisation is named: a signed
// credential cannot be corrected later without re-signing, so none is issued
// in the software's name.
func errNotNamed() error {
	return &apperr.Error{Code: apperr.Conflict, Reason: ReasonOrganisationNotSet, Link: OrganisationSetupURL,
		Message: "Nothing can be published until an owner has set up the organisation (its name, at " + OrganisationSetupURL + "): credentials carry the issuer's name."}
}

// namedTx returns errNotNamed unless the organisation is named. It reads the
// row in tx (not the cache), sharing its lock so a concurrent first save
// cannot interleave.
func namedTx(ctx context.Context, tx *sqlx.Tx) error {
	const q = `SELECT named_at IS NOT NULL FROM organisation WHERE id FOR SHARE`
	var named bool
	if err := tx.GetContext(ctx, &named, q); err != nil {
		return fmt.Errorf("check organisation is named: %w", err)
	}
	if !named {
		return errNotNamed()
	}
	return nil
}

// PublishAllowed returns the error Publish would refuse with while the
// organisation is not named (nil once it is), so a confirm step can say so
// before the user confirms. Publish itself decides, in its transaction.
func (s *Service) PublishAllowed(ctx context.Context) error {
	const q = `SELECT named_at IS NOT NULL FROM organisation WHERE id`
	var named bool
	if err := s.DB.GetContext(ctx, &named, q); err != nil {
		return fmt.Errorf("check organisation is named: %w", err)
	}
	if !named {
		return errNotNamed()
	}
	return nil
}
