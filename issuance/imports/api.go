package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// Media types of the workbooks an import accepts as a raw body.
const (
	XLSXType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	XLSType  = "application/vnd.ms-excel"
	ODSType  = "application/vnd.oasis.opendocument.spreadsheet"
)

// maxAPIErrors bounds the errors an import object lists; errors.csv has all.
const maxAPIErrors = 10000

type api struct{ s *Service }

// RegisterAPI mounts the import endpoints of docs/api.md on r, the JSON
// API v1 group (/api/v1, behind the Bearer-token middleware).
func (s *Service) RegisterAPI(r gin.IRouter) {
	a := &api{s: s}
	r.POST("/groups/:id/imports", web.API(a.createImport))
	r.POST("/imports", web.API(a.createImport))
	r.GET("/groups/:id/imports", web.API(a.listImports))
	r.GET("/imports/:id", web.API(a.getImport))
	r.GET("/imports/:id/errors.csv", web.API(a.importErrorsCSV))
	r.POST("/imports/:id/commit", web.API(a.commitImport))
	r.DELETE("/imports/:id", web.API(a.deleteImport))
}

type apiImportColumn struct {
	Header    string `json:"header"`
	Attribute string `json:"attribute"`
}

type apiProgress struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	Rate  int    `json:"rate"` // rows per second
}

// apiImport is an import as docs/api.md names its fields.
type apiImport struct {
	ID          int64             `json:"id"`
	GroupID     *int64            `json:"group_id"` // null: Multiple Groups
	Groups      []int64           `json:"groups,omitempty"`
	State       ImportState       `json:"state"`
	FileName    string            `json:"file_name"`
	SHA256      string            `json:"sha256"`
	Format      string            `json:"format"`
	Encoding    string            `json:"encoding,omitempty"`
	Delimiter   string            `json:"delimiter,omitempty"`
	Sheet       string            `json:"sheet,omitempty"`
	Sheets      []string          `json:"sheets,omitempty"`
	HeaderRow   int               `json:"header_row"`
	Rows        int               `json:"rows"`
	Valid       int               `json:"valid"`
	Invalid     int               `json:"invalid"`
	Created     int               `json:"created"`
	Skipped     int               `json:"skipped"`
	DateOrder   string            `json:"date_order"`
	Columns     []apiImportColumn `json:"columns"`
	Errors      []ImportError     `json:"errors"`
	MoreErrors  bool              `json:"more_errors"`
	Progress    apiProgress       `json:"progress"`
	DuplicateOf *int64            `json:"duplicate_of"`
	Warnings    []string          `json:"warnings"`
	Error       string            `json:"error,omitempty"`
	CreatedBy   string            `json:"created_by"`
	CreatedAt   time.Time         `json:"created_at"`
	CommittedAt *time.Time        `json:"committed_at"`
}

// importSummary is an import without its columns and row errors: what the
// list of a group's imports shows (each import's own object adds them).
func importSummary(im Import) apiImport {
	var gid *int64
	if !im.Multi() {
		gid = &im.GroupID
	}
	return apiImport{ID: im.ID, GroupID: gid, Groups: im.Groups, State: im.State, FileName: im.FileName, SHA256: im.SHA256, Format: im.Format,
		Encoding: im.Encoding, Delimiter: im.Delimiter, Sheet: im.Sheet, Sheets: im.Layout.Sheets, HeaderRow: im.HeaderRow, Rows: im.Rows, Valid: im.Valid, Invalid: im.Invalid, Created: im.Created,
		Skipped: im.Skipped, DateOrder: im.DateOrder, Columns: []apiImportColumn{}, Errors: []ImportError{}, DuplicateOf: im.DuplicateOf,
		Warnings: importWarnings(im), Error: im.Error, CreatedBy: im.ActorName, CreatedAt: im.CreatedAt, CommittedAt: im.CommittedAt,
		Progress: apiProgress{Phase: im.Phase, Done: im.RowsDone, Total: im.RowsTotal, Rate: im.Rate()}}
}

