package course

// The course group's credentials inside the LMS: every teacher, assistant
// and designer of a mapped course sees them with their state; when the
// owner allows it (the organisation setting "instructors may review and
// publish"), the course's teachers and admins also amend and publish them
// here, through the issuance core's own amend and publish path and with
// the same Confirm step as the staff pages. Everything is refused on the
// server too: a forged POST from a launch that may not publish is a 403
// and changes nothing.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

// Review is the part of the issuance core the review pages use: the staff
// review and publish path itself, so the LMS never has a second one.
type Review interface {
	// Credentials lists a group's credentials, newest first, a page at a time.
	Credentials(ctx context.Context, groupID int64, opt issuance.ListOptions) ([]issuance.Credential, string, error)
	// Credential returns one credential, or NotFound.
	Credential(ctx context.Context, id string) (issuance.Credential, error)
	// AmendCredential changes a credential, audited as actor.
	AmendCredential(ctx context.Context, actor, id string, a issuance.Amendment) (issuance.Credential, error)
	// CountStates counts a group's credentials by state, of people only
	// (the course page's figures).
	CountStates(ctx context.Context, groupID int64, people *issuance.Recipients) (issuance.StateCounts, error)
	// Outside lists the selected ids that are not of the selection's group
	// and recipients.
	Outside(ctx context.Context, sel issuance.Selection) ([]string, error)
	// CountPublishable is the Confirm step's figure.
	CountPublishable(ctx context.Context, sel issuance.Selection) (int, error)
	// PublishRecipients lists up to limit of the credentials Publish would
	// publish, by recipient name: the people the Confirm step names.
	PublishRecipients(ctx context.Context, sel issuance.Selection, limit int) ([]issuance.Credential, error)
	// PublishAllowed is the refusal Publish would give before the
	// organisation is named, so the Confirm step says so first.
	PublishAllowed(ctx context.Context) error
	// Publish publishes and queues one email per credential, audited as actor.
	Publish(ctx context.Context, actor string, sel issuance.Selection) (issuance.PublishResult, error)
	// LearnerStatus is a group and a learner's published or unpublished
	// credential in it (the student's view).
	LearnerStatus(ctx context.Context, groupID int64, externalRef, email string) (issuance.LearnerStatus, error)
}

// Organisation is what the launch views need of the organisation settings.
type Organisation interface {
	// InstructorsMayPublish reports whether the owner lets instructors
	// review, amend and publish their own course's credentials in the LMS.
	InstructorsMayPublish(ctx context.Context) (bool, error)
	// OrganisationName names the issuing organisation ("" when unset).
	OrganisationName(ctx context.Context) (string, error)
}

// reviewActor names a launch's user in the audit log of what they amend
// and publish: "lti:<platform id>:<sub>:<name> <email>", so the history
// says who it was without a lookup.
func reviewActor(l *lti.Launch) string {
	return launchActor(l) + ":" + launchPerson(l)
}

// mayPublish: the course's teachers and admins, when the owner allows it.
func (s *Service) mayPublish(ctx context.Context, l *lti.Launch) (bool, error) {
	if !(l.IsInstructor() || l.IsAdmin()) || s.lti.Organisation == nil {
		return false, nil
	}
	return s.lti.Organisation.InstructorsMayPublish(ctx)
}

// staffAt is "staff at <organisation>", or "staff" when it has no name.
func (s *Service) staffAt(ctx context.Context) (string, error) {
	if s.lti.Organisation == nil {
		return "staff", nil
	}
	name, err := s.lti.Organisation.OrganisationName(ctx)
	if err != nil {
		return "", err
	}
	if name = strings.TrimSpace(name); name == "" {
		return "staff", nil
	}
	return "staff at " + name, nil
}

// reviewers says, as a sentence's subject, who reviews and publishes the
// course's credentials.
func (s *Service) reviewers(ctx context.Context, l *lti.Launch) (string, error) {
	staff, err := s.staffAt(ctx)
	if err != nil {
		return "", err
	}
	allowed := false
	if s.lti.Organisation != nil {
		if allowed, err = s.lti.Organisation.InstructorsMayPublish(ctx); err != nil {
			return "", err
		}
	}
	if allowed {
		return "The course's teachers and " + staff, nil
	}
	return capitalize(staff), nil
}

// refusePublish is the 403 for a launch that may not amend or publish.
func (s *Service) refusePublish(ctx context.Context, l *lti.Launch) error {
	staff, err := s.staffAt(ctx)
	if err != nil {
		return err
	}
	if l.IsInstructor() || l.IsAdmin() {
		return apperr.Errorf(apperr.Forbidden, "Instructors may not amend or publish credentials from the course: %s review and publish them.", staff)
	}
	return apperr.Errorf(apperr.Forbidden, "Only the course's teachers may amend or publish its credentials here; %s review and publish them.", staff)
}

