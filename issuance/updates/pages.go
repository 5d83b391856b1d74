package updates

import (
	"embed"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

type ui struct {
	s  *Service
	rd *web.Renderer
}

// RegisterUI mounts the pages on r, which the app protects with
// auth.RequireStaff and CSRF. Updating needs the permission to amend
// (auth.PublishCredentials), within the user's groups.
func (s *Service) RegisterUI(r gin.IRouter, rd *web.Renderer) {
	u := &ui{s: s, rd: rd}
	p := rd.Page
	r.GET("/credentials/updates", p(u.uploadPage))
	r.POST("/credentials/updates", p(u.upload))
	r.GET("/credentials/updates/:update", p(u.preview))
	r.POST("/credentials/updates/:update/apply", p(u.apply))
}

type uploadPage struct {
	Title   string
	Problem string
}

func (u *ui) uploadPage(c *gin.Context) error {
	if _, err := staffui.Require(c, auth.PublishCredentials); err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_updates_upload.html", uploadPage{Title: "Update by spreadsheet"})
}

func (u *ui) upload(c *gin.Context) error {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	refuse := func(status int, msg string) error {
		return u.rd.Render(c, status, "staff_updates_upload.html", uploadPage{Title: "Update by spreadsheet", Problem: msg})
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBytes+1<<20)
	if err := c.Request.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(http.StatusRequestEntityTooLarge, "The file is larger than 20 MB; split it into smaller files.")
		}
		return refuse(http.StatusBadRequest, "Choose the spreadsheet to upload.")
	}
	defer c.Request.MultipartForm.RemoveAll()
	f, fh, err := c.Request.FormFile("file")
	if err != nil {
		return refuse(http.StatusUnprocessableEntity, "Choose the spreadsheet to upload.")
	}
	defer f.Close()
	id, err := u.s.Upload(c.Request.Context(), p.Actor(), p.Groups, fh.Filename, f, fh.Size)
	if err != nil {
		if code := apperr.Code(err); code == apperr.Invalid || code == apperr.TooLarge {
			return refuse(web.Status(code), apperr.Message(err))
		}
		return err
	}
	return staffui.SeeOther(c, "/credentials/updates/"+strconv.FormatInt(id, 10))
}

// previewPage is an update's preview: counts, problems by row and column,
// and each change per credential, old → new.
type previewPage struct {
	Title    string
	Update   Update
	Problems []Row
	// MoreProblems are the rows with problems not listed.
	MoreProblems int
	Changes      []changeView
	// Offset is where this page of changes starts; Next/Prev link pages.
	Offset     int
	Next, Prev string
	Applied    bool
}

// changeView is one row's changes written for people.
type changeView struct {
	Number       int
	CredentialID string
	Name         string
	Fields       []fieldView
}

type fieldView struct{ Label, Old, New string }

const (
	changesPerPage = 200
	problemsShown  = 500
)

func (u *ui) updateFor(c *gin.Context) (Update, *auth.Principal, error) {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return Update{}, nil, err
	}
	id, err := strconv.ParseInt(c.Param("update"), 10, 64)
	if err != nil || id <= 0 {
		return Update{}, nil, apperr.Errorf(apperr.NotFound, "No such update.")
	}
	up, err := u.s.Get(c.Request.Context(), p.Actor(), id)
	return up, p, err
}

func (u *ui) preview(c *gin.Context) error {
	up, _, err := u.updateFor(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	page := previewPage{Title: "Update by spreadsheet · " + up.FileName, Update: up, Applied: up.AppliedAt != nil}
	if page.Problems, err = u.s.Rows(ctx, up.ID, true, 0, problemsShown); err != nil {
		return err
	}
	page.MoreProblems = up.Problems - len(page.Problems)
	page.Offset, _ = strconv.Atoi(c.Query("from"))
	page.Offset = max(0, page.Offset)
	rows, err := u.s.Rows(ctx, up.ID, false, page.Offset, changesPerPage)
	if err != nil {
		return err
	}
	l := u.s.Core.Locale(ctx)
	for _, r := range rows {
		v := changeView{Number: r.Number, CredentialID: r.CredentialID, Name: r.Name}
		for _, ch := range r.Changes {
			v.Fields = append(v.Fields, fieldView{Label: ch.Label, Old: shown(l, ch.Old, ch.Date), New: shown(l, ch.New, ch.Date)})
		}
		page.Changes = append(page.Changes, v)
	}
	base := "/credentials/updates/" + strconv.FormatInt(up.ID, 10)
	if page.Offset+changesPerPage < up.Changes {
		page.Next = base + "?from=" + strconv.Itoa(page.Offset+changesPerPage) + "#changes"
	}
	if page.Offset > 0 {
		page.Prev = base + "?from=" + strconv.Itoa(max(0, page.Offset-changesPerPage)) + "#changes"
	}
	return u.rd.Render(c, http.StatusOK, "staff_updates_preview.html", page)
}

// shown is a cell's value for people: a date in the organisation's
// language, "(empty)" for nothing.
func shown(l locale.Locale, v string, date bool) string {
	if v == "" {
		return "(empty)"
	}
	if date {
		if t, err := time.Parse(issuance.DateLayout, v); err == nil {
			return l.Date(t)
		}
	}
	return v
}

func (u *ui) apply(c *gin.Context) error {
	up, p, err := u.updateFor(c)
	if err != nil {
		return err
	}
	res, err := u.s.Apply(c.Request.Context(), p.Actor(), p.Groups, up.ID, c.PostForm("notify") == "1")
	back := "/credentials/updates/" + strconv.FormatInt(up.ID, 10)
	if err != nil {
		if apperr.Is(err, apperr.Conflict) {
			auth.SetFlash(c, apperr.Message(err))
			return staffui.SeeOther(c, back)
		}
		return err
	}
	msg := "Updated " + staffui.Plural(res.Amended, "credential") + "."
	if res.Emailed > 0 {
		msg += " " + staffui.Plural(res.Emailed, "email") + " queued for sending."
	}
	auth.SetFlash(c, msg)
	return staffui.SeeOther(c, back)
}
