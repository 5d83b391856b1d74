// Package imports turns a spreadsheet (CSV, XLSX, XLS, ODS) into
// credentials of a group, or of several groups named by a group column
// (Multiple Groups): upload (choosing the sheet and header row that match
// the group's columns), validate in a background job (a row at a time, with
// per-row errors), map columns, preview, commit all or nothing (or the valid
// rows) through the core, download the errors; its staff pages, its API
// routes (/api/v1/groups/:id/imports, /api/v1/imports...) and its templates.
//
// It owns the tables imports, import_chunks, import_rows and
// import_mappings, and touches no other: reading the file is
// issuance/sheet's; validation asks the core which recipients already hold a
// credential (Holders, a chunk of keys at a time while the rows stream into
// import_rows), and committing hands the core's BulkCreateFrom the SELECT
// of the valid rows (each carries its search key from the check), which
// stages them inside PostgreSQL for one INSERT ... SELECT, whose unique
// index enforces the one-live-credential rule; an import checked before the
// rows carried their search key feeds them, read in chunks, to BulkCreate.
package imports

import (
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/issuance"
)

// Service runs imports.
type Service struct {
	DB   *sqlx.DB
	Core *issuance.Service
}

// New returns the imports service over core.
func New(core *issuance.Service) *Service { return &Service{DB: core.DB, Core: core} }

func (s *Service) now() time.Time { return s.Core.Time() }

func (s *Service) logger() *slog.Logger { return s.Core.Logger() }
