package issuance_test

import "github.com/laurel-edu/laurel/issuance/internal/issuancetest"

// The shared helpers under the names the tests use.
const actor = issuancetest.Actor

var (
	mustService     = issuancetest.MustService
	mustGroup       = issuancetest.MustGroup
	item            = issuancetest.Item
	mustCreate      = issuancetest.MustCreate
	tableCounts     = issuancetest.TableCounts
	assertUnchanged = issuancetest.AssertUnchanged
	fieldErrs       = issuancetest.FieldErrs
	mustCode        = issuancetest.MustCode
	pngBytes        = issuancetest.PNGBytes
	intp            = issuancetest.IntP
	strp            = issuancetest.StrP
	itoa            = issuancetest.Itoa
	apiServer       = issuancetest.APIServer
	jobCount        = issuancetest.JobCount
)

type apiClient = issuancetest.APIClient
