// Package staff is the staff pages of the issuance core: groups, designs,
// the Attributes section (the organisation's attribute variables),
// the Credentials tab (every credential across groups, its CSV/XLSX
// export, Create Credentials → Single Group), the "Create Credentials" form, "Review Unpublished Credentials", publish
// with a confirmation, each credential's page (amend, revoke, resend,
// delete) and the organisation settings, with their templates. It owns no
// table: everything goes through the issuance core; the credential preview
// is the public page's (issuance/public), the email preview delivery's.
package staff

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
	"github.com/laurel-edu/laurel/issuance/public"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

//go:embed templates/*.html
var own embed.FS

// Templates holds the staff pages with the credential design partial they
// share with the public page; the app passes its "templates" directory to
// web.NewRenderer.
var Templates fs.FS = withPartials{web.TemplateDir(own), public.Templates}

// Service serves the staff pages.
type Service struct {
	Core *issuance.Service
	// Reminders are the expiry emails' settings and renewal requests.
	Reminders *reminders.Service
	Public    *public.Service   // the credential preview
	Delivery  *delivery.Service // the email preview
	// Location is the zone scheduled publishing times are typed and shown
	// in (nil: the server's, time.Local).
	Location *time.Location
	// Wallets reads the claims of a credential into wallets
	// (issuance/wallet); nil shows none.
	Wallets WalletClaims
	// Insight is the engagement panel of the group and credential pages
	// (issuance/insight; nil: none).
	Insight Insight
	// SelfService is recipient self-service (nil: none): whether a
	// credential's recipient hid it from the public, and its emails
	// (links, name corrections, notices of a changed address) as sentences.
	SelfService interface {
		Hidden(ctx context.Context, credentialID string) (bool, error)
		EmailLines(ctx context.Context, credentialID string) ([]string, error)
	}
}

// WalletClaims is what the credential page reads from the wallet room.
type WalletClaims interface {
	// ClaimLines are a credential's claims as sentences, oldest first.
	ClaimLines(ctx context.Context, id string) ([]string, error)
	// CredentialsOfHolder are the ids of the credentials claimed by a
	// holder DID (the Credentials tab's search by DID).
	CredentialsOfHolder(ctx context.Context, did string) ([]string, error)
}

// Insight renders the engagement figures of a group or a credential.
type Insight interface {
	GroupPanel(ctx context.Context, groupID int64) (template.HTML, error)
	CredentialPanel(ctx context.Context, credentialID string) (template.HTML, error)
}

// New returns the staff pages over core, previewing through pub and dlv.
func New(core *issuance.Service, rem *reminders.Service, pub *public.Service, dlv *delivery.Service) *Service {
	return &Service{Core: core, Reminders: rem, Public: pub, Delivery: dlv}
}

// ui serves the staff pages: the workflows of docs/roles.md (groups, the
// "Create Credentials" form, "Review Unpublished Credentials", publish with a
// confirmation) plus designs and each credential's page.
type ui struct {
	s  *Service
	rd *web.Renderer
}

// Register mounts the staff pages on r, which the app protects with
// auth.RequireStaff (and the whole handler with auth.CSRF). Each handler
// checks the principal's permission for the group it touches and answers a
// 403 page when it is missing.
func (s *Service) Register(r gin.IRouter, rd *web.Renderer) {
	u := &ui{s: s, rd: rd}
	p := rd.Page
	r.GET("/groups", p(u.groupList))
	r.GET("/groups/new", p(u.groupNew))
	r.POST("/groups/new", p(u.groupCreate))
	r.GET("/groups/:id", p(u.groupOverview))
	r.GET("/groups/:id/edit", p(u.groupEdit))
	r.POST("/groups/:id/edit", p(u.groupUpdate))
	r.GET("/groups/:id/images/:key", p(u.groupImage))
	r.POST("/groups/:id/images/:key", p(u.groupImageUpload))
	r.POST("/groups/:id/images/:key/remove", p(u.groupImageRemove))
	r.GET("/groups/:id/credentials/new", p(u.credentialsNew))
	r.POST("/groups/:id/credentials/new", p(u.credentialsCreate))
	r.GET("/groups/:id/unpublished", p(u.unpublished))
	r.POST("/groups/:id/publish/confirm", p(u.publishConfirm))
	r.POST("/groups/:id/publish", p(u.publish))
	r.POST("/groups/:id/publish/schedules/:sid/cancel", p(u.scheduleCancel))
	r.GET("/groups/:id/published", p(u.published))
	r.GET("/credentials", p(u.credentialsTab))
	r.GET("/credentials/export", p(u.credentialsExport))
	r.GET("/credentials/new", p(u.credentialsCreateStart))
	r.POST("/credentials/bulk", p(u.bulkConfirm))
	r.POST("/credentials/bulk/apply", p(u.bulkApply))
	r.GET("/credentials/:id", p(u.credential))
	r.GET("/credentials/:id/preview", p(u.credentialPreview))
	r.POST("/credentials/:id", p(u.credentialAmend))
	r.POST("/credentials/:id/revoke", p(u.credentialRevoke))
	r.POST("/credentials/:id/resend", p(u.credentialResend))
	r.GET("/credentials/:id/delete", p(u.credentialDeleteConfirm))
	r.POST("/credentials/:id/delete", p(u.credentialDelete))
	r.GET("/admin/organisation", p(u.organisation))
	r.POST("/admin/organisation", p(u.organisationSave))
	r.POST("/admin/organisation/preview", p(u.organisationPreview))
	r.GET("/admin/organisation/reminders", p(u.orgReminders))
	r.POST("/admin/organisation/reminders", p(u.orgRemindersSave))
	r.GET("/groups/:id/reminders", p(u.groupReminders))
	r.POST("/groups/:id/reminders", p(u.groupRemindersSave))
	r.GET("/attributes", p(u.attributeList))
	r.POST("/attributes", p(u.attributeCreate))
	r.POST("/attributes/:key/rename", p(u.attributeRename))
	r.POST("/attributes/:key/retire", p(u.attributeRetire(true)))
	r.POST("/attributes/:key/restore", p(u.attributeRetire(false)))
	r.GET("/designs", p(u.designList))
	r.GET("/designs/new", p(u.designNew))
	r.POST("/designs/new", p(u.designCreate))
	r.GET("/designs/:id/edit", p(u.designEdit))
	r.POST("/designs/preview", p(u.designPreview))
	r.GET("/designs/templates/:layout/preview.svg", p(u.templatePreview))
	r.POST("/designs/:id/edit", p(u.designUpdate))
	r.GET("/designs/:id/image", p(u.designImage("image")))
	r.GET("/designs/:id/logo", p(u.designImage("logo")))
}

// groupFor loads the :id group and checks perm for it (staffui.GroupFor).
func (u *ui) groupFor(c *gin.Context, perm auth.Permission) (issuance.Group, *auth.Principal, error) {
	return staffui.GroupFor(c, u.s.Core, perm)
}

type (
	nav        = staffui.Nav
	formErrors = staffui.FormErrors
)

var (
	principal = staffui.Principal
	require   = staffui.Require
	paramID   = staffui.ParamID
	newNav    = staffui.NewNav
	seeOther  = staffui.SeeOther
	trimmed   = staffui.Trimmed
	plural    = staffui.Plural
)

func (s *Service) now() time.Time { return s.Core.Time() }
