package course

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages (all named course_*.html), to pass to
// web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// RosterMember is one course member from the platform's NRPS roster.
type RosterMember struct {
	Sub    string
	Name   string
	Email  string
	Roles  []string
	Status string
}

// Groups is the part of the issuance core the launch views use.
type Groups interface {
	Group(ctx context.Context, id int64) (issuance.Group, error)
	Groups(ctx context.Context, only []int64) ([]issuance.GroupSummary, error)
	CreateGroup(ctx context.Context, actor string, g issuance.Group) (issuance.Group, error)
	Designs(ctx context.Context) ([]issuance.Design, error)
	// DefaultDesign returns (creating it on first use) the default design.
	DefaultDesign(ctx context.Context) (issuance.Design, error)
	// Holdings lists who holds each credential of a group, of people only
	// (the roster view).
	Holdings(ctx context.Context, groupID int64, people *issuance.Recipients) ([]issuance.Holding, error)
}

// LaunchDeps is what the launch views need from package lti and the
// issuance core. Renderer must include Templates.
type LaunchDeps struct {
	// LaunchFromRequest returns the launch behind the request's launch
	// token (form field or query "ltik", header "X-Ltik").
	LaunchFromRequest func(c *gin.Context) (*lti.Launch, error)
	// Roster lists the course members through NRPS, following paging.
	Roster func(ctx context.Context, l *lti.Launch) ([]RosterMember, error)
	// DeepLink answers a deep-linking request with one LTI resource link
	// (title, target URL, custom parameters): the auto-posting response.
	DeepLink func(c *gin.Context, l *lti.Launch, title, url string, custom map[string]string) error
	Groups   Groups
	Renderer *web.Renderer
	// AssistantsMayMap lets TAs and designers map courses and ask for a
	// completion check (default: they get a read-only view).
	AssistantsMayMap bool
	// Review lists, amends and publishes the course group's credentials
	// (the issuance core's own review and publish path). Required.
	Review Review
	// Organisation answers whether instructors may review and publish in
	// the LMS, and names who does otherwise; nil: they may not, and the
	// pages say "staff".
	Organisation Organisation
	// EmailPreview renders the publish email a credential's recipient will
	// receive (issuance/delivery's template), for the Confirm step; nil: no
	// preview.
	EmailPreview func(ctx context.Context, cr issuance.Credential) (mail.Message, error)
}

// RegisterLaunch sets the dependencies of the launch views and mounts their
// follow-up routes inside the iframe: GET /lti/app (the view again, after a
// POST), POST /lti/app/map, POST /lti/app/reconcile, POST /lti/app/deeplink,
// and the course group's review pages (review.go): GET /lti/app/credentials,
// GET and POST /lti/app/credentials/:id, POST /lti/app/publish/confirm and
// POST /lti/app/publish.
// Each checks the launch token, so they work without third-party cookies;
// like /lti/launch they are cross-site by design (keep them out of
// CrossOriginProtection). Give HandleLaunch to the lti.Tool as its
// LaunchHandler.
func (s *Service) RegisterLaunch(r gin.IRouter, deps LaunchDeps) {
	s.lti = deps
	s.views = deps.Renderer
	r.GET("/lti/app", deps.Renderer.Page(s.appView))
	r.POST("/lti/app/map", deps.Renderer.Page(s.appMap))
	r.POST("/lti/app/reconcile", deps.Renderer.Page(s.appReconcile))
	r.POST("/lti/app/deeplink", deps.Renderer.Page(s.appDeepLink))
	r.GET("/lti/app/credentials", deps.Renderer.Page(s.appCredentials))
	r.GET("/lti/app/credentials/:id", deps.Renderer.Page(s.appCredential))
	r.POST("/lti/app/credentials/:id", deps.Renderer.Page(s.appAmend))
	r.POST("/lti/app/publish/confirm", deps.Renderer.Page(s.appPublishConfirm))
	r.POST("/lti/app/publish", deps.Renderer.Page(s.appPublish))
}

