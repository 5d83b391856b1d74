package recipient

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// correctionJSON is a name correction in the API (docs/api.md).
type correctionJSON struct {
	ID            int64     `json:"id"`
	CredentialID  string    `json:"credential_id"`
	GroupID       int64     `json:"group_id"`
	CurrentName   string    `json:"current_name"`
	RequestedName string    `json:"requested_name"`
	Note          string    `json:"note"`
	CreatedAt     time.Time `json:"created_at"`
}

// RegisterAPI mounts the name correction queue on r, the JSON API v1 group
// (/api/v1, behind the Bearer-token middleware): the open requests in the
// token's groups, approve, refuse with a reason.
func (s *Service) RegisterAPI(r gin.IRouter) {
	r.GET("/corrections", web.API(s.apiList))
	r.POST("/corrections/:id/approve", web.API(s.apiDecide(false)))
	r.POST("/corrections/:id/refuse", web.API(s.apiDecide(true)))
}

func (s *Service) apiList(c *gin.Context) error {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	cs, err := s.Queue(c.Request.Context(), p)
	if err != nil {
		return err
	}
	out := make([]correctionJSON, len(cs))
	for i, co := range cs {
		out[i] = correctionJSON{ID: co.ID, CredentialID: co.CredentialID, GroupID: co.GroupID, CurrentName: co.CurrentName,
			RequestedName: co.RequestedName, Note: co.Note, CreatedAt: co.CreatedAt}
	}
	c.JSON(http.StatusOK, gin.H{"corrections": out})
	return nil
}

func (s *Service) apiDecide(refuse bool) web.HandlerFunc {
	return func(c *gin.Context) error {
		p, err := staffui.Require(c, auth.PublishCredentials)
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			return apperr.Errorf(apperr.NotFound, "There is no such name correction.")
		}
		ctx := c.Request.Context()
		if !refuse {
			if err := s.Approve(ctx, p, id); err != nil {
				return err
			}
			c.JSON(http.StatusOK, gin.H{"id": id, "state": Approved})
			return nil
		}
		var b struct {
			Reason string `json:"reason"`
		}
		if err := web.DecodeJSON(c, &b, web.JSONOptions{}); err != nil {
			return err
		}
		if err := s.Refuse(ctx, p, id, b.Reason); err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"id": id, "state": Refused})
		return nil
	}
}
