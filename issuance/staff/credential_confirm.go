package staff

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// credentialConfirmPage asks before an action on one credential that cannot
// be undone (delete, revoke); no script needed.
type credentialConfirmPage struct {
	Title    string
	Nav      nav
	Cred     issuance.Credential
	Action   string // "delete" or "revoke"
	Reason   string // revoke: the reason to confirm
	Reappear bool   // delete: an automatic source may create it again
}

// credentialDeleteConfirm is GET /credentials/:id/delete.
func (u *ui) credentialDeleteConfirm(c *gin.Context) error {
	cr, g, p, err := u.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	if cr.State != issuance.Unpublished {
		return apperr.Errorf(apperr.Conflict, "Credential %s is %s; only unpublished credentials can be deleted (revoke a published one).", cr.ID, cr.State)
	}
	return u.rd.Render(c, http.StatusOK, "staff_credential_confirm.html", credentialConfirmPage{
		Title: "Delete credential · " + cr.Recipient.Name, Nav: newNav(g, p, ""), Cred: cr, Action: "delete",
		Reappear: cr.Source == issuance.FromCompletion || cr.Source == issuance.FromReconciliation,
	})
}

// credentialDelete is POST /credentials/:id/delete, from the confirm page.
func (u *ui) credentialDelete(c *gin.Context) error {
	cr, g, p, err := u.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	if _, err := u.s.Core.DeleteUnpublished(c.Request.Context(), p.Actor(), cr.ID); err != nil {
		return err
	}
	auth.SetFlash(c, "Deleted the unpublished credential of "+cr.Recipient.Name+" ("+cr.ID+").")
	return seeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10)+"/unpublished")
}
