package people

import (
	"embed"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages (people_*.html), for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// RegisterUI mounts /admin/people (look up, export, erase with a confirm
// step) on r, behind the staff session middleware; owners and admins only.
func (s *Service) RegisterUI(r gin.IRouter, rd *web.Renderer) {
	u := &ui{s: s, rd: rd}
	r.GET("/admin/people", rd.Page(u.lookup))
	r.GET("/admin/people/export", rd.Page(u.export))
	r.POST("/admin/people/erase", rd.Page(u.erase))
}

// RegisterAPI mounts GET /api/v1/people?email= and POST
// /api/v1/people/erase on r, the JSON API v1 group; owner and admin tokens
// only.
func (s *Service) RegisterAPI(r gin.IRouter) {
	r.GET("/people", web.API(func(c *gin.Context) error {
		if _, err := auth.CurrentCan(c, auth.ManagePeople); err != nil {
			return err
		}
		rec, err := s.Find(c.Request.Context(), c.Query("email"))
		if err != nil {
			return err
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, rec)
		return nil
	}))
	r.POST("/people/erase", web.API(func(c *gin.Context) error {
		p, err := auth.CurrentCan(c, auth.ManagePeople)
		if err != nil {
			return err
		}
		var body struct {
			Email string `json:"email"`
		}
		if err := web.DecodeJSON(c, &body, web.JSONOptions{MaxBytes: 4 << 10}); err != nil {
			return err
		}
		e, err := s.Erase(c.Request.Context(), p.Actor(), body.Email)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"erasure": e, "summary": e.Summary()})
		return nil
	}))
}

type ui struct {
	s  *Service
	rd *web.Renderer
}

// lookupPage is /admin/people: the search form and, for an email, what
// Laurel holds about that person.
type lookupPage struct {
	Email   string
	Error   string
	Record  *Record
	Confirm bool // the erase confirmation step
}

func (u *ui) lookup(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManagePeople); err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	email := strings.TrimSpace(c.Query("email"))
	if email == "" {
		return u.rd.Render(c, http.StatusOK, "people_admin.html", lookupPage{})
	}
	return u.show(c, email, false)
}

// show renders the person with email, or the form with the email's
// problem.
func (u *ui) show(c *gin.Context, email string, confirm bool) error {
	rec, err := u.s.Find(c.Request.Context(), email)
	if err != nil {
		if apperr.Code(err) == apperr.Invalid {
			return u.rd.Render(c, http.StatusUnprocessableEntity, "people_admin.html", lookupPage{Email: email, Error: apperr.Message(err)})
		}
		return err
	}
	return u.rd.Render(c, http.StatusOK, "people_admin.html", lookupPage{Email: rec.Email, Record: &rec, Confirm: confirm && !rec.Empty()})
}

// export downloads the person's record as JSON.
func (u *ui) export(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManagePeople); err != nil {
		return err
	}
	rec, err := u.s.Find(c.Request.Context(), c.Query("email"))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", `attachment; filename="person-export.json"`)
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
	return nil
}

// erase asks for confirmation (the page lists what will happen), then
// erases and redirects to the search form with what was done.
func (u *ui) erase(c *gin.Context) error {
	p, err := auth.CurrentCan(c, auth.ManagePeople)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	email := strings.TrimSpace(c.PostForm("email"))
	if c.PostForm("confirm") != "yes" {
		return u.show(c, email, true)
	}
	e, err := u.s.Erase(c.Request.Context(), p.Actor(), email)
	if err != nil {
		if apperr.Code(err) == apperr.Invalid {
			return u.rd.Render(c, http.StatusUnprocessableEntity, "people_admin.html", lookupPage{Email: email, Error: apperr.Message(err)})
		}
		return err
	}
	auth.SetFlash(c, "The person was erased: "+e.Summary()+". Reference "+e.Ref+".")
	c.Redirect(http.StatusSeeOther, "/admin/people")
	return nil
}