// viewRenderer is the renderer the pages use.
type viewRenderer = *web.Renderer

// HandleLaunch is the lti.LaunchHandler: it has Canvas remember what the
// launch says about its user, learns the course's ids, then shows the instructor's, the
// assistant's or the student's view, or the deep-linking choice.
func (s *Service) HandleLaunch(c *gin.Context, l *lti.Launch) error {
	if s.views == nil || s.lti.Groups == nil || s.lti.Review == nil {
		return errors.New("course: HandleLaunch before RegisterLaunch")
	}
	ctx := c.Request.Context()
	course, err := s.noteLaunch(ctx, l)
	if err != nil {
		return err
	}
	if l.MessageType == lti.MessageDeepLinking {
		return s.views.Render(c, http.StatusOK, "course_deeplink.html", deepLinkPage{Token: l.Token, CourseTitle: l.Context.Title, CanMap: s.mayMap(l) || s.mayView(l)})
	}
	return s.renderCourseView(c, l, course, "")
}

// courseLookup is the mapping of a launch's course, looked up once per
// request; err is an apperr.NotFound when the course is not mapped.
type courseLookup struct {
	m   Mapping
	err error
}

func (s *Service) lookupCourse(ctx context.Context, l *lti.Launch) courseLookup {
	m, err := s.MappingForCourse(ctx, l.Platform.ID, l.Context.ID, l.CustomValue("canvas_course_id"))
	return courseLookup{m, err}
}

// noteLaunch has Canvas record the launch's user (email, name, ids) and
// root account guid, fills the mapping's missing course ids and returns the
// course's mapping.
func (s *Service) noteLaunch(ctx context.Context, l *lti.Launch) (courseLookup, error) {
	// Canvas's note and the course's (member and mapping, one statement)
	// are independent: run side by side, a student's launch waits on the
	// database once here.
	noted := make(chan error, 1)
	go func() { noted <- s.canvas.NoteLaunch(ctx, l) }()
	course, err := s.noteLaunchMember(ctx, l)
	if nerr := <-noted; nerr != nil {
		return courseLookup{}, nerr
	}
	if err != nil {
		return courseLookup{}, err
	}
	if l.Context.ID == "" || course.err != nil {
		return course, nil // a lookup that failed fails the view
	}
	m, err := s.learnCourseIDs(ctx, course.m, l.Context.ID, l.CustomValue("canvas_course_id"))
	if apperr.Is(err, apperr.Conflict) {
		return course, nil // the other id belongs to another mapping: leave both as they are
	}
	return courseLookup{m: m}, err
}

// mayMap: teachers (not TAs) and admins map courses and ask for checks.
func (s *Service) mayMap(l *lti.Launch) bool {
	if l.IsInstructor() || l.IsAdmin() {
		return true
	}
	return s.lti.AssistantsMayMap && (l.IsTeachingAssistant() || l.IsContentDeveloper())
}

// mayView: TAs and designers see the staff view, read-only.
func (s *Service) mayView(l *lti.Launch) bool {
	return s.mayMap(l) || l.IsTeachingAssistant() || l.IsContentDeveloper()
}

// staffPage is the instructor/assistant view.
type staffPage struct {
	Token       string
	CourseTitle string
	CanMap      bool
	Notice      string
	Error       string
	// Platform is what launched: the pages name it, and only Canvas
	// offers completion-based issuing.
	Platform platformKind
	// Unmapped course: the form, with the groups the instructor may pick
	// and those of them that allow auto-publish.
	Mapped          bool
	Groups          []issuance.GroupSummary
	AutoPublishable []string
	Designs         []issuance.Design
	// Modules are the Canvas course's modules for a module rule (nil: the
	// form asks for the module id).
	Modules []Module
	Form    mapForm
	Errors  map[string]string
	// Mapped course.
	Mapping     Mapping
	Group       issuance.Group
	Unpublished int
	Published   int
	Revoked     int
	Roster      []rosterRow
	// MoodleReady: the Moodle platform has a web service, so the map form
	// offers Moodle course completion.
	MoodleReady bool
	// RuleColumn: the roster shows each student's state against a score or
	// module rule.
	RuleColumn  bool
	RosterError string
	HasToken    bool
	CanvasURL   string
	LastRun     *Check
	ReviewURL   string
	// CanPublish: this launch may review, amend and publish the group's
	// credentials here; otherwise Reviewers says who does.
	CanPublish bool
	Reviewers  string
	// OrganisationUnset: no owner has named the organisation yet, so
	// nothing is published, not even by an auto-publishing mapping.
	OrganisationUnset bool
}

