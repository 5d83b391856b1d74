package public_test

import (
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/public"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
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
	pngBytes        = issuancetest.PNGBytes
	contains        = issuancetest.Contains
	mustKeys        = issuancetest.MustKeys
	intp            = issuancetest.IntP
	strp            = issuancetest.StrP
	itoa            = issuancetest.Itoa
	bulkCreate      = issuancetest.BulkCreate
	mustCatcher     = issuancetest.MustCatcher
	drain           = issuancetest.Drain
)

// signers are the signing services of the tests' core services: a test
// gives its core keys (setKeys) and reaches signing through sg.
var signers sync.Map // *issuance.Service → *signing.Service

// setKeys makes s's credentials signed with keys.
func setKeys(s *issuance.Service, keys *secret.Keys) { signers.Store(s, signing.New(s, keys)) }

// sg is s's signing service (one without keys until setKeys).
func sg(s *issuance.Service) *signing.Service {
	v, _ := signers.LoadOrStore(s, signing.New(s, nil))
	return v.(*signing.Service)
}

// pub is s's public pages, on sg(s).
func pub(s *issuance.Service) *public.Service { return public.New(s, reminders.New(s, nil), sg(s)) }

// emailWorker runs the email jobs, signing through sg(s).
func emailWorker(t testing.TB, s *issuance.Service, d *sqlx.DB, smtpURL string, batch bool) *jobs.Worker {
	return issuancetest.EmailWorker(t, s, d, smtpURL, batch, sg(s))
}
