package imports_test

import "github.com/laurel-edu/laurel/issuance/internal/issuancetest"

// The shared helpers under the names the tests use.

var (
	quiet           = issuancetest.Quiet
	mustService     = issuancetest.MustService
	mustGroup       = issuancetest.MustGroup
	item            = issuancetest.Item
	mustCreate      = issuancetest.MustCreate
	tableCounts     = issuancetest.TableCounts
	assertUnchanged = issuancetest.AssertUnchanged
	intp            = issuancetest.IntP
	apiServer       = issuancetest.APIServer
)