func (a *api) importOut(ctx context.Context, im Import) (apiImport, error) {
	o := importSummary(im)
	for _, c := range im.Columns {
		o.Columns = append(o.Columns, apiImportColumn{Header: c.Header, Attribute: c.Attribute})
	}
	if im.State == ImportReady || im.State == ImportCommitted || im.State == ImportCommitting {
		errs, err := a.s.ImportErrors(ctx, im, maxAPIErrors+1)
		if err != nil {
			return o, err
		}
		if len(errs) > maxAPIErrors {
			errs, o.MoreErrors = errs[:maxAPIErrors], true
		}
		o.Errors = errs
	}
	return o, nil
}

// importWarnings are what the user should know before committing.
func importWarnings(im Import) []string {
	w := []string{}
	if d := duplicateWarning(im); d != "" {
		w = append(w, d)
	}
	if l := lostWarning(im); l != "" {
		w = append(w, l)
	}
	return w
}

func duplicateWarning(im Import) string {
	if im.DuplicateOf == nil {
		return ""
	}
	return fmt.Sprintf("The same file (SHA-256 %s…) was already uploaded to this group as import %d.", im.SHA256[:12], *im.DuplicateOf)
}

// lostWarning names the rows whose names lost letters, "" when none did.
func lostWarning(im Import) string {
	for _, w := range im.Warnings {
		if w.Kind == warnLostLetters && w.Count > 0 {
			return w.text()
		}
	}
	return ""
}

// importFor loads import :id and checks that the principal may import into
// its group.
func (a *api) importFor(c *gin.Context) (Import, *auth.Principal, error) {
	p := auth.Current(c)
	if err := p.Require(auth.CreateCredentials); err != nil {
		return Import{}, nil, err
	}
	id, err := staffui.APIPathID(c, "Import")
	if err != nil {
		return Import{}, nil, err
	}
	im, err := a.s.Import(c.Request.Context(), id)
	if err != nil {
		return Import{}, nil, err
	}
	if err := MayUseImport(p, im); err != nil {
		return Import{}, nil, err
	}
	return im, p, nil
}

// uploadOptions reads date_order and mapping from a form value or query
// parameter.
func uploadOptions(get func(string) string) (ImportOptions, error) {
	opt := ImportOptions{DateOrder: get("date_order"), Sheet: get("sheet")}
	if h := strings.TrimSpace(get("header_row")); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 1 {
			return opt, apperr.Fields("The header row is not valid.", []apperr.FieldError{{Index: -1, Field: "header_row",
				Message: fmt.Sprintf("header_row must be the number of the row that holds the column names (1 or more), not %q.", h)}})
		}
		opt.HeaderRow = n
	}
	if m := strings.TrimSpace(get("mapping")); m != "" {
		if err := json.Unmarshal([]byte(m), &opt.Mapping); err != nil {
			return opt, apperr.Fields("The mapping is not valid.", []apperr.FieldError{{Index: -1, Field: "mapping",
				Message: `mapping must be a JSON object of header → attribute key (or "" to skip), e.g. {"Mail": "recipient.email"}.`}})
		}
	}
	return opt, nil
}

