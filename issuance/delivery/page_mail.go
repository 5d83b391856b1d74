package delivery

import (
	"embed"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// Templates holds the /admin/mail page; the app passes its "templates"
// directory to web.NewRenderer.
//
//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// page serves /admin/mail.
type page struct {
	s  *Service
	rd *web.Renderer
}

// mailPage is /admin/mail: credential emails by delivery state, the failing
// ones with their last error, and "Retry now" for those given up.
type mailPage struct {
	Title    string
	Overview issuance.MailOverview
	Limited  bool // the principal sees only some groups
}

// mail shows the delivery state of the emails of the groups the principal
// may publish in (every group for owners and admins).
func (u *page) mail(c *gin.Context) error {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	o, err := u.s.Core.MailOverview(c.Request.Context(), p.Groups)
	if err != nil {
		return err
	}
	return u.rd.Render(c, 200, "staff_mail.html", mailPage{Title: "Mail delivery", Overview: o, Limited: p.Groups != nil})
}

// mailRetry queues a failed email again.
func (u *page) mailRetry(c *gin.Context) error {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return apperr.Errorf(apperr.NotFound, "There is no email %q.", c.Param("id"))
	}
	ctx := c.Request.Context()
	gid, err := u.s.Core.EmailGroup(ctx, id)
	if err != nil {
		return err
	}
	if err := p.RequireGroup(auth.PublishCredentials, gid); err != nil {
		return err
	}
	if err := u.s.Core.RetryEmail(ctx, p.Actor(), id); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			auth.SetFlash(c, apperr.Message(err))
			return staffui.SeeOther(c, "/admin/mail")
		}
		return err
	}
	auth.SetFlash(c, "Email queued for sending again.")
	return staffui.SeeOther(c, "/admin/mail")
}