type mapForm struct {
	GroupChoice string // "new" or a group id
	GroupName   string
	CourseName  string
	DesignID    int64
	Rule        string
	// MinScore and ScoreKind go with rule canvas_score, ModuleID with
	// canvas_module (as typed, re-shown on an error).
	MinScore    string
	ScoreKind   string
	ModuleID    string
	AutoPublish bool
}

type rosterRow struct {
	Name, Email, State, CredentialID string
	// Rule is where the student stood at the last check against a score or
	// module rule ("" for other rules, or before the first check).
	Rule string
}

type studentPage struct {
	CourseTitle string
	// RuleText says what earns the credential for a score or module rule.
	RuleText     string
	Mapped       bool
	Group        issuance.Group
	CredentialID string
	State        string
	URL          string
	// Values are the attributes of their credential the learner may see.
	Values     []issuance.VisibleValue
	ManualOnly bool
	// Reviewers says who reviews a credential awaiting review.
	Reviewers string
}

type deepLinkPage struct {
	Token       string
	CourseTitle string
	CanMap      bool
}

func (s *Service) renderView(c *gin.Context, l *lti.Launch, notice string) error {
	return s.renderCourseView(c, l, s.lookupCourse(c.Request.Context(), l), notice)
}

func (s *Service) renderCourseView(c *gin.Context, l *lti.Launch, course courseLookup, notice string) error {
	if s.mayView(l) {
		p, err := s.staffView(c.Request.Context(), l, course)
		if err != nil {
			return err
		}
		p.Notice = notice
		return s.views.Render(c, http.StatusOK, "course_staff.html", p)
	}
	p, err := s.studentView(c.Request.Context(), l, course)
	if err != nil {
		return err
	}
	return s.views.Render(c, http.StatusOK, "course_student.html", p)
}

func (s *Service) staffView(ctx context.Context, l *lti.Launch, course courseLookup) (staffPage, error) {
	p := staffPage{Token: l.Token, CourseTitle: l.Context.Title, CanMap: s.mayMap(l), Errors: map[string]string{}, Platform: s.kindOf(ctx, l)}
	m, err := course.m, course.err
	if apperr.Is(err, apperr.NotFound) {
		return s.unmappedView(ctx, l, p)
	}
	if err != nil {
		return p, err
	}
	p.Mapped, p.Mapping = true, m
	p.RuleColumn = m.CompletionRule == RuleCanvasScore || m.CompletionRule == RuleCanvasModule || m.CompletionRule == RuleMoodleCompletion
	if p.Group, err = s.lti.Groups.Group(ctx, m.GroupID); err != nil {
		return p, err
	}
	// The roster is read (and its members recorded) before the counts,
	// which count only the course's people.
	p.Roster, err = s.roster(ctx, l, m, p.Platform)
	if err != nil {
		p.RosterError = apperr.Message(err)
		if apperr.Code(err) == apperr.Internal {
			s.log.ErrorContext(ctx, "course roster", "err", err, "platform_id", l.Platform.ID, "context_id", l.Context.ID)
			p.RosterError = "The course roster could not be read from " + p.Platform.Name + " (Names and Roles service)."
		}
	}
	people, err := s.coursePeople(ctx, l)
	if err != nil {
		return p, err
	}
	n, err := s.lti.Review.CountStates(ctx, m.GroupID, people)
	if err != nil {
		return p, err
	}
	p.Unpublished, p.Published, p.Revoked = n.Unpublished, n.Published, n.Revoked
	p.ReviewURL = "/lti/app/credentials?" + url.Values{"ltik": {l.Token}}.Encode()
	switch err := s.lti.Review.PublishAllowed(ctx); {
	case apperr.Reason(err) == issuance.ReasonOrganisationNotSet:
		p.OrganisationUnset = true
	case err != nil:
		return p, err
	}
	if p.CanPublish, err = s.mayPublish(ctx, l); err != nil {
		return p, err
	}
	if p.Reviewers, err = s.reviewers(ctx, l); err != nil {
		return p, err
	}
	if u, tok, err := s.canvas.Settings(ctx, l.Platform.ID); err == nil {
		p.HasToken, p.CanvasURL = tok, u
	}
	if m.CompletionRule == RuleMoodleCompletion {
		if c := s.checker(RuleMoodleCompletion); c != nil {
			p.HasToken, _ = c.Configured(ctx, l.Platform.ID)
		} else {
			p.HasToken = false
		}
	}
	if c := s.checker(m.CompletionRule); c != nil {
		if r, err := c.LastCheck(ctx, m.ID); err == nil {
			p.LastRun = r
		}
	}
	return p, nil
}