// createImport is POST /groups/:id/imports, or POST /imports for a
// Multiple Groups import (the file's group column names each row's group).
func (a *api) createImport(c *gin.Context) error {
	p := auth.Current(c)
	var id int64
	var err error
	multi := c.Param("id") == ""
	if multi {
		if err := p.Require(auth.CreateCredentials); err != nil {
			return err
		}
	} else {
		if id, err = staffui.APIGroupParam(c, auth.CreateCredentials); err != nil {
			return err
		}
		if _, err := a.s.Core.Group(c.Request.Context(), id); err != nil {
			return err
		}
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes+1<<20)
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	var body io.Reader
	var opt ImportOptions
	switch {
	case mt == "multipart/form-data":
		// Files beyond 1 MB go to temporary files, never memory.
		if err := c.Request.ParseMultipartForm(1 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return tooLarge()
			}
			return apperr.Errorf(apperr.BadRequest, "The multipart body could not be read.")
		}
		defer c.Request.MultipartForm.RemoveAll()
		f, fh, err := c.Request.FormFile("file")
		if err != nil {
			return apperr.Fields("No file.", []apperr.FieldError{{Index: -1, Field: "file", Message: `Send the spreadsheet in the multipart field "file".`}})
		}
		defer f.Close()
		if opt, err = uploadOptions(c.Request.FormValue); err != nil {
			return err
		}
		body, opt.FileName = f, fh.Filename
	case mt == "text/csv" || mt == XLSXType || mt == XLSType || mt == ODSType:
		if opt, err = uploadOptions(c.Query); err != nil {
			return err
		}
		opt.FileName = c.Query("file_name")
		if _, dp, err := mime.ParseMediaType(c.GetHeader("Content-Disposition")); err == nil && opt.FileName == "" {
			opt.FileName = dp["filename"]
		}
		if opt.FileName == "" {
			opt.FileName = map[string]string{XLSXType: "upload.xlsx", XLSType: "upload.xls", ODSType: "upload.ods"}[mt]
			if opt.FileName == "" {
				opt.FileName = "upload.csv"
			}
		}
		body = c.Request.Body
	default:
		return apperr.Errorf(apperr.BadRequest, `Content-Type %q is not accepted: send multipart/form-data with the file in field "file", or the file as the body with Content-Type text/csv, %s, %s or %s.`, mt, XLSXType, XLSType, ODSType)
	}
	opt.ActorName = p.Name
	var im Import
	if multi {
		im, err = a.s.StartMultiImport(c.Request.Context(), p.Actor(), p.Groups, body, opt)
	} else {
		im, err = a.s.StartImport(c.Request.Context(), p.Actor(), id, body, opt)
	}
	if err != nil {
		return err
	}
	out, err := a.importOut(c.Request.Context(), im)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (a *api) listImports(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	ims, err := a.s.Imports(c.Request.Context(), id, 100)
	if err != nil {
		return err
	}
	out := make([]apiImport, len(ims))
	for i, im := range ims {
		out[i] = importSummary(im)
	}
	c.JSON(http.StatusOK, gin.H{"imports": out})
	return nil
}

func (a *api) getImport(c *gin.Context) error {
	im, _, err := a.importFor(c)
	if err != nil {
		return err
	}
	out, err := a.importOut(c.Request.Context(), im)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (a *api) importErrorsCSV(c *gin.Context) error {
	im, _, err := a.importFor(c)
	if err != nil {
		return err
	}
	return writeErrorsCSV(c, a.s, im)
}

// writeErrorsCSV answers with import im's bad rows as a CSV download.
func writeErrorsCSV(c *gin.Context, s *Service, im Import) error {
	if im.State == ImportValidating || im.State == ImportFailed {
		return apperr.Errorf(apperr.Conflict, "Import %d has no checked rows (it is %s).", im.ID, im.State)
	}
	name := strings.TrimSuffix(im.FileName, path.Ext(im.FileName)) + "-errors.csv"
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Header("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	if err := s.WriteImportErrors(c.Request.Context(), c.Writer, im); err != nil {
		// Headers are gone: log it; the truncated download shows the rest.
		s.logger().Error("import errors csv", "import", im.ID, "err", err)
	}
	return nil
}

func (a *api) commitImport(c *gin.Context) error {
	im, p, err := a.importFor(c)
	if err != nil {
		return err
	}
	var b struct {
		AllOrNothing bool `json:"all_or_nothing"`
	}
	if c.Request.ContentLength != 0 && c.Request.Body != nil {
		if err := web.DecodeJSON(c, &b, web.JSONOptions{MaxBytes: 32 << 20}); err != nil && !strings.Contains(apperr.Message(err), "empty") {
			return err
		}
	}
	if _, err := a.s.CommitImport(c.Request.Context(), p.Actor(), im.ID, b.AllOrNothing); err != nil {
		return err
	}
	// The commit runs as a job (closing the connection loses nothing); a
	// script waits here for its outcome, up to a bound.
	ctx, cancel := context.WithTimeout(c.Request.Context(), 50*time.Second)
	defer cancel()
	done, err := a.s.WaitImport(ctx, im.ID, 50*time.Millisecond)
	if err != nil {
		return err
	}
	switch done.State {
	case ImportCommitted:
		c.JSON(http.StatusOK, gin.H{"created": done.Created, "skipped": done.Skipped})
		return nil
	case ImportReady:
		return apperr.Errorf(apperr.Conflict, "%s", done.Error)
	}
	out, err := a.importOut(c.Request.Context(), done)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, out)
	return nil
}

func (a *api) deleteImport(c *gin.Context) error {
	im, p, err := a.importFor(c)
	if err != nil {
		return err
	}
	if err := a.s.CancelImport(c.Request.Context(), p.Actor(), im.ID); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