// courseReview is a follow-up request's launch and its course's group.
type courseReview struct {
	l          *lti.Launch
	m          Mapping
	g          issuance.Group
	canPublish bool
	reviewers  string
	// people is who is in the course: all the launch may see or publish.
	people *issuance.Recipients
}

// reviewFor checks the request's launch may see its course group's
// credentials (and, with publish, change them).
func (s *Service) reviewFor(c *gin.Context, publish bool) (courseReview, error) {
	ctx := c.Request.Context()
	var r courseReview
	var err error
	if r.l, err = s.launchFrom(c); err != nil {
		return r, err
	}
	if !s.mayView(r.l) {
		return r, apperr.Errorf(apperr.Forbidden, "Only the course's teachers, assistants and designers see its credentials; your own is on the course's Laurel page.")
	}
	if s.lti.Review == nil {
		return r, apperr.Errorf(apperr.Internal, "the review pages are not wired")
	}
	if r.canPublish, err = s.mayPublish(ctx, r.l); err != nil {
		return r, err
	}
	if publish && !r.canPublish {
		return r, s.refusePublish(ctx, r.l)
	}
	r.m, err = s.MappingForCourse(ctx, r.l.Platform.ID, r.l.Context.ID, r.l.CustomValue("canvas_course_id"))
	if apperr.Is(err, apperr.NotFound) {
		return r, apperr.Errorf(apperr.NotFound, "This course is not mapped to a credential group yet, so it has no credentials.")
	}
	if err != nil {
		return r, err
	}
	if r.g, err = s.lti.Groups.Group(ctx, r.m.GroupID); err != nil {
		return r, err
	}
	if r.reviewers, err = s.reviewers(ctx, r.l); err != nil {
		return r, err
	}
	if r.people, err = s.coursePeople(ctx, r.l); err != nil {
		return r, err
	}
	return r, nil
}

// credentialsPage lists the course group's credentials of one state.
type credentialsPage struct {
	Token       string
	CourseTitle string
	Group       issuance.Group
	State       issuance.State
	Tabs        []stateTab
	Items       []issuance.Credential
	NextURL     string
	FirstURL    string
	CanPublish  bool
	Reviewers   string
	Notice      string
	Error       string
}

type stateTab struct {
	State  issuance.State
	Label  string
	URL    string
	Active bool
}

func (r courseReview) url(path string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	q.Set("ltik", r.l.Token)
	return path + "?" + q.Encode()
}

func (s *Service) appCredentials(c *gin.Context) error {
	r, err := s.reviewFor(c, false)
	if err != nil {
		return err
	}
	state := issuance.State(c.DefaultQuery("state", string(issuance.Unpublished)))
	switch state {
	case issuance.Unpublished, issuance.Published, issuance.Revoked:
	default:
		return apperr.Errorf(apperr.Invalid, "The state %q is not unpublished, published or revoked.", state)
	}
	cursor := c.Query("cursor")
	items, next, err := s.lti.Review.Credentials(c.Request.Context(), r.g.ID, issuance.ListOptions{State: state, Cursor: cursor, Limit: 50, Recipients: r.people})
	if apperr.Is(err, apperr.Invalid) {
		return apperr.Errorf(apperr.Invalid, "That page link (cursor) is no longer valid: open the first page again.")
	}
	if err != nil {
		return err
	}
	p := credentialsPage{Token: r.l.Token, CourseTitle: r.l.Context.Title, Group: r.g, State: state, Items: items,
		CanPublish: r.canPublish, Reviewers: r.reviewers}
	for _, t := range []struct {
		st    issuance.State
		label string
	}{{issuance.Unpublished, "Unpublished"}, {issuance.Published, "Published"}, {issuance.Revoked, "Revoked"}} {
		p.Tabs = append(p.Tabs, stateTab{State: t.st, Label: t.label, URL: r.url("/lti/app/credentials", url.Values{"state": {string(t.st)}}), Active: t.st == state})
	}
	if next != "" {
		p.NextURL = r.url("/lti/app/credentials", url.Values{"state": {string(state)}, "cursor": {next}})
	}
	if cursor != "" {
		p.FirstURL = r.url("/lti/app/credentials", url.Values{"state": {string(state)}})
	}
	switch c.Query("done") {
	case "published":
		p.Notice = "Published " + plural(c.Query("published"), "credential") + "; " + plural(c.Query("emails"), "email") + " queued for sending."
	case "none":
		p.Notice = "None of the selected credentials can be published (already published or revoked)."
	case "nothing":
		p.Error = "Select at least one credential to publish."
	}
	return s.views.Render(c, http.StatusOK, "course_credentials.html", p)
}

