package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/lti"
)

// RetireAfter is how old a key must be before the keys page retires it.
// Platforms cache the tool's JWKS (Canvas for hours), so a rotated-out key
// stays published for a week: messages signed just before a rotation still
// verify everywhere.
const RetireAfter = 7 * 24 * time.Hour

// keyRow is one tool key as the keys page shows it.
type keyRow struct {
	lti.ToolKeyInfo
	Signing bool // the newest active key: it signs from now on
}

// keyListPage is /admin/keys.
type keyListPage struct {
	Title       string
	Nav         adminTabs
	Keys        []keyRow
	JWKSURL     string
	RetireAfter string
	Retirable   int // active keys RetireKeys would retire now
}

func (a *admin) keyList(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	keys, err := a.t.Keys().List(c.Request.Context())
	if err != nil {
		return err
	}
	page := keyListPage{Title: "Tool keys", Nav: adminTabs{"keys"}, JWKSURL: a.t.JWKSURL(), RetireAfter: "7 days"}
	signing := false
	now := a.t.Keys().Now()
	for _, k := range keys { // newest first
		row := keyRow{ToolKeyInfo: k}
		if k.RetiredAt == nil {
			if !signing {
				row.Signing, signing = true, true
			} else if now.Sub(k.CreatedAt) > RetireAfter {
				page.Retirable++
			}
		}
		page.Keys = append(page.Keys, row)
	}
	return a.rd.Render(c, http.StatusOK, "lti_admin_keys.html", page)
}

func (a *admin) keysRotate(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	kid, err := a.t.Keys().RotateKeys(c.Request.Context())
	if err != nil {
		return err
	}
	a.log.InfoContext(c.Request.Context(), "tool key rotated", "kid", kid)
	auth.SetFlash(c, "New signing key "+kid+" signs from now on. The previous keys stay published at /lti/jwks until you retire them.")
	return seeOther(c, "/admin/keys")
}

func (a *admin) keysRetire(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	kids, err := a.t.Keys().RetireKeys(c.Request.Context(), RetireAfter)
	if err != nil {
		return err
	}
	a.log.InfoContext(c.Request.Context(), "tool keys retired", "kids", kids)
	if len(kids) == 0 {
		auth.SetFlash(c, "No key was retired: only keys older than 7 days are, and never the newest one.")
	} else {
		auth.SetFlash(c, "Retired "+strconv.Itoa(len(kids))+" key(s), no longer published: "+strings.Join(kids, ", ")+".")
	}
	return seeOther(c, "/admin/keys")
}
