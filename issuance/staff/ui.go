package issuance

import (
	"embed"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
)

// Templates holds the staff pages and the public credential page; the app
// passes its "templates" directory to web.NewRenderer.
//
//go:embed templates/*.html
var Templates embed.FS

// ui serves the staff pages: the workflows of docs/roles.md (groups, the
// "Create Credentials" form, "Review Unpublished Credentials", publish with a
// confirmation) plus designs and each credential's page.
type ui struct {
	s  *Service
	rd *web.Renderer
}

// RegisterUI mounts the staff pages on r, which the app protects with
// auth.RequireStaff (and the whole handler with auth.CSRF). Each handler
// checks the principal's permission for the group it touches and answers a
// 403 page when it is missing.
func (s *Service) RegisterUI(r gin.IRouter, rd *web.Renderer) {
	u := &ui{s: s, rd: rd}
	p := rd.Page
	r.GET("/groups", p(u.groupList))
	r.GET("/groups/new", p(u.groupNew))
	r.POST("/groups/new", p(u.groupCreate))
	r.GET("/groups/:id", p(u.groupOverview))
	r.GET("/groups/:id/edit", p(u.groupEdit))
	r.POST("/groups/:id/edit", p(u.groupUpdate))
	r.GET("/groups/:id/credentials/new", p(u.credentialsNew))
	r.POST("/groups/:id/credentials/new", p(u.credentialsCreate))
	r.GET("/groups/:id/unpublished", p(u.unpublished))
	r.POST("/groups/:id/publish/confirm", p(u.publishConfirm))
	r.POST("/groups/:id/publish", p(u.publish))
	r.GET("/groups/:id/published", p(u.published))
	r.GET("/credentials/:id", p(u.credential))
	r.GET("/credentials/:id/preview", p(u.credentialPreview))
	r.POST("/credentials/:id", p(u.credentialAmend))
	r.POST("/credentials/:id/revoke", p(u.credentialRevoke))
	r.POST("/credentials/:id/resend", p(u.credentialResend))
	r.GET("/credentials/:id/delete", p(u.credentialDeleteConfirm))
	r.POST("/credentials/:id/delete", p(u.credentialDelete))
	r.GET("/admin/mail", p(u.mail))
	r.POST("/admin/mail/:id/retry", p(u.mailRetry))
	r.GET("/admin/organisation", p(u.organisation))
	r.POST("/admin/organisation", p(u.organisationSave))
	r.POST("/admin/organisation/preview", p(u.organisationPreview))
	r.GET("/designs", p(u.designList))
	r.GET("/designs/new", p(u.designNew))
	r.POST("/designs/new", p(u.designCreate))
	r.GET("/designs/:id/edit", p(u.designEdit))
	r.POST("/designs/preview", p(u.designPreview))
	r.POST("/designs/:id/edit", p(u.designUpdate))
	r.GET("/designs/:id/image", p(u.designImage("image")))
	r.GET("/designs/:id/logo", p(u.designImage("logo")))
	u.registerImportUI(r)
}

// principal returns the signed-in principal; RequireStaff guarantees one,
// but a handler mounted without it must not act anonymously.
func principal(c *gin.Context) (*auth.Principal, error) {
	p := auth.Current(c)
	if p == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "Please sign in first.")
	}
	return p, nil
}

// paramID parses the :id path parameter as a positive integer.
func paramID(c *gin.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Errorf(apperr.NotFound, "There is no %s %q.", what, c.Param("id"))
	}
	return id, nil
}

// groupFor loads the :id group and checks perm for it: 404 for an unknown
// group, 403 when the principal lacks perm or is limited to other groups.
func (u *ui) groupFor(c *gin.Context, perm auth.Permission) (Group, *auth.Principal, error) {
	p, err := principal(c)
	if err != nil {
		return Group{}, nil, err
	}
	id, err := paramID(c, "group")
	if err != nil {
		return Group{}, nil, err
	}
	// Check the role first, so a viewer's POST is refused before any lookup.
	if err := p.Require(perm); err != nil {
		return Group{}, nil, err
	}
	g, err := u.s.Group(c.Request.Context(), id)
	if err != nil {
		return Group{}, nil, err
	}
	if err := p.RequireGroup(perm, g.ID); err != nil {
		return Group{}, nil, err
	}
	return g, p, nil
}

// nav is the group header and its tabs, shared by the group pages.
type nav struct {
	Group      Group
	Tab        string // overview, new, unpublished, published
	CanCreate  bool
	CanPublish bool
	CanManage  bool
}

func newNav(g Group, p *auth.Principal, tab string) nav {
	return nav{
		Group:      g,
		Tab:        tab,
		CanCreate:  p.CanGroup(auth.CreateCredentials, g.ID),
		CanPublish: p.CanGroup(auth.PublishCredentials, g.ID),
		CanManage:  p.CanGroup(auth.ManageGroups, g.ID),
	}
}

// formErrors maps a field name to its message, for forms that show each
// message next to its input.
type formErrors map[string]string

// add keeps the first message per field.
func (e formErrors) add(field, msg string) {
	if _, ok := e[field]; !ok {
		e[field] = msg
	}
}

// seeOther answers a POST with a redirect (Post/Redirect/Get).
func seeOther(c *gin.Context, url string) error {
	c.Redirect(http.StatusSeeOther, url)
	return nil
}

func trimmed(c *gin.Context, name string) string { return strings.TrimSpace(c.PostForm(name)) }

// plural formats "1 credential" / "2 credentials".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
