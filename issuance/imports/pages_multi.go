package imports

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// URL is import im's page.
func (im Import) URL() string {
	if im.Multi() {
		return fmt.Sprintf("/imports/%d", im.ID)
	}
	return fmt.Sprintf("/groups/%d/imports/%d", im.GroupID, im.ID)
}

// importsURL is the page listing im's siblings (and the upload form).
func importsURL(im Import) string {
	if im.Multi() {
		return "/imports"
	}
	return fmt.Sprintf("/groups/%d/imports", im.GroupID)
}

// MayUseImport tells whether principal p may see and commit import im: for
// a one-group import, p must be allowed to create credentials in its group;
// for a Multiple Groups import, in every group its rows go to, and a
// principal limited to some groups sees only the imports they uploaded
// (whose other rows were refused by their limit).
func MayUseImport(p *auth.Principal, im Import) error {
	if !im.Multi() {
		return p.RequireGroup(auth.CreateCredentials, im.GroupID)
	}
	if err := p.Require(auth.CreateCredentials); err != nil {
		return err
	}
	if p.Groups != nil && im.Actor != p.Actor() {
		return apperr.Errorf(apperr.NotFound, "There is no import %d.", im.ID)
	}
	for _, gid := range im.Groups {
		if !p.CanGroup(auth.CreateCredentials, gid) {
			return apperr.Errorf(apperr.Forbidden, "This import creates credentials in groups you may not create credentials in.")
		}
	}
	return nil
}

// MultiImports lists the Multiple Groups imports p may see, newest first.
func (s *Service) MultiImports(ctx context.Context, p *auth.Principal, limit int) ([]Import, error) {
	var rows []importRow
	var actor any
	if p.Groups != nil {
		actor = p.Actor()
	}
	const q = `SELECT ` + importCols + ` FROM imports WHERE group_id IS NULL AND ($1::text IS NULL OR actor = $1)
		ORDER BY id DESC LIMIT $2`
	if err := s.DB.SelectContext(ctx, &rows, q, actor, limit); err != nil {
		return nil, fmt.Errorf("multiple groups imports: %w", err)
	}
	out := make([]Import, 0, len(rows))
	for _, r := range rows {
		if im := r.imp(); MayUseImport(p, im) == nil {
			out = append(out, im)
		}
	}
	return out, nil
}

// groupNames names every group by ID, for a Multiple Groups preview.
func (s *Service) groupNames(ctx context.Context) (map[int64]string, error) {
	all, err := s.Core.Groups(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(all))
	for _, g := range all {
		out[g.ID] = g.Name
	}
	return out, nil
}

// multiImportFor loads the :import of a Multiple Groups page.
func (u *ui) multiImportFor(c *gin.Context) (issuance.Group, *auth.Principal, Import, error) {
	p, err := auth.CurrentCan(c, auth.CreateCredentials)
	if err != nil {
		return issuance.Group{}, nil, Import{}, err
	}
	id, err := strconv.ParseInt(c.Param("import"), 10, 64)
	if err != nil || id <= 0 {
		return issuance.Group{}, nil, Import{}, apperr.Errorf(apperr.NotFound, "There is no import %q.", c.Param("import"))
	}
	ctx := c.Request.Context()
	im, err := u.s.Import(ctx, id)
	if err != nil {
		return issuance.Group{}, nil, Import{}, err
	}
	if !im.Multi() {
		return issuance.Group{}, nil, Import{}, apperr.Errorf(apperr.NotFound, "There is no such Multiple Groups import.")
	}
	if err := MayUseImport(p, im); err != nil {
		return issuance.Group{}, nil, Import{}, err
	}
	g, err := u.s.importGroup(ctx, im)
	if err != nil {
		return issuance.Group{}, nil, Import{}, err
	}
	return g, p, im, nil
}

// multiImportsPage is /imports: the Multiple Groups upload and past imports.
type multiImportsPage struct {
	Title   string
	Imports []Import
	Groups  []issuance.GroupSummary // the groups the user may import into
	Problem string
}

func (u *ui) multiImports(c *gin.Context) error {
	p, err := auth.CurrentCan(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	return u.renderMultiImports(c, p, http.StatusOK, "")
}

func (u *ui) renderMultiImports(c *gin.Context, p *auth.Principal, status int, problem string) error {
	ctx := c.Request.Context()
	ims, err := u.s.MultiImports(ctx, p, 50)
	if err != nil {
		return err
	}
	groups, err := u.s.Core.Groups(ctx, p.Groups)
	if err != nil {
		return err
	}
	return u.rd.Render(c, status, "staff_imports_multi.html", multiImportsPage{Title: "Create credentials for multiple groups",
		Imports: ims, Groups: groups, Problem: problem})
}

func (u *ui) multiImportUpload(c *gin.Context) error {
	p, err := auth.CurrentCan(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes+1<<20)
	if err := c.Request.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return u.renderMultiImports(c, p, http.StatusRequestEntityTooLarge, apperr.Message(tooLarge()))
		}
		return u.renderMultiImports(c, p, http.StatusBadRequest, "Choose a spreadsheet to upload.")
	}
	defer c.Request.MultipartForm.RemoveAll()
	f, fh, err := c.Request.FormFile("file")
	if err != nil {
		return u.renderMultiImports(c, p, http.StatusUnprocessableEntity, "Choose a spreadsheet to upload.")
	}
	defer f.Close()
	im, err := u.s.StartMultiImport(c.Request.Context(), p.Actor(), p.Groups, f, ImportOptions{FileName: fh.Filename,
		DateOrder: c.Request.FormValue("date_order"), ActorName: p.Name})
	if err != nil {
		if code := apperr.Code(err); code == apperr.Invalid || code == apperr.TooLarge {
			msg := apperr.Message(err)
			if fe := apperr.FieldErrors(err); len(fe) > 0 {
				msg = fe[0].Message
			}
			return u.renderMultiImports(c, p, web.Status(code), msg)
		}
		return err
	}
	return staffui.SeeOther(c, im.URL())
}