func (s *Service) unmappedView(ctx context.Context, l *lti.Launch, p staffPage) (staffPage, error) {
	if !p.CanMap {
		return p, nil
	}
	groups, err := s.instructorGroups(ctx, l)
	if err != nil {
		return p, err
	}
	for _, g := range groups {
		if g.AllowAutoPublish {
			p.AutoPublishable = append(p.AutoPublishable, g.Name)
		}
	}
	designs, err := s.lti.Groups.Designs(ctx)
	if err != nil {
		return p, err
	}
	if len(designs) == 0 {
		// A fresh installation: the default design is made on first use.
		d, err := s.lti.Groups.DefaultDesign(ctx)
		if err != nil {
			return p, err
		}
		designs = []issuance.Design{d}
	}
	p.Groups, p.Designs = groups, designs
	if p.Platform.Canvas {
		// Without a token (or when Canvas refuses) the form asks for the id.
		mods, err := s.canvas.Modules(ctx, l.Platform.ID, l.CustomValue("canvas_course_id"))
		if err != nil && apperr.Code(err) == apperr.Internal {
			s.log.WarnContext(ctx, "list canvas modules", "err", err, "platform_id", l.Platform.ID)
		}
		p.Modules = mods
	}
	p.Form = mapForm{GroupChoice: "new", GroupName: l.Context.Title, CourseName: l.Context.Title, Rule: string(RuleManual), ScoreKind: ScoreFinal}
	if p.Platform.Canvas {
		p.Form.Rule = string(RuleCanvasCompletion)
	}
	if p.Platform.Moodle {
		if c := s.checker(RuleMoodleCompletion); c != nil {
			if ok, _ := c.Configured(ctx, l.Platform.ID); ok {
				p.Form.Rule, p.MoodleReady = string(RuleMoodleCompletion), true
			}
		}
	}
	if p.Form.CourseName == "" {
		p.Form.CourseName = l.Context.Label
		p.Form.GroupName = l.Context.Label
	}
	for _, d := range designs {
		if d.IsDefault {
			p.Form.DesignID = d.ID
		}
	}
	// A group of this course already exists (made at an earlier mapping, or
	// by staff for it): use it rather than make a near-identical second one.
	if id, err := s.existingCourseGroup(ctx, l, groups); err != nil {
		return p, err
	} else if id != 0 {
		p.Form.GroupChoice = strconv.FormatInt(id, 10)
	}
	return p, nil
}