// plural is "1 credential" / "3 credentials" for a count from a query
// (anything but digits counts as 0).
func plural(n, word string) string {
	if !isDigits(n) {
		n = "0"
	}
	if n == "1" {
		return n + " " + word
	}
	return n + " " + word + "s"
}

// credentialPage is one credential of the course group: its details and,
// for a launch that may publish, the amend form.
type credentialPage struct {
	Token       string
	CourseTitle string
	Group       issuance.Group
	Cred        issuance.Credential
	Form        amendForm
	CanPublish  bool
	Reviewers   string
	BackURL     string
	Notice      string
}

type amendForm struct {
	Name, Email, IssuedOn, ExpiresOn string
	Attrs                            []amendAttr
	Errors                           map[string]string
	Other                            []string
}

type amendAttr struct {
	Key, Label, Type, Value, Error string
	Required                       bool
}

func newAmendForm(cr issuance.Credential, g issuance.Group, value func(string) string) amendForm {
	f := amendForm{Errors: map[string]string{}}
	if value == nil {
		f.Name, f.Email, f.IssuedOn = cr.Recipient.Name, cr.Recipient.Email, cr.IssuedOn.Format(issuance.DateLayout)
		if cr.ExpiresOn != nil {
			f.ExpiresOn = cr.ExpiresOn.Format(issuance.DateLayout)
		}
	} else {
		f.Name, f.Email, f.IssuedOn, f.ExpiresOn = value("name"), value("email"), value("issued_on"), value("expires_on")
	}
	for _, a := range g.ValueAttributes() { // an image is the group's, not the credential's
		v := cr.Attributes[a.Key]
		if value != nil {
			v = value("attr_" + a.Key)
		}
		f.Attrs = append(f.Attrs, amendAttr{Key: a.Key, Label: a.Label, Type: string(a.Type), Required: a.Required, Value: v})
	}
	return f
}

// place puts a refused amendment's message by its field.
func (f *amendForm) place(field, msg string) {
	switch field {
	case "recipient.name", "name":
		f.Errors["name"] = msg
		return
	case "recipient.email", "email":
		f.Errors["email"] = msg
		return
	case "issued_on", "expires_on":
		f.Errors[field] = msg
		return
	}
	if key, ok := strings.CutPrefix(field, "attributes."); ok {
		for i := range f.Attrs {
			if f.Attrs[i].Key == key {
				f.Attrs[i].Error = msg
				return
			}
		}
	}
	f.Other = append(f.Other, msg)
}

// groupCredential loads the :id credential, which must be of the course's
// group and one of the course's people: any other is "not found", so a
// launch learns nothing of others.
func (s *Service) groupCredential(c *gin.Context, r courseReview) (issuance.Credential, error) {
	cr, err := s.lti.Review.Credential(c.Request.Context(), c.Param("id"))
	if err == nil && (cr.GroupID != r.g.ID || !r.people.Has(cr)) {
		err = apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", c.Param("id"))
	}
	if apperr.Is(err, apperr.NotFound) {
		return cr, apperr.Errorf(apperr.NotFound, "Credential %q is not one of this course's credentials.", c.Param("id"))
	}
	return cr, err
}

// instructorsGroup is the course's group as its instructors see it: they
// are not Laurel staff, so they see (and amend) the attributes the
// recipient sees, never staff-only ones.
func instructorsGroup(r courseReview) issuance.Group {
	return r.g.VisibleTo(issuance.AudienceRecipient)
}

func (s *Service) credentialPage(r courseReview, cr issuance.Credential) credentialPage {
	return credentialPage{Token: r.l.Token, CourseTitle: r.l.Context.Title, Group: instructorsGroup(r), Cred: cr,
		Form: newAmendForm(cr, instructorsGroup(r), nil), CanPublish: r.canPublish, Reviewers: r.reviewers,
		BackURL: r.url("/lti/app/credentials", url.Values{"state": {string(cr.State)}})}
}

func (s *Service) appCredential(c *gin.Context) error {
	r, err := s.reviewFor(c, false)
	if err != nil {
		return err
	}
	cr, err := s.groupCredential(c, r)
	if err != nil {
		return err
	}
	p := s.credentialPage(r, cr)
	switch c.Query("done") {
	case "amended":
		p.Notice = "Credential amended."
	case "unchanged":
		p.Notice = "Nothing changed."
	}
	return s.views.Render(c, http.StatusOK, "course_credential.html", p)
}

