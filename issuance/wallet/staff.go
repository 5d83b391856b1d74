package wallet

// What staff see and set: a group's wallet settings (page and API), and
// the claims of a holder's DID (API; the Credentials tab's search finds
// them through CredentialsOfHolder).

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// RegisterStaff mounts the group's wallet settings page on r (behind
// auth.RequireStaff and CSRF).
func (s *Service) RegisterStaff(r gin.IRoutes, rd *web.Renderer) {
	r.GET("/groups/:id/wallet", rd.Page(s.settingsPage(rd)))
	r.POST("/groups/:id/wallet", rd.Page(s.settingsSave(rd)))
}

// RegisterAPI mounts the wallet API on the bearer-authenticated /api/v1.
func (s *Service) RegisterAPI(r gin.IRoutes) {
	r.GET("/wallet/claims", web.API(s.apiClaims))
	r.GET("/groups/:id/wallet", web.API(s.apiSettings))
	r.PUT("/groups/:id/wallet", web.API(s.apiSetSettings))
}

type settingsView struct {
	Group  issuance.Group
	Uses   string
	TxCode bool
	Saved  bool
	Errors staffui.FormErrors
}

func (s *Service) settingsPage(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		g, _, err := staffui.GroupFor(c, s.Core, auth.ManageGroups)
		if err != nil {
			return err
		}
		st, err := s.Settings(c.Request.Context(), g.ID)
		if err != nil {
			return err
		}
		return rd.Render(c, http.StatusOK, "wallet_group_settings.html", settingsView{Group: g, Uses: strconv.Itoa(st.Uses),
			TxCode: st.TxCode, Saved: c.Query("saved") == "1", Errors: staffui.FormErrors{}})
	}
}

func (s *Service) settingsSave(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		g, p, err := staffui.GroupFor(c, s.Core, auth.ManageGroups)
		if err != nil {
			return err
		}
		v := settingsView{Group: g, Uses: staffui.Trimmed(c, "offer_uses"), TxCode: c.PostForm("tx_code") == "on", Errors: staffui.FormErrors{}}
		uses, err := strconv.Atoi(v.Uses)
		if err != nil || uses < 1 || uses > 10 {
			v.Errors.Add("offer_uses", "Enter a whole number from 1 to 10.")
			return rd.Render(c, http.StatusUnprocessableEntity, "wallet_group_settings.html", v)
		}
		if err := s.SetSettings(c.Request.Context(), p.Actor(), g.ID, GroupSettings{Uses: uses, TxCode: v.TxCode}); err != nil {
			return err
		}
		return staffui.SeeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10)+"/wallet?saved=1")
	}
}

func (s *Service) apiSettings(c *gin.Context) error {
	gid, err := staffui.APIGroupParam(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	if _, err := s.Core.Group(c.Request.Context(), gid); err != nil {
		return err
	}
	st, err := s.Settings(c.Request.Context(), gid)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

func (s *Service) apiSetSettings(c *gin.Context) error {
	gid, err := staffui.APIGroupParam(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	var st GroupSettings
	if err := web.DecodeJSON(c, &st, web.JSONOptions{MaxBytes: 4 << 10}); err != nil {
		return err
	}
	if err := s.SetSettings(c.Request.Context(), auth.Current(c).Actor(), gid, st); err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

// apiClaims lists claims by holder (?holder=<did>) or by credential
// (?credential_id=), within the caller's groups.
func (s *Service) apiClaims(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ViewCredentials); err != nil {
		return err
	}
	ctx := c.Request.Context()
	holder, credID := strings.TrimSpace(c.Query("holder")), strings.TrimSpace(c.Query("credential_id"))
	var ids []string
	switch {
	case holder != "" && credID == "":
		if !IsHolderDID(holder) {
			return apperr.Fields("Bad holder.", []apperr.FieldError{{Index: -1, Field: "holder", Message: "holder must be a did:key or did:jwk DID."}})
		}
		var err error
		if ids, err = s.CredentialsOfHolder(ctx, holder); err != nil {
			return err
		}
	case credID != "" && holder == "":
		ids = []string{strings.ToLower(credID)}
	default:
		return apperr.Fields("Name a holder or a credential.", []apperr.FieldError{{Index: -1, Field: "holder", Message: "Give exactly one of holder and credential_id."}})
	}
	out := []Claim{}
	for _, id := range ids {
		cr, err := s.Core.Credential(ctx, id)
		if apperr.Is(err, apperr.NotFound) {
			if credID != "" {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !p.CanGroup(auth.ViewCredentials, cr.GroupID) {
			if credID != "" {
				return apperr.Errorf(apperr.Forbidden, "You may not see credential %q.", id)
			}
			continue
		}
		cs, err := s.Claims(ctx, id)
		if err != nil {
			return err
		}
		for _, cl := range cs {
			if holder == "" || cl.Holder == strings.SplitN(holder, "#", 2)[0] {
				out = append(out, cl)
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"claims": out})
	return nil
}
