package imports

import (
	"embed"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// Templates holds the import pages; the app passes its "templates"
// directory to web.NewRenderer.
//
//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// ui serves the import pages.
type ui struct {
	s  *Service
	rd *web.Renderer
}

// RegisterUI mounts the CSV/XLSX import pages on r, which the app protects
// with auth.RequireStaff.
func (s *Service) RegisterUI(r gin.IRouter, rd *web.Renderer) {
	u := &ui{s: s, rd: rd}
	p := rd.Page
	r.GET("/groups/:id/imports", p(u.imports))
	r.POST("/groups/:id/imports", p(u.importUpload))
	r.GET("/groups/:id/imports/template.csv", p(u.importTemplate("csv")))
	r.GET("/groups/:id/imports/template.xlsx", p(u.importTemplate("xlsx")))
	r.GET("/groups/:id/imports/:import", p(u.importPage))
	r.GET("/groups/:id/imports/:import/errors.csv", p(u.importErrors))
	r.POST("/groups/:id/imports/:import/recheck", p(u.importRecheck))
	r.POST("/groups/:id/imports/:import/layout", p(u.importLayout))
	// Multiple Groups: one file with a group column.
	r.GET("/imports", p(u.multiImports))
	r.POST("/imports", p(u.multiImportUpload))
	r.GET("/imports/:import", p(u.importPage))
	r.GET("/imports/:import/errors.csv", p(u.importErrors))
	r.POST("/imports/:import/recheck", p(u.importRecheck))
	r.POST("/imports/:import/layout", p(u.importLayout))
	r.POST("/imports/:import/commit", p(u.importCommit))
	r.POST("/imports/:import/cancel", p(u.importCancel))
	r.POST("/groups/:id/imports/:import/commit", p(u.importCommit))
	r.POST("/groups/:id/imports/:import/cancel", p(u.importCancel))
}

// importsPage is /groups/:id/imports: the upload form and past imports.
type importsPage struct {
	Title   string
	Nav     staffui.Nav
	Imports []Import
	Problem string
}

func (u *ui) imports(c *gin.Context) error {
	g, p, err := staffui.GroupFor(c, u.s.Core, auth.CreateCredentials)
	if err != nil {
		return err
	}
	return u.renderImports(c, g, p, http.StatusOK, "")
}

func (u *ui) renderImports(c *gin.Context, g issuance.Group, p *auth.Principal, status int, problem string) error {
	ims, err := u.s.Imports(c.Request.Context(), g.ID, 50)
	if err != nil {
		return err
	}
	return u.rd.Render(c, status, "staff_imports.html", importsPage{Title: "Import · " + g.Name, Nav: staffui.NewNav(g, p, "imports"),
		Imports: ims, Problem: problem})
}

func (u *ui) importUpload(c *gin.Context) error {
	g, p, err := staffui.GroupFor(c, u.s.Core, auth.CreateCredentials)
	if err != nil {
		return err
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes+1<<20)
	if err := c.Request.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return u.renderImports(c, g, p, http.StatusRequestEntityTooLarge, apperr.Message(tooLarge()))
		}
		return u.renderImports(c, g, p, http.StatusBadRequest, "Choose a CSV or Excel file to upload.")
	}
	defer c.Request.MultipartForm.RemoveAll()
	f, fh, err := c.Request.FormFile("file")
	if err != nil {
		return u.renderImports(c, g, p, http.StatusUnprocessableEntity, "Choose a CSV or Excel file to upload.")
	}
	defer f.Close()
	im, err := u.s.StartImport(c.Request.Context(), p.Actor(), g.ID, f, ImportOptions{FileName: fh.Filename,
		DateOrder: c.Request.FormValue("date_order"), Sheet: strings.TrimSpace(c.Request.FormValue("sheet")), ActorName: p.Name})
	if err != nil {
		if code := apperr.Code(err); code == apperr.Invalid || code == apperr.TooLarge {
			msg := apperr.Message(err)
			if fe := apperr.FieldErrors(err); len(fe) > 0 {
				msg = fe[0].Message
			}
			return u.renderImports(c, g, p, web.Status(code), msg)
		}
		return err
	}
	return staffui.SeeOther(c, im.URL())
}

