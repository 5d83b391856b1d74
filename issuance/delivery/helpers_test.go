package delivery_test

import (
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// The shared helpers under the names the tests use.
const actor = issuancetest.Actor

var (
	quiet       = issuancetest.Quiet
	mustService = issuancetest.MustService
	mustGroup   = issuancetest.MustGroup
	item        = issuancetest.Item
	mustCreate  = issuancetest.MustCreate
	contains    = issuancetest.Contains
	itoa        = issuancetest.Itoa
	bulkCreate  = issuancetest.BulkCreate
	mustCatcher = issuancetest.MustCatcher
	drain       = issuancetest.Drain
)

// emailWorker runs the email jobs without signing.
func emailWorker(t testing.TB, s *issuance.Service, d *sqlx.DB, smtpURL string, batch bool) *jobs.Worker {
	return issuancetest.EmailWorker(t, s, d, smtpURL, batch, nil)
}
