package accounts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/web"
)

// RegisterStaff mounts the pages of signed-in staff on r, which the app
// protects with auth.RequireStaff (and the whole handler with auth.CSRF);
// a keeps their sessions:
//
//	GET  /account/password              change one's own password; POST saves
//	GET  /admin/users                   staff accounts (owner)
//	GET  /admin/users/invite            invite form; POST invites by email
//	GET  /admin/users/:id               role and group limit, history; POST saves
//	POST /admin/users/:id/disable       disable (ends the account's sessions)
//	POST /admin/users/:id/enable        enable again
//	POST /admin/users/:id/reset         email a password reset (or a new invitation)
//	GET  /admin/tokens                  API tokens and the create form (owner)
//	POST /admin/tokens                  create one: shown once on the answer
//	POST /admin/tokens/:id/revoke       revoke one
//
// Every /admin route, GET included, is owner-only (auth.ManageStaff); rd must
// include Templates.
func (s *Service) RegisterStaff(r gin.IRouter, rd *web.Renderer, a *auth.Auth) {
	u := &staffUI{s: s, a: a, rd: rd}
	p := rd.Page
	r.GET("/account/password", p(u.passwordForm))
	r.POST("/account/password", p(u.passwordChange))
	r.GET("/admin/users", p(u.userList))
	r.GET("/admin/users/invite", p(u.inviteForm))
	r.POST("/admin/users/invite", p(u.invite))
	r.GET("/admin/users/:id", p(u.userEdit))
	r.POST("/admin/users/:id", p(u.userUpdate))
	r.POST("/admin/users/:id/disable", p(u.userSetDisabled(true)))
	r.POST("/admin/users/:id/enable", p(u.userSetDisabled(false)))
	r.POST("/admin/users/:id/reset", p(u.userSendLink))
	r.GET("/admin/tokens", p(u.tokenList))
	r.POST("/admin/tokens", p(u.tokenCreate))
	r.POST("/admin/tokens/:id/revoke", p(u.tokenRevoke))
}

type staffUI struct {
	s  *Service
	a  *auth.Auth // sessions and the login rate limits
	rd *web.Renderer
}

// ownerTabs marks the current tab of the owner pages' navigation.
type ownerTabs struct{ Tab string }

// fieldMessages turns an error's field problems into the form's messages,
// first letter capitalised; ok is false when err carries none.
func fieldMessages(err error) (map[string]string, bool) {
	fe := apperr.FieldErrors(err)
	if len(fe) == 0 {
		return nil, false
	}
	out := map[string]string{}
	for _, f := range fe {
		if _, dup := out[f.Field]; !dup && f.Message != "" {
			out[f.Field] = strings.ToUpper(f.Message[:1]) + f.Message[1:] + "."
		}
	}
	return out, true
}