// importFor loads the :import of the :id group (404 when it belongs to
// another group) after the group's permission check.
func (u *ui) importFor(c *gin.Context) (issuance.Group, *auth.Principal, Import, error) {
	if c.Param("id") == "" {
		return u.multiImportFor(c)
	}
	g, p, err := staffui.GroupFor(c, u.s.Core, auth.CreateCredentials)
	if err != nil {
		return issuance.Group{}, nil, Import{}, err
	}
	id, err := strconv.ParseInt(c.Param("import"), 10, 64)
	if err != nil || id <= 0 {
		return issuance.Group{}, nil, Import{}, apperr.Errorf(apperr.NotFound, "There is no import %q.", c.Param("import"))
	}
	im, err := u.s.Import(c.Request.Context(), id)
	if err != nil {
		return issuance.Group{}, nil, Import{}, err
	}
	if im.GroupID != g.ID {
		return issuance.Group{}, nil, Import{}, apperr.Errorf(apperr.NotFound, "There is no import %d in group %q.", id, g.Name)
	}
	return g, p, im, nil
}

// importColumnRow is one column of the mapping form.
type importColumnRow struct {
	ImportColumn
	Name string // form field
}

// importPage is /groups/:id/imports/:import.
type importPage struct {
	Title      string
	Nav        staffui.Nav
	Import     Import
	Columns    []importColumnRow
	Targets    []ImportTarget
	Errors     []ImportError
	MoreErrors bool
	Preview    []ImportPreviewRow
	Attributes []issuance.Attribute
	Duplicate  string // the same file was uploaded before
	Lost       string // names with "?" where letters were lost
	Problem    string
	// Base is the import page's path; Multi tells a Multiple Groups
	// import, whose preview names each row's group.
	Base       string
	Imports    string
	Multi      bool
	GroupNames map[int64]string
}

// pageErrors is how many problems the page lists; the CSV has all.
const pageErrors = 200

func (u *ui) importPage(c *gin.Context) error {
	g, p, im, err := u.importFor(c)
	if err != nil {
		return err
	}
	return u.renderImport(c, g, p, im, http.StatusOK, c.Query("problem"))
}

func (u *ui) renderImport(c *gin.Context, g issuance.Group, p *auth.Principal, im Import, status int, problem string) error {
	page := importPage{Title: im.FileName + " · " + g.Name, Nav: staffui.NewNav(g, p, "imports"), Import: im, Targets: importTargets(g),
		Attributes: g.CredentialAttributes(), Duplicate: duplicateWarning(im), Lost: lostWarning(im), Problem: problem,
		Base: im.URL(), Imports: importsURL(im), Multi: im.Multi()}
	if im.Multi() {
		page.Title = im.FileName + " · Multiple Groups"
		names, err := u.s.groupNames(c.Request.Context())
		if err != nil {
			return err
		}
		page.GroupNames = names
	}
	for i, col := range im.Columns {
		page.Columns = append(page.Columns, importColumnRow{ImportColumn: col, Name: fmt.Sprintf("col_%d", i)})
	}
	ctx := c.Request.Context()
	if im.State == ImportReady || im.State == ImportCommitted {
		errs, err := u.s.ImportErrors(ctx, im, pageErrors+1)
		if err != nil {
			return err
		}
		if len(errs) > pageErrors {
			errs, page.MoreErrors = errs[:pageErrors], true
		}
		page.Errors = labelErrors(g, errs)
	}
	if im.State == ImportReady {
		var err error
		if page.Preview, err = u.s.ImportPreview(ctx, im.ID, 10); err != nil {
			return err
		}
		previewDates(u.s.Core.Locale(ctx), g, page.Preview)
	}
	return u.rd.Render(c, status, "staff_import.html", page)
}

func (u *ui) importErrors(c *gin.Context) error {
	_, _, im, err := u.importFor(c)
	if err != nil {
		return err
	}
	return writeErrorsCSV(c, u.s, im)
}

func (u *ui) importRecheck(c *gin.Context) error {
	g, p, im, err := u.importFor(c)
	if err != nil {
		return err
	}
	mapping := map[string]string{}
	for i, col := range im.Columns {
		v, ok := c.GetPostForm(fmt.Sprintf("col_%d", i))
		if !ok {
			continue
		}
		mapping[col.Header] = strings.TrimSpace(v)
	}
	if _, err := u.s.RecheckImport(c.Request.Context(), p.Actor(), im.ID, c.PostForm("date_order"), mapping); err != nil {
		if code := apperr.Code(err); code == apperr.Invalid || code == apperr.Conflict {
			msg := apperr.Message(err)
			for _, f := range apperr.FieldErrors(err) {
				msg += " " + f.Message
			}
			return u.renderImport(c, g, p, im, http.StatusUnprocessableEntity, msg)
		}
		return err
	}
	return staffui.SeeOther(c, im.URL())
}

