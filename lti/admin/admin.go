// Package admin is the owner's pages that manage LTI platforms,
// deployments, registration links and the tool's keys. It is built on
// package lti's exported API (the Registry, the tool's KeyStore, the
// registration links) and owns no table: every read and write goes through
// lti, which owns platforms, deployments, tool_keys and registration_links.
//
// Wiring (the app): include Templates in the renderer and mount
// New(tool, log).Register on the staff router.
package admin

import (
	"embed"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are the package's pages (all named lti_admin_*.html), to pass
// to web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Pages serves the owner's pages for platforms and the tool's keys. Both
// decide who may launch Laurel and what signs its messages, so every route
// is owner-only (auth.ManageStaff), GET included: the list shows which
// platforms hold a Canvas API token.
type Pages struct {
	t   *lti.Tool
	log *slog.Logger
}

// admin is Pages with the renderer Register was given.
type admin struct {
	*Pages
	rd *web.Renderer
}

// New returns the pages of tool; log records each change an owner makes.
func New(tool *lti.Tool, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.Default()
	}
	return &Pages{t: tool, log: log}
}

// Register mounts the owner pages on r, which the app protects with
// auth.RequireStaff (and the whole handler with auth.CSRF):
//
//	GET  /admin/platforms                 platforms and the tool's configuration URLs
//	GET  /admin/platforms/new             add form; POST saves
//	GET  /admin/platforms/:id/edit        edit form; POST saves
//	POST /admin/platforms/:id/disable     refuse the platform's launches
//	POST /admin/platforms/:id/enable      accept them again
//	POST /admin/platforms/links           create a one-time registration link (shown once)
//	POST /admin/platforms/links/:id/revoke make an unused link expire now
//	GET  /admin/keys                      the tool's signing keys
//	POST /admin/keys/rotate               add a new signing key
//	POST /admin/keys/retire               retire keys older than RetireAfter, except the newest
//
// Every other role gets the 403 page. rd must include Templates.
func (pg *Pages) Register(r gin.IRouter, rd *web.Renderer) {
	a := &admin{Pages: pg, rd: rd}
	p := rd.Page
	r.GET("/admin/platforms", p(a.platformList))
	r.GET("/admin/platforms/new", p(a.platformNew))
	r.POST("/admin/platforms/new", p(a.platformCreate))
	r.GET("/admin/platforms/:id/edit", p(a.platformEdit))
	r.POST("/admin/platforms/:id/edit", p(a.platformUpdate))
	r.POST("/admin/platforms/:id/disable", p(a.platformSetDisabled(true)))
	r.POST("/admin/platforms/:id/enable", p(a.platformSetDisabled(false)))
	r.POST("/admin/platforms/links", p(a.linkCreate))
	r.POST("/admin/platforms/links/:id/revoke", p(a.linkRevoke))
	r.GET("/admin/keys", p(a.keyList))
	r.POST("/admin/keys/rotate", p(a.keysRotate))
	r.POST("/admin/keys/retire", p(a.keysRetire))
}

// platformParam checks the role, then loads the :id platform (404 when
// unknown), so a refused role learns nothing about which ids exist.
func (a *admin) platformParam(c *gin.Context) (*auth.Principal, lti.Platform, error) {
	p, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return nil, lti.Platform{}, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, lti.Platform{}, apperr.Errorf(apperr.NotFound, "There is no platform %q.", c.Param("id"))
	}
	pl, err := a.t.Registry().Platform(c.Request.Context(), id)
	if err != nil {
		return nil, lti.Platform{}, err
	}
	return p, pl, nil
}

func seeOther(c *gin.Context, url string) error {
	c.Redirect(http.StatusSeeOther, url)
	return nil
}

// adminTabs marks the current tab of the owner pages' navigation.
type adminTabs struct{ Tab string }

// toolConfig is what an admin pastes into a platform to install Laurel.
type toolConfig struct {
	Domain        string
	LoginURL      string
	LaunchURL     string
	JWKSURL       string
	CanvasJSONURL string
	RegisterURL   string
}

func (a *admin) toolConfig() toolConfig {
	t := a.t
	return toolConfig{
		Domain:    t.Domain(),
		LoginURL:  t.LoginURL(),
		LaunchURL: t.LaunchURL(),
		JWKSURL:   t.JWKSURL(),
		// Served by package canvas (RegisterDevKey) on the same base URL.
		CanvasJSONURL: t.BaseURL() + "/lti/canvas.json",
		RegisterURL:   t.RegisterURL(),
	}
}

// platformListRow is one platform of the list with its deployment count
// and, for one added by Dynamic Registration, the link that registered it.
type platformListRow struct {
	lti.Platform
	Deployments  int
	Registration *lti.RegistrationLink
	Extra        []lti.ExtraCell
}