// formGroups reads the ticked group checkboxes (name "groups").
func formGroups(c *gin.Context) ([]int64, map[string]string) {
	var ids []int64
	for _, v := range c.PostFormArray("groups") {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id <= 0 {
			return nil, map[string]string{"groups": fmt.Sprintf("%q is not a group id.", v)}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// groupChoice is one checkbox of a group limit picker.
type groupChoice struct {
	ID      int64
	Name    string
	Checked bool
}

func (u *staffUI) groupChoices(c *gin.Context, checked []int64) ([]groupChoice, error) {
	if u.s.GroupOptions == nil {
		return nil, nil
	}
	gs, err := u.s.GroupOptions(c.Request.Context())
	if err != nil {
		return nil, err
	}
	out := make([]groupChoice, len(gs))
	for i, g := range gs {
		out[i] = groupChoice{ID: g.ID, Name: g.Name, Checked: slices.Contains(checked, g.ID)}
	}
	return out, nil
}

// groupNames names the groups of a limit for the lists.
func (u *staffUI) groupNames(c *gin.Context) (map[int64]string, error) {
	out := map[int64]string{}
	if u.s.GroupOptions == nil {
		return out, nil
	}
	gs, err := u.s.GroupOptions(c.Request.Context())
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		out[g.ID] = g.Name
	}
	return out, nil
}

func namesOf(ids []int64, names map[int64]string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if n, ok := names[id]; ok {
			out[i] = n
		} else {
			out[i] = fmt.Sprintf("group %d", id)
		}
	}
	return out
}

// roleChoice is one option of a role picker.
type roleChoice struct {
	Value, Label string
	Selected     bool
}

func roleChoices(selected auth.Role) []roleChoice {
	var out []roleChoice
	for _, r := range auth.Roles() {
		out = append(out, roleChoice{Value: string(r), Label: r.Label(), Selected: r == selected})
	}
	return out
}

// userRowView is one account in the staff list.
type userRowView struct {
	User
	RoleLabel  string
	GroupNames []string
	Link       *linkState
	LinkLive   bool // the newest link is unused and not expired
	Self       bool
	// OnlyOwner is the one owner who can sign in: disabling it is refused
	// (checkOwnerLeft), so no Disable button is offered.
	OnlyOwner bool
}

type userListPage struct {
	Title string
	Nav   ownerTabs
	Users []userRowView
}

func (u *staffUI) userList(c *gin.Context) error {
	me, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	users, err := u.s.Users(ctx)
	if err != nil {
		return err
	}
	links, err := u.s.latestLinks(ctx)
	if err != nil {
		return err
	}
	names, err := u.groupNames(c)
	if err != nil {
		return err
	}
	page := userListPage{Title: "Staff", Nav: ownerTabs{"users"}}
	now := u.s.now()
	for _, us := range users {
		row := userRowView{User: us, RoleLabel: us.Role.Label(), GroupNames: namesOf(us.Groups, names), Self: us.ID == me.UserID}
		if us.Role != auth.TeamMember {
			row.GroupNames = nil
		}
		if l, ok := links[us.ID]; ok {
			row.Link = &l
			row.LinkLive = l.UsedAt == nil && now.Before(l.ExpiresAt)
		}
		page.Users = append(page.Users, row)
	}
	owners := 0
	for _, r := range page.Users {
		if r.activeOwner() {
			owners++
		}
	}
	for i := range page.Users {
		page.Users[i].OnlyOwner = owners == 1 && page.Users[i].activeOwner()
	}
	return u.rd.Render(c, http.StatusOK, "accounts_admin_users.html", page)
}

// userFormPage is the invite form and the edit form.
type userFormPage struct {
	Title   string
	Nav     ownerTabs
	New     bool
	Action  string
	User    User
	Roles   []roleChoice
	Groups  []groupChoice
	Errors  map[string]string
	Problem string
	History []historyRow
	Self    bool
}

// historyRow is one audit entry as the edit page shows it.
type historyRow struct {
	audit.Entry
	What, Change string
}

func (u *staffUI) renderUserForm(c *gin.Context, status int, page userFormPage) error {
	var err error
	page.Nav = ownerTabs{"users"}
	page.Roles = roleChoices(page.User.Role)
	if page.Groups, err = u.groupChoices(c, page.User.Groups); err != nil {
		return err
	}
	return u.rd.Render(c, status, "accounts_admin_user_form.html", page)
}

func (u *staffUI) inviteForm(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	return u.renderUserForm(c, http.StatusOK, userFormPage{Title: "Invite a staff member", New: true, Action: "/admin/users/invite", User: User{Role: auth.TeamMember}})
}

func (u *staffUI) invite(c *gin.Context) error {
	me, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return err
	}
	page := userFormPage{Title: "Invite a staff member", New: true, Action: "/admin/users/invite",
		User: User{Email: strings.TrimSpace(c.PostForm("email")), Name: strings.TrimSpace(c.PostForm("name")), Role: auth.Role(c.PostForm("role"))}}
	groups, bad := formGroups(c)
	if bad != nil {
		page.Errors = bad
		return u.renderUserForm(c, http.StatusUnprocessableEntity, page)
	}
	page.User.Groups = groups
	created, err := u.s.InviteUser(c.Request.Context(), me.Actor(), page.User.Email, page.User.Name, page.User.Role, groups)
	if err != nil {
		if msgs, ok := fieldMessages(err); ok {
			page.Errors = msgs
			return u.renderUserForm(c, web.Status(apperr.Code(err)), page)
		}
		return err
	}
	auth.SetFlash(c, fmt.Sprintf("Invitation sent to %s. The link in it works once, for %d days.", created.Email, int(inviteValidity.Hours()/24)))
	c.Redirect(http.StatusSeeOther, "/admin/users")
	return nil
}

// userParam checks the role, then loads the :id account (404 when unknown).
func (u *staffUI) userParam(c *gin.Context) (*auth.Principal, User, error) {
	me, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return nil, User{}, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, User{}, apperr.Errorf(apperr.NotFound, "There is no staff account %q.", c.Param("id"))
	}
	us, err := u.s.user(c.Request.Context(), id)
	if err != nil {
		return nil, User{}, err
	}
	return me, us, nil
}

func (u *staffUI) history(c *gin.Context, id int64) ([]historyRow, error) {
	ctx := c.Request.Context()
	es, err := u.s.userHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	names, err := u.groupNames(c)
	if err != nil {
		return nil, err
	}
	loc := u.s.locale(ctx)
	out := make([]historyRow, len(es))
	for i, e := range es {
		out[i] = historyRow{Entry: e, What: accountActionLabel(e.Action), Change: accountChange(e, names, loc)}
	}
	return out, nil
}

// accountActionLabel is how the history names an audited account action.
func accountActionLabel(a string) string {
	switch a {
	case "create":
		return "Account created"
	case "invite":
		return "Invited"
	case "update":
		return "Role or groups changed"
	case "disable":
		return "Disabled"
	case "enable":
		return "Enabled"
	case "send_password_reset":
		return "Password reset link sent"
	case "resend_invitation":
		return "Invitation sent again"
	case "accept_invitation":
		return "Invitation accepted"
	case "reset_password":
		return "Password reset"
	case "change_password":
		return "Password changed"
	}
	return "Changed"
}

