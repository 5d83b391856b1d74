package recipient

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// managePage is /c/:id/manage: to a stranger, the button that emails the
// recipient a link; to a proven recipient, hiding and name corrections.
type managePage struct {
	Credential issuance.Credential
	Group      issuance.Group
	FirstName  string
	Proven     bool
	Hidden     bool
	Pending    *Correction
	Form       struct{ Name, Note string }
	Errors     map[string]string
	Problem    string // a refusal that is not a field's (rate limit)
	Minutes    int    // how long a link works
}

// Register mounts the recipient's pages: /c/:id/manage and its forms, and
// /recipient/link (the emailed link, which asks for a click before it is
// used, so a mail scanner that opens links cannot spend it). They need no
// staff sign-in; the app's CSRF guard covers their forms.
func (s *Service) Register(r gin.IRouter, rd *web.Renderer) {
	p := &pages{s: s, rd: rd}
	r.GET("/c/:id/manage", rd.Page(p.manage))
	r.POST("/c/:id/manage/link", rd.Page(p.requestLink))
	r.POST("/c/:id/manage/hide", rd.Page(p.setHidden(true)))
	r.POST("/c/:id/manage/show", rd.Page(p.setHidden(false)))
	r.POST("/c/:id/manage/correction", rd.Page(p.correction))
	r.POST("/c/:id/manage/done", rd.Page(p.done))
	r.GET("/recipient/link", rd.Page(p.linkForm))
	r.POST("/recipient/link", rd.Page(p.useLink))
}

type pages struct {
	s  *Service
	rd *web.Renderer
}

func (p *pages) page(c *gin.Context) (managePage, error) {
	ctx := c.Request.Context()
	cr, err := p.s.manageable(ctx, strings.ToLower(c.Param("id")))
	if err != nil {
		return managePage{}, err
	}
	g, err := p.s.Core.Group(ctx, cr.GroupID)
	if err != nil {
		return managePage{}, err
	}
	mp := managePage{Credential: cr, Group: g, FirstName: firstName(cr.Recipient.Name), Proven: Proven(c, cr.ID),
		Errors: map[string]string{}, Minutes: int(p.s.LinkValidity.Minutes())}
	if mp.Hidden, err = p.s.Hidden(ctx, cr.ID); err != nil {
		return managePage{}, err
	}
	if mp.Proven {
		pc, ok, err := p.s.PendingCorrection(ctx, cr.ID)
		if err != nil {
			return managePage{}, err
		}
		if ok {
			mp.Pending = &pc
		}
	}
	return mp, nil
}

func (p *pages) render(c *gin.Context, status int, mp managePage) error {
	// A recipient's page is personal: never in a shared cache.
	c.Header("Cache-Control", "no-store")
	return p.rd.Render(c, status, "recipient_manage.html", mp)
}

func (p *pages) manage(c *gin.Context) error {
	mp, err := p.page(c)
	if err != nil {
		return err
	}
	return p.render(c, http.StatusOK, mp)
}

func (p *pages) requestLink(c *gin.Context) error {
	mp, err := p.page(c)
	if err != nil {
		return err
	}
	if err := p.s.RequestLink(c.Request.Context(), mp.Credential.ID); err != nil {
		if apperr.Is(err, apperr.RateLimited) {
			mp.Problem = apperr.Message(err)
			return p.render(c, http.StatusTooManyRequests, mp)
		}
		return err
	}
	auth.SetFlash(c, "We emailed a link to the address this credential was sent to. Open it within "+staffui.Plural(mp.Minutes, "minute")+".")
	return staffui.SeeOther(c, "/c/"+mp.Credential.ID+"/manage")
}

// proven loads the manage page of a recipient who proved it; anyone else
// is refused.
func (p *pages) proven(c *gin.Context) (managePage, error) {
	mp, err := p.page(c)
	if err != nil {
		return mp, err
	}
	if !mp.Proven {
		return mp, apperr.Errorf(apperr.Forbidden, "Only the credential's recipient can do this: ask for a link on the credential's page and open it first.")
	}
	return mp, nil
}

func (p *pages) setHidden(hide bool) web.HandlerFunc {
	return func(c *gin.Context) error {
		mp, err := p.proven(c)
		if err != nil {
			return err
		}
		if err := p.s.SetHidden(c.Request.Context(), mp.Credential.ID, hide); err != nil {
			return err
		}
		if hide {
			auth.SetFlash(c, "Your credential is hidden: its public page now says only that it exists and is valid.")
		} else {
			auth.SetFlash(c, "Your credential's page shows its details to everyone again.")
		}
		return staffui.SeeOther(c, "/c/"+mp.Credential.ID+"/manage")
	}
}

func (p *pages) correction(c *gin.Context) error {
	mp, err := p.proven(c)
	if err != nil {
		return err
	}
	mp.Form.Name, mp.Form.Note = strings.TrimSpace(c.PostForm("name")), strings.TrimSpace(c.PostForm("note"))
	_, err = p.s.RequestCorrection(c.Request.Context(), mp.Credential.ID, mp.Form.Name, mp.Form.Note)
	if err == nil {
		auth.SetFlash(c, "Your request was sent to the staff who issued the credential. We will email you their answer.")
		return staffui.SeeOther(c, "/c/"+mp.Credential.ID+"/manage")
	}
	if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	for _, fe := range apperr.FieldErrors(err) {
		mp.Errors[fe.Field] = fe.Message
	}
	if len(mp.Errors) == 0 {
		mp.Problem = apperr.Message(err)
	}
	return p.render(c, http.StatusUnprocessableEntity, mp)
}

func (p *pages) done(c *gin.Context) error {
	id := strings.ToLower(c.Param("id"))
	p.s.forget(c, id)
	auth.SetFlash(c, "You have left the recipient's options on this device.")
	return staffui.SeeOther(c, "/c/"+id)
}

type linkPage struct {
	Token   string
	Problem string
}

func (p *pages) linkForm(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	return p.rd.Render(c, http.StatusOK, "recipient_link.html", linkPage{Token: c.Query("token")})
}

func (p *pages) useLink(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	id, err := p.s.Redeem(c.Request.Context(), c.PostForm("token"))
	if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.NotFound) {
		return p.rd.Render(c, http.StatusBadRequest, "recipient_link.html", linkPage{Problem: apperr.Message(err)})
	}
	if err != nil {
		return err
	}
	if err := p.s.prove(c, id); err != nil {
		return err
	}
	return staffui.SeeOther(c, "/c/"+id+"/manage")
}