// platformListPage is /admin/platforms.
type platformListPage struct {
	Title     string
	Nav       adminTabs
	Platforms []platformListRow
	// ExtraHeads are the PlatformExtension's columns.
	ExtraHeads []string
	Config     toolConfig
	Known      []lti.KnownIssuer
	// Links are the latest registration links; NewLink the URL of the one
	// just created (shown on this response only).
	Links       []linkRow
	NewLink     string
	NewLinkExp  time.Time
	LinkExpires []linkExpiry
	LinkError   string
}

// linkRow is one registration link of the list.
type linkRow struct {
	lti.RegistrationLink
	State string
}

// linkExpiry is one choice of a new link's lifetime.
type linkExpiry struct {
	Value, Label string
	Selected     bool
}

func linkExpiries(sel string) []linkExpiry {
	out := []linkExpiry{{"1h", "1 hour", false}, {"24h", "24 hours", false}, {"168h", "7 days", false}, {"720h", "30 days", false}}
	for i := range out {
		out[i].Selected = out[i].Value == sel
	}
	return out
}

func (a *admin) platformList(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	page, err := a.platformListPage(c)
	if err != nil {
		return err
	}
	return a.rd.Render(c, http.StatusOK, "lti_admin_platforms.html", page)
}

func (a *admin) platformListPage(c *gin.Context) (platformListPage, error) {
	ctx := c.Request.Context()
	var page platformListPage
	plats, err := a.t.Registry().Platforms(ctx)
	if err != nil {
		return page, err
	}
	counts, err := a.t.Registry().DeploymentCounts(ctx)
	if err != nil {
		return page, err
	}
	regs, err := a.t.RegistrationsByPlatform(ctx)
	if err != nil {
		return page, err
	}
	links, err := a.t.RegistrationLinks(ctx, 20)
	if err != nil {
		return page, err
	}
	page = platformListPage{Title: "LTI platforms", Nav: adminTabs{"platforms"}, Config: a.toolConfig(), Known: a.t.Registry().KnownIssuers(),
		LinkExpires: linkExpiries("24h")}
	var cells map[int64][]lti.ExtraCell
	if ext := a.t.Registry().Extension(); ext != nil {
		ids := make([]int64, len(plats))
		for i, p := range plats {
			ids[i] = p.ID
		}
		if page.ExtraHeads, cells, err = ext.ListColumns(ctx, ids); err != nil {
			return page, err
		}
	}
	for _, p := range plats {
		row := platformListRow{Platform: p, Deployments: counts[p.ID], Extra: cells[p.ID]}
		for len(row.Extra) < len(page.ExtraHeads) {
			row.Extra = append(row.Extra, lti.ExtraCell{Text: "—", Muted: true})
		}
		if l, ok := regs[p.ID]; ok {
			row.Registration = &l
		}
		page.Platforms = append(page.Platforms, row)
	}
	now := a.t.Now()
	for _, l := range links {
		page.Links = append(page.Links, linkRow{RegistrationLink: l, State: l.State(now)})
	}
	return page, nil
}

// linkCreate creates a one-time registration link and shows it on this
// response only (it is stored hashed, so it cannot be shown again).
func (a *admin) linkCreate(c *gin.Context) error {
	p, err := auth.CurrentCan(c, auth.ManageStaff)
	if err != nil {
		return err
	}
	exp := c.PostForm("expires")
	ttl, perr := time.ParseDuration(exp)
	var link string
	var l lti.RegistrationLink
	if perr == nil {
		link, l, err = a.t.CreateRegistrationLink(c.Request.Context(), p.UserID, ttl)
	}
	if perr != nil || apperr.Is(err, apperr.Invalid) {
		page, lerr := a.platformListPage(c)
		if lerr != nil {
			return lerr
		}
		page.LinkError = "Choose how long the link stays valid (1 hour to 30 days)."
		page.LinkExpires = linkExpiries(exp)
		return a.rd.Render(c, http.StatusUnprocessableEntity, "lti_admin_platforms.html", page)
	}
	if err != nil {
		return err
	}
	a.log.InfoContext(c.Request.Context(), "registration link created", "link_id", l.ID, "user_id", p.UserID, "expires_at", l.ExpiresAt)
	page, err := a.platformListPage(c)
	if err != nil {
		return err
	}
	page.NewLink, page.NewLinkExp = link, l.ExpiresAt
	page.LinkExpires = linkExpiries(exp)
	c.Header("Cache-Control", "no-store")
	return a.rd.Render(c, http.StatusOK, "lti_admin_platforms.html", page)
}

func (a *admin) linkRevoke(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return apperr.Errorf(apperr.NotFound, "There is no registration link %q.", c.Param("id"))
	}
	if err := a.t.RevokeRegistrationLink(c.Request.Context(), id); err != nil {
		return err
	}
	a.log.InfoContext(c.Request.Context(), "registration link revoked", "link_id", id)
	auth.SetFlash(c, "Registration link "+strconv.FormatInt(id, 10)+" is revoked: it can no longer register a platform.")
	return seeOther(c, "/admin/platforms")
}
