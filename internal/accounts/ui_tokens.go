package accounts

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
)

// tokenRowView is one API token in the list.
type tokenRowView struct {
	Token
	RoleLabel  string
	GroupNames []string
}

// tokenListPage is /admin/tokens: the list, the create form, and after a
// create the new token, shown this once.
type tokenListPage struct {
	Title   string
	Nav     ownerTabs
	Tokens  []tokenRowView
	Form    tokenForm
	Roles   []roleChoice
	Groups  []groupChoice
	Errors  map[string]string
	Created *Token
	Secret  string
}

type tokenForm struct {
	Name   string
	Role   auth.Role
	Groups []int64
}

func (u *staffUI) renderTokens(c *gin.Context, status int, page tokenListPage) error {
	ctx := c.Request.Context()
	toks, err := u.s.tokens(ctx)
	if err != nil {
		return err
	}
	names, err := u.groupNames(c)
	if err != nil {
		return err
	}
	page.Title, page.Nav = "API tokens", ownerTabs{"tokens"}
	for _, t := range toks {
		page.Tokens = append(page.Tokens, tokenRowView{Token: t, RoleLabel: t.Role.Label(), GroupNames: namesOf(t.Groups, names)})
	}
	if page.Form.Role == "" {
		page.Form.Role = auth.Viewer
	}
	page.Roles = roleChoices(page.Form.Role)
	if page.Groups, err = u.groupChoices(c, page.Form.Groups); err != nil {
		return err
	}
	return u.rd.Render(c, status, "accounts_admin_tokens.html", page)
}

func (u *staffUI) tokenList(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	return u.renderTokens(c, http.StatusOK, tokenListPage{})
}

func (u *staffUI) tokenCreate(c *gin.Context) error {
	me, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return err
	}
	page := tokenListPage{Form: tokenForm{Name: strings.TrimSpace(c.PostForm("name")), Role: auth.Role(c.PostForm("role"))}}
	groups, bad := formGroups(c)
	page.Form.Groups = groups
	if bad != nil {
		page.Errors = bad
		return u.renderTokens(c, http.StatusUnprocessableEntity, page)
	}
	t, secret, err := u.s.createTokenBy(c.Request.Context(), me, page.Form.Name, page.Form.Role, groups)
	if err != nil {
		if msgs, ok := fieldMessages(err); ok {
			page.Errors = msgs
			return u.renderTokens(c, web.Status(apperr.Code(err)), page)
		}
		return err
	}
	// The secret is on this answer only (auth.RequireStaff sends it no-store):
	// a redirect would have to keep it somewhere.
	return u.renderTokens(c, http.StatusCreated, tokenListPage{Created: &t, Secret: secret})
}

func (u *staffUI) tokenRevoke(c *gin.Context) error {
	me, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return apperr.Errorf(apperr.NotFound, "There is no API token %q.", c.Param("id"))
	}
	t, err := u.s.revokeToken(c.Request.Context(), me.Actor(), id)
	if err != nil {
		return err
	}
	auth.SetFlash(c, fmt.Sprintf("Revoked the API token %q: requests with it are refused from now on.", t.Name))
	c.Redirect(http.StatusSeeOther, "/admin/tokens")
	return nil
}
