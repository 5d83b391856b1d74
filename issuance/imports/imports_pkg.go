// Package imports turns a CSV or XLSX file into credentials of a group:
// upload, validate in a background job (a row at a time, with per-row
// errors), map columns, preview, commit all or nothing (or the valid rows)
// through the core, download the errors; its staff pages, its API routes
// (/api/v1/groups/:id/imports...) and its templates.
//
// It owns the tables imports, import_chunks, import_rows and
// import_mappings. Reading the file is issuance/sheet's. One deliberate
// exception to "no package touches another's tables": committing is one
// INSERT ... SELECT from import_rows into credentials (the core's unique
// index still enforces its one-live-credential rule), and validation marks
// rows whose recipient already holds a credential by joining credentials.
// Routing a million rows through Go to a core method would lose the bounded
// memory and most of the speed that the import benchmarks hold it to.
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
