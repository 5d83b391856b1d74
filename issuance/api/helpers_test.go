package api_test

import "github.com/laurel-edu/laurel/issuance/internal/issuancetest"

// The shared helpers under the names the tests use.

var (
	mustService     = issuancetest.MustService
	mustGroup       = issuancetest.MustGroup
	tableCounts     = issuancetest.TableCounts
	assertUnchanged = issuancetest.AssertUnchanged
	itoa            = issuancetest.Itoa
	bulkCreate      = issuancetest.BulkCreate
	apiServer       = issuancetest.APIServer
	errCode         = issuancetest.ErrCode
	jobCount        = issuancetest.JobCount
)

type apiClient = issuancetest.APIClient
