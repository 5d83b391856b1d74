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
	quiet           = issuancetest.Quiet
	mustService     = issuancetest.MustService
	mustGroup       = issuancetest.MustGroup
	item            = issuancetest.Item
	mustCreate      = issuancetest.MustCreate
	tableCounts     = issuancetest.TableCounts
	assertUnchanged = issuancetest.AssertUnchanged
	fieldErrs       = issuancetest.FieldErrs
	mustCode        = issuancetest.MustCode
	pngBytes        = issuancetest.PNGBytes
	contains        = issuancetest.Contains
	mustKeys        = issuancetest.MustKeys
	intp            = issuancetest.IntP
	strp            = issuancetest.StrP
	itoa            = issuancetest.Itoa
	bulkCreate      = issuancetest.BulkCreate
	apiServer       = issuancetest.APIServer
	errCode         = issuancetest.ErrCode
	jobCount        = issuancetest.JobCount
	mustCatcher     = issuancetest.MustCatcher
	drain           = issuancetest.Drain
)

type apiClient = issuancetest.APIClient

// emailWorker runs the email jobs without signing.
func emailWorker(t testing.TB, s *issuance.Service, d *sqlx.DB, smtpURL string, batch bool) *jobs.Worker {
	return issuancetest.EmailWorker(t, s, d, smtpURL, batch, nil)
}