func (u *ui) importCommit(c *gin.Context) error {
	g, p, im, err := u.importFor(c)
	if err != nil {
		return err
	}
	if im.DuplicateOf != nil && c.PostForm("confirm_duplicate") != "yes" {
		return u.renderImport(c, g, p, im, http.StatusUnprocessableEntity,
			"This file was uploaded before: tick “Create them anyway” to confirm that these recipients should get credentials again.")
	}
	if lostWarning(im) != "" && c.PostForm("confirm_lost") != "yes" {
		return u.renderImport(c, g, p, im, http.StatusUnprocessableEntity,
			"Some names contain “?” where letters were probably lost: upload the file again saved as “CSV UTF-8”, or tick “Create them with these names” to confirm.")
	}
	if _, err := u.s.CommitImport(c.Request.Context(), p.Actor(), im.ID, c.PostForm("all_or_nothing") == "yes"); err != nil {
		if apperr.Code(err) == apperr.Conflict {
			return u.renderImport(c, g, p, im, http.StatusConflict, apperr.Message(err))
		}
		return err
	}
	return staffui.SeeOther(c, im.URL())
}

func (u *ui) importCancel(c *gin.Context) error {
	g, p, im, err := u.importFor(c)
	if err != nil {
		return err
	}
	if err := u.s.CancelImport(c.Request.Context(), p.Actor(), im.ID); err != nil {
		if apperr.Code(err) == apperr.Conflict {
			return u.renderImport(c, g, p, im, http.StatusConflict, apperr.Message(err))
		}
		return err
	}
	return staffui.SeeOther(c, importsURL(im))
}

func (u *ui) importTemplate(format string) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		g, _, err := staffui.GroupFor(c, u.s.Core, auth.CreateCredentials)
		if err != nil {
			return err
		}
		body, ctype, err := ImportTemplate(g, format, u.s.now())
		if err != nil {
			return err
		}
		c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": templateFileName(g, format)}))
		c.Data(http.StatusOK, ctype, body)
		return nil
	}
}

// labelErrors names each problem's field by its label, as the column
// matching does, instead of its key (recipient.email).
func labelErrors(g issuance.Group, errs []ImportError) []ImportError {
	labels := map[string]string{}
	for _, t := range importTargets(g) {
		labels[t.Key] = t.Label
	}
	for i, e := range errs {
		if l, ok := labels[e.Field]; ok {
			errs[i].Field = l
		} else if e.Field != "" {
			errs[i].Field = "File"
		}
	}
	return errs
}

// previewDates writes the preview's dates (stored as YYYY-MM-DD) in the
// organisation's locale.
func previewDates(l locale.Locale, g issuance.Group, rows []ImportPreviewRow) {
	date := func(v string) string {
		if d, err := time.Parse(issuance.DateLayout, v); err == nil {
			return l.Date(d)
		}
		return v
	}
	for i := range rows {
		rows[i].IssuedOn, rows[i].ExpiresOn = date(rows[i].IssuedOn), date(rows[i].ExpiresOn)
		for _, a := range g.CredentialAttributes() {
			if a.Type == issuance.DateAttr {
				if v, ok := rows[i].Attributes[a.Key]; ok {
					rows[i].Attributes[a.Key] = date(v)
				}
			}
		}
	}
}

// importLayout checks the file again reading another sheet or taking the
// column names from another row. A new sheet's header row is found again.
func (u *ui) importLayout(c *gin.Context) error {
	g, p, im, err := u.importFor(c)
	if err != nil {
		return err
	}
	sheetName := strings.TrimSpace(c.PostForm("sheet"))
	if sheetName == "" {
		sheetName = im.Sheet
	}
	row, err := strconv.Atoi(c.PostForm("header_row"))
	if err != nil || sheetName != im.Sheet {
		row = 0
	}
	if _, err := u.s.ChangeLayout(c.Request.Context(), p.Actor(), im.ID, sheetName, row); err != nil {
		if code := apperr.Code(err); code == apperr.Invalid || code == apperr.Conflict {
			msg := apperr.Message(err)
			if fe := apperr.FieldErrors(err); len(fe) > 0 {
				msg = fe[0].Message
			}
			return u.renderImport(c, g, p, im, web.Status(code), msg)
		}
		return err
	}
	return staffui.SeeOther(c, im.URL())
}