// appAmend saves the amend form through the issuance core (which validates
// and audits it, with the instructor as actor).
func (s *Service) appAmend(c *gin.Context) error {
	r, err := s.reviewFor(c, true)
	if err != nil {
		return err
	}
	cr, err := s.groupCredential(c, r)
	if err != nil {
		return err
	}
	value := func(field string) string { return strings.TrimSpace(c.PostForm(field)) }
	done := "amended"
	// Staff-only attributes are not on the form; FormAmendment keeps them.
	a, changed := issuance.FormAmendment(cr, instructorsGroup(r), value)
	if !changed {
		done = "unchanged"
	} else if _, err = s.lti.Review.AmendCredential(c.Request.Context(), reviewActor(r.l), cr.ID, a); err != nil {
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		p := s.credentialPage(r, cr)
		p.Form = newAmendForm(cr, instructorsGroup(r), value)
		fields := apperr.FieldErrors(err)
		switch {
		case len(fields) == 0 && apperr.Is(err, apperr.Conflict) && a.Email != nil:
			p.Form.place("email", apperr.Message(err))
		case len(fields) == 0:
			p.Form.Other = append(p.Form.Other, apperr.Message(err))
		}
		for _, fe := range fields {
			p.Form.place(fe.Field, fe.Message)
		}
		return s.views.Render(c, http.StatusUnprocessableEntity, "course_credential.html", p)
	}
	c.Redirect(http.StatusSeeOther, r.url("/lti/app/credentials/"+url.PathEscape(cr.ID), url.Values{"done": {done}}))
	return nil
}

// confirmPage is the Confirm step: how many credentials and emails, the
// first recipients by name, and the email the first of them will receive.
type confirmPage struct {
	Token       string
	CourseTitle string
	Group       issuance.Group
	Sel         issuance.Selection
	Count       int
	BackURL     string
	Recipients  []issuance.Credential
	More        int           // recipients beyond those listed
	Email       *mail.Message // nil without an EmailPreview
}

// confirmRecipients is how many recipients the Confirm step names.
const confirmRecipients = 20

// readPublish reads the publish form of a launch that may publish; ok is
// false after it has sent the user back because nothing is selected.
func (s *Service) readPublish(c *gin.Context) (r courseReview, sel issuance.Selection, ok bool, err error) {
	if r, err = s.reviewFor(c, true); err != nil {
		return r, sel, false, err
	}
	if sel, err = issuance.FormSelection(c, r.g.ID); err != nil {
		return r, sel, false, err
	}
	sel.Recipients = r.people // never another course's or staff's
	// A ticked id that is not one of the course's people's credentials is
	// forged (the list never shows it): not found, as on its own page.
	out, err := s.lti.Review.Outside(c.Request.Context(), sel)
	if err != nil {
		return r, sel, false, err
	}
	if len(out) > 0 {
		return r, sel, false, apperr.Errorf(apperr.NotFound, "Credential %q is not one of this course's credentials.", out[0])
	}
	if !sel.AllUnpublished && len(sel.IDs) == 0 {
		c.Redirect(http.StatusSeeOther, r.url("/lti/app/credentials", url.Values{"done": {"nothing"}}))
		return r, sel, false, nil
	}
	return r, sel, true, nil
}

func (s *Service) appPublishConfirm(c *gin.Context) error {
	r, sel, ok, err := s.readPublish(c)
	if !ok {
		return err
	}
	if err := s.lti.Review.PublishAllowed(c.Request.Context()); err != nil {
		return err
	}
	n, err := s.lti.Review.CountPublishable(c.Request.Context(), sel)
	if err != nil {
		return err
	}
	if n == 0 {
		c.Redirect(http.StatusSeeOther, r.url("/lti/app/credentials", url.Values{"done": {"none"}}))
		return nil
	}
	page := confirmPage{Token: r.l.Token, CourseTitle: r.l.Context.Title, Group: r.g, Sel: sel, Count: n,
		BackURL: r.url("/lti/app/credentials", nil)}
	if page.Recipients, err = s.lti.Review.PublishRecipients(c.Request.Context(), sel, confirmRecipients); err != nil {
		return err
	}
	page.More = max(n-len(page.Recipients), 0)
	if len(page.Recipients) > 0 && s.lti.EmailPreview != nil {
		m, err := s.lti.EmailPreview(c.Request.Context(), page.Recipients[0])
		if err != nil {
			return err
		}
		page.Email = &m
	}
	return s.views.Render(c, http.StatusOK, "course_publish_confirm.html", page)
}

func (s *Service) appPublish(c *gin.Context) error {
	r, sel, ok, err := s.readPublish(c)
	if !ok {
		return err
	}
	res, err := s.lti.Review.Publish(c.Request.Context(), reviewActor(r.l), sel)
	if err != nil {
		return err
	}
	if res.Published == 0 {
		// Published meanwhile, revoked, or not of this course's people.
		c.Redirect(http.StatusSeeOther, r.url("/lti/app/credentials", url.Values{"done": {"none"}}))
		return nil
	}
	c.Redirect(http.StatusSeeOther, r.url("/lti/app/credentials", url.Values{"done": {"published"},
		"published": {strconv.Itoa(res.Published)}, "emails": {strconv.Itoa(res.Emails)}}))
	return nil
}