// roster lists the course's students with their credential state, and
// remembers the emails NRPS reports for users we know by sub.
func (s *Service) roster(ctx context.Context, l *lti.Launch, m Mapping, kind platformKind) ([]rosterRow, error) {
	if s.lti.Roster == nil || l.NRPS == nil {
		return nil, apperr.Errorf(apperr.Invalid, "%s did not offer the course roster (Names and Roles service) in this launch.", capitalize(kind.Name))
	}
	members, err := s.lti.Roster(ctx, l)
	if err != nil {
		return nil, err
	}
	subs, err := s.canvas.UserIDs(ctx, l.Platform.ID) // sub → canvas user id
	if err != nil {
		return nil, err
	}
	seen := make([]courseMember, 0, len(members))
	for _, mem := range members {
		cm := courseMember{PlatformID: l.Platform.ID, ContextID: l.Context.ID, Sub: mem.Sub, Email: mem.Email}
		if id, known := subs[mem.Sub]; known {
			cm.ExternalRef = s.canvas.ExternalRef(l.Platform.ID, id)
		}
		seen = append(seen, cm)
	}
	if err := s.noteMembers(ctx, seen); err != nil {
		return nil, err
	}
	// Only the roster's own credentials are read, not the whole group's.
	refs := make([]string, 0, len(seen))
	emails := make([]string, 0, len(seen))
	for _, cm := range seen {
		refs, emails = append(refs, cm.ExternalRef), append(emails, cm.Email)
	}
	creds, err := s.lti.Groups.Holdings(ctx, m.GroupID, issuance.NewRecipients(refs, emails))
	if err != nil {
		return nil, err
	}
	byEmail := map[string]issuance.Holding{}
	byRef := map[string]issuance.Holding{}
	for _, c := range creds {
		if c.State == issuance.Revoked {
			if _, ok := byEmail[c.Email]; ok {
				continue // a live credential beats a revoked one
			}
		}
		byEmail[c.Email] = c
		if c.ExternalRef != "" {
			byRef[c.ExternalRef] = c
		}
	}
	var lines map[string]string
	if c := s.checker(m.CompletionRule); c != nil {
		if lines, err = c.RuleLines(ctx, m); err != nil {
			return nil, err
		}
	}
	var out []rosterRow
	var roster []CanvasUser
	for i, mem := range members {
		student := false
		for _, r := range mem.Roles {
			if r == lti.RoleLearner || r == "Learner" {
				student = true
			}
		}
		if !student {
			continue
		}
		row := rosterRow{Name: mem.Name, Email: mem.Email, State: "not yet earned"}
		var c issuance.Holding
		ok := false
		if id, known := subs[mem.Sub]; known {
			row.Rule = lines[id]
			if row.Rule == "" && len(lines) > 0 {
				row.Rule = "Not seen by the last check."
			}
			c, ok = byRef[seen[i].ExternalRef]
			if mem.Email != "" {
				roster = append(roster, CanvasUser{PlatformID: l.Platform.ID, CanvasUserID: id, Sub: mem.Sub, Name: mem.Name, Email: mem.Email})
			}
		}
		if _, known := subs[mem.Sub]; !known && len(lines) > 0 {
			// Platforms whose launch sub is their own user id (Moodle).
			if row.Rule = lines[mem.Sub]; row.Rule == "" {
				row.Rule = "Not seen by the last check."
			}
		}
		if !ok && mem.Email != "" {
			c, ok = byEmail[strings.ToLower(mem.Email)]
		}
		if ok {
			row.State, row.CredentialID = string(c.State), c.CredentialID
		}
		out = append(out, row)
	}
	if err := s.canvas.RememberUsers(ctx, roster); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

func (s *Service) studentView(ctx context.Context, l *lti.Launch, course courseLookup) (studentPage, error) {
	p := studentPage{CourseTitle: l.Context.Title}
	m, err := course.m, course.err
	if apperr.Is(err, apperr.NotFound) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	p.Mapped, p.ManualOnly = true, m.CompletionRule == RuleManual
	switch {
	case m.CompletionRule == RuleCanvasScore && m.MinScore != nil:
		p.RuleText = "when your posted " + m.ScoreKind + " course score reaches " + strconv.FormatFloat(*m.MinScore, 'f', -1, 64) + "%"
	case m.CompletionRule == RuleCanvasModule:
		p.RuleText = "when you complete the course's module " + m.ModuleID
	}
	email := LaunchEmail(l)
	ref := ""
	if uid := l.CustomValue("canvas_user_id"); uid != "" {
		ref = s.canvas.ExternalRef(l.Platform.ID, uid)
	}
	// A published credential is shown with its link; an unpublished one
	// only as awaiting review (its page is not public yet).
	st, err := s.lti.Review.LearnerStatus(ctx, m.GroupID, ref, email)
	if err != nil {
		return p, err
	}
	p.Group = st.Group
	if st.CredentialID == "" {
		return p, nil
	}
	p.CredentialID, p.State = st.CredentialID, string(st.State)
	if st.State == issuance.Published {
		p.URL = s.baseURL + "/c/" + url.PathEscape(st.CredentialID)
		p.Values = st.Values
	}
	if p.Reviewers, err = s.reviewers(ctx, l); err != nil {
		return p, err
	}
	return p, nil
}

// launchFrom gets the launch behind a follow-up request's token.
func (s *Service) launchFrom(c *gin.Context) (*lti.Launch, error) {
	if s.lti.LaunchFromRequest == nil {
		return nil, apperr.Errorf(apperr.Internal, "launch tokens are not wired")
	}
	l, err := s.lti.LaunchFromRequest(c)
	if err != nil {
		if apperr.Code(err) == apperr.Internal {
			return nil, err
		}
		return nil, apperr.Errorf(apperr.Unauthorized, "This page needs a valid launch from the course (the launch may have expired): open Laurel from the course again.")
	}
	return l, nil
}

func (s *Service) appView(c *gin.Context) error {
	l, err := s.launchFrom(c)
	if err != nil {
		return err
	}
	notice := ""
	switch c.Query("done") {
	case "mapped":
		notice = "The course is mapped. Completions will now create credentials in this group."
	case "mapped_manual":
		notice = "The course is mapped. Staff create its credentials in this group."
	case "checked":
		notice = "Checked Canvas for completions: " + c.Query("checked") + " students checked, " + c.Query("created") + " credentials created."
	}
	return s.renderView(c, l, notice)
}

func (s *Service) redirectToView(c *gin.Context, l *lti.Launch, q url.Values) {
	q.Set("ltik", l.Token)
	c.Redirect(http.StatusSeeOther, "/lti/app?"+q.Encode())
}

// appMap creates the mapping from the instructor's form (and the group, when
// the instructor chose to create one for this course).
func (s *Service) appMap(c *gin.Context) error {
	ctx := c.Request.Context()
	l, err := s.launchFrom(c)
	if err != nil {
		return err
	}
	if !s.mayMap(l) {
		return apperr.Errorf(apperr.Forbidden, "Only the course's teachers and admins may map it to a credential group; your role sees this page read-only.")
	}
	if l.Context.ID == "" {
		return apperr.Errorf(apperr.Invalid, "This launch did not come from a course, so there is nothing to map.")
	}
	f := mapForm{
		GroupChoice: c.PostForm("group"),
		GroupName:   strings.TrimSpace(c.PostForm("group_name")),
		CourseName:  strings.TrimSpace(c.PostForm("course_name")),
		Rule:        c.PostForm("completion_rule"),
		MinScore:    strings.TrimSpace(c.PostForm("min_score")),
		ScoreKind:   c.PostForm("score_kind"),
		ModuleID:    strings.TrimSpace(c.PostForm("module_id")),
		AutoPublish: c.PostForm("auto_publish") == "1",
	}
	kind := s.kindOf(ctx, l)
	errs := map[string]string{}
	canvasRule := f.Rule == string(RuleCanvasCompletion) || f.Rule == string(RuleCanvasScore) || f.Rule == string(RuleCanvasModule)
	switch {
	case f.Rule == string(RuleMoodleCompletion) && !kind.Moodle:
		errs["completion_rule"] = capitalize(kind.Name) + " is not Moodle: choose another rule."
	case f.Rule == string(RuleMoodleCompletion):
	case canvasRule && !kind.Canvas:
		errs["completion_rule"] = capitalize(kind.Name) + " does not send course completions to Laurel: choose manual only."
	case !canvasRule && f.Rule != string(RuleManual):
		if kind.Canvas {
			errs["completion_rule"] = "Choose what creates a credential: course completion, a module, a score, or manual only."
		} else {
			errs["completion_rule"] = "Choose manual only."
		}
	}
	var minScore *float64
	var scoreKind, moduleID *string
	switch CompletionRule(f.Rule) {
	case RuleCanvasScore:
		v, err := strconv.ParseFloat(strings.TrimSuffix(f.MinScore, "%"), 64)
		switch {
		case f.MinScore == "":
			errs["min_score"] = "Give the lowest course score that earns the credential, such as 80."
		case err != nil || v < 0 || v > 1000:
			errs["min_score"] = "Give the score as a percentage, such as 80 or 72.5."
		default:
			minScore = &v
		}
		if f.ScoreKind != ScoreCurrent && f.ScoreKind != ScoreFinal {
			errs["score_kind"] = "Choose the current score or the final score."
		} else {
			scoreKind = &f.ScoreKind
		}
	case RuleCanvasModule:
		if n, err := strconv.ParseUint(f.ModuleID, 10, 64); err != nil || n == 0 {
			errs["module_id"] = "Give the Canvas module id: the number at the end of the module's address, as in /courses/565/modules/12."
		} else {
			moduleID = &f.ModuleID
		}
	}
	var groupID int64
	if f.GroupChoice == "new" {
		if f.GroupName == "" {
			errs["group_name"] = "Give the new group a name."
		}
		if f.CourseName == "" {
			errs["course_name"] = "Give the course name printed on credentials."
		}
		if v := c.PostForm("design_id"); v == "" {
			d, err := s.lti.Groups.DefaultDesign(c.Request.Context())
			if err != nil {
				return err
			}
			f.DesignID = d.ID
		} else if f.DesignID, err = strconv.ParseInt(v, 10, 64); err != nil || f.DesignID <= 0 {
			errs["design_id"] = "Choose a design."
		}
		if f.AutoPublish {
			errs["auto_publish"] = "Completions in a new group wait for staff review: staff decide whether a group may publish at once."
		}
	} else if groupID, err = strconv.ParseInt(f.GroupChoice, 10, 64); err != nil || groupID <= 0 {
		errs["group"] = "Choose a group, or create one for this course."
	} else {
		allowed, err := s.instructorGroups(ctx, l)
		if err != nil {
			return err
		}
		var picked *issuance.GroupSummary
		for i := range allowed {
			if allowed[i].ID == groupID {
				picked = &allowed[i]
			}
		}
		switch {
		case picked == nil:
			// The same answer for a group that does not exist: nothing
			// tells an instructor which other groups there are.
			errs["group"] = "You may map this course only onto a group created for it or one staff made available to instructors."
		case f.AutoPublish && !picked.AllowAutoPublish:
			errs["auto_publish"] = "Group " + strconv.Quote(picked.Name) + " does not let instructors publish at once: completions wait for staff review."
		}
	}
	if len(errs) > 0 {
		return s.rerenderMapForm(c, l, f, errs, http.StatusUnprocessableEntity)
	}
	actor := launchActor(l)
	if f.GroupChoice == "new" {
		g, err := s.lti.Groups.CreateGroup(ctx, actor, issuance.Group{
			Name: f.GroupName, CourseName: f.CourseName, DesignID: f.DesignID, // the organisation's language
			Description: "Awarded for completing " + f.CourseName + ".",
		})
		if err != nil {
			if fe := apperr.FieldErrors(err); len(fe) > 0 {
				for _, e := range fe {
					errs[formField(e.Field)] = e.Message
				}
				return s.rerenderMapForm(c, l, f, errs, http.StatusUnprocessableEntity)
			}
			if apperr.Code(err) == apperr.Invalid {
				errs["group_name"] = apperr.Message(err)
				return s.rerenderMapForm(c, l, f, errs, http.StatusUnprocessableEntity)
			}
			return err
		}
		groupID = g.ID
		if err := s.noteCourseGroup(ctx, l.Platform.ID, l.Context.ID, groupID, actor); err != nil {
			return err
		}
	}
	rule := f.Rule
	course := l.CustomValue("canvas_course_id")
	who := launchActorName(l, kind)
	in := MappingInput{
		PlatformID: &l.Platform.ID, DeploymentID: &l.DeploymentID, ContextID: &l.Context.ID,
		GroupID: &groupID, CompletionRule: &rule, AutoPublish: &f.AutoPublish, CourseTitle: &l.Context.Title,
		CreatedByName: &who, MinScore: minScore, ScoreKind: scoreKind, ModuleID: moduleID,
	}
	if isDigits(course) {
		in.CanvasCourseID = &course
	}
	if _, err := s.CreateMapping(ctx, actor, in); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			// Mapped meanwhile (another tab, another teacher): show it.
			s.redirectToView(c, l, url.Values{})
			return nil
		}
		return err
	}
	done := "mapped"
	if rule == string(RuleManual) {
		done = "mapped_manual"
	}
	s.redirectToView(c, l, url.Values{"done": {done}})
	return nil
}