// accountChange describes an account entry's change in words: roles by
// their names, groups by theirs, times in the organisation's locale.
func accountChange(e audit.Entry, groupNames map[int64]string, loc locale.Locale) string {
	type snap struct {
		Role          *auth.Role `json:"role"`
		Groups        *[]int64   `json:"groups"`
		To            string     `json:"to"`
		LinkExpiresAt *time.Time `json:"link_expires_at"`
	}
	var b, a snap
	_ = json.Unmarshal(e.Before, &b)
	_ = json.Unmarshal(e.After, &a)
	groups := func(ids *[]int64) string {
		if ids == nil || len(*ids) == 0 {
			return "all groups"
		}
		ns := make([]string, len(*ids))
		for i, id := range *ids {
			if ns[i] = groupNames[id]; ns[i] == "" {
				ns[i] = "a deleted group"
			}
		}
		return strings.Join(ns, ", ")
	}
	var parts []string
	switch {
	case a.Role != nil && b.Role != nil && *a.Role != *b.Role:
		parts = append(parts, "Role: "+b.Role.Label()+" → "+a.Role.Label())
	case a.Role != nil && b.Role == nil:
		parts = append(parts, "Role: "+a.Role.Label())
	}
	switch {
	case a.Groups != nil && b.Groups != nil && groups(a.Groups) != groups(b.Groups):
		parts = append(parts, "Groups: "+groups(b.Groups)+" → "+groups(a.Groups))
	case a.Groups != nil && b.Groups == nil:
		parts = append(parts, "Groups: "+groups(a.Groups))
	}
	if a.To != "" {
		line := "Sent to " + a.To
		if a.LinkExpiresAt != nil {
			line += ", valid until " + loc.DateTime(*a.LinkExpiresAt)
		}
		parts = append(parts, line)
	}
	return strings.Join(parts, "; ")
}

func (u *staffUI) userEdit(c *gin.Context) error {
	me, us, err := u.userParam(c)
	if err != nil {
		return err
	}
	page := userFormPage{Title: "Staff member " + us.Name, Action: fmt.Sprintf("/admin/users/%d", us.ID), User: us, Self: us.ID == me.UserID}
	if page.History, err = u.history(c, us.ID); err != nil {
		return err
	}
	return u.renderUserForm(c, http.StatusOK, page)
}

func (u *staffUI) userUpdate(c *gin.Context) error {
	me, us, err := u.userParam(c)
	if err != nil {
		return err
	}
	page := userFormPage{Title: "Staff member " + us.Name, Action: fmt.Sprintf("/admin/users/%d", us.ID), User: us, Self: us.ID == me.UserID}
	page.User.Role = auth.Role(c.PostForm("role"))
	groups, bad := formGroups(c)
	page.User.Groups = groups
	status := http.StatusUnprocessableEntity
	if bad == nil {
		_, err = u.s.updateUser(c.Request.Context(), me.Actor(), us.ID, page.User.Role, groups)
		if err == nil {
			auth.SetFlash(c, fmt.Sprintf("Saved %s: %s.", us.Email, page.User.Role.Label()))
			c.Redirect(http.StatusSeeOther, "/admin/users")
			return nil
		}
		msgs, ok := fieldMessages(err)
		if !ok {
			return err
		}
		bad, status = msgs, web.Status(apperr.Code(err))
	}
	page.Errors = bad
	if page.History, err = u.history(c, us.ID); err != nil {
		return err
	}
	return u.renderUserForm(c, status, page)
}

func (u *staffUI) userSetDisabled(disabled bool) web.HandlerFunc {
	return func(c *gin.Context) error {
		me, us, err := u.userParam(c)
		if err != nil {
			return err
		}
		if _, err := u.s.setUserDisabled(c.Request.Context(), me.Actor(), us.ID, disabled); err != nil {
			return err
		}
		if disabled && us.ID == me.UserID {
			// Another owner remains (else setUserDisabled refused): this
			// session ends now, like every other of the account.
			if err := u.a.SignOut(c.Request.Context(), "You disabled your own account and are signed out."); err != nil {
				return err
			}
			c.Redirect(http.StatusSeeOther, "/login")
			return nil
		}
		if disabled {
			auth.SetFlash(c, fmt.Sprintf("Disabled %s: their sessions have ended and they cannot sign in.", us.Email))
		} else {
			auth.SetFlash(c, fmt.Sprintf("Enabled %s: they can sign in again.", us.Email))
		}
		c.Redirect(http.StatusSeeOther, "/admin/users")
		return nil
	}
}

func (u *staffUI) userSendLink(c *gin.Context) error {
	me, us, err := u.userParam(c)
	if err != nil {
		return err
	}
	purpose, err := u.s.sendPasswordLink(c.Request.Context(), me.Actor(), us.ID)
	if err != nil {
		return err
	}
	if purpose == linkInvite {
		auth.SetFlash(c, fmt.Sprintf("A new invitation was sent to %s; the earlier link no longer works.", us.Email))
	} else {
		auth.SetFlash(c, fmt.Sprintf("A password reset link was sent to %s. It works once, for %d hour.", us.Email, int(resetValidity.Hours())))
	}
	c.Redirect(http.StatusSeeOther, "/admin/users")
	return nil
}