// capitalize upper-cases the first letter ("your learning platform" starts
// a sentence).
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

func formField(f string) string {
	switch f {
	case "name":
		return "group_name"
	case "course_name", "design_id":
		return f
	}
	return "group_name"
}

func (s *Service) rerenderMapForm(c *gin.Context, l *lti.Launch, f mapForm, errs map[string]string, status int) error {
	p := staffPage{Token: l.Token, CourseTitle: l.Context.Title, CanMap: true, Platform: s.kindOf(c.Request.Context(), l)}
	p, err := s.unmappedView(c.Request.Context(), l, p)
	if err != nil {
		return err
	}
	p.Form, p.Errors = f, errs
	p.Error = "The course could not be mapped: please correct the fields below."
	return s.views.Render(c, status, "course_staff.html", p)
}

// appReconcile is the "Check completions now" button.
func (s *Service) appReconcile(c *gin.Context) error {
	ctx := c.Request.Context()
	l, err := s.launchFrom(c)
	if err != nil {
		return err
	}
	if !s.mayMap(l) {
		return apperr.Errorf(apperr.Forbidden, "Only the course's teachers and admins may run a completion check now.")
	}
	m, err := s.MappingForCourse(ctx, l.Platform.ID, l.Context.ID, l.CustomValue("canvas_course_id"))
	if err != nil {
		return err
	}
	res, err := s.Reconcile(ctx, m.ID, TriggerButton)
	checked, created := res.Checked, len(res.Created)
	if err != nil {
		if apperr.Code(err) == apperr.Internal {
			return err
		}
		p, verr := s.staffView(ctx, l, courseLookup{m: m})
		if verr != nil {
			return verr
		}
		p.Error = apperr.Message(err)
		return s.views.Render(c, http.StatusUnprocessableEntity, "course_staff.html", p)
	}
	s.redirectToView(c, l, url.Values{"done": {"checked"}, "checked": {strconv.Itoa(checked)}, "created": {strconv.Itoa(created)}})
	return nil
}

// appDeepLink answers a deep-linking request with the "My credential" link.
func (s *Service) appDeepLink(c *gin.Context) error {
	l, err := s.launchFrom(c)
	if err != nil {
		return err
	}
	if l.DeepLinking == nil {
		return apperr.Errorf(apperr.Invalid, "This launch is not a deep-linking request, so there is nowhere to place a link.")
	}
	if s.lti.DeepLink == nil {
		return apperr.Errorf(apperr.Internal, "deep linking is not wired")
	}
	title := strings.TrimSpace(c.PostForm("title"))
	if title == "" {
		title = "My credential"
	}
	title = text.Truncate(title, 200)
	return s.lti.DeepLink(c, l, title, s.baseURL+"/lti/launch", map[string]string{"laurel_view": "my_credential"})
}
