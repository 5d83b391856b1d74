package auth

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// Bearer authenticates /api/v1 requests by `Authorization: Bearer <token>`
// and sets the principal (auth.Current works), or answers a JSON 401.
func (a *Auth) Bearer() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			c.Header("WWW-Authenticate", `Bearer realm="laurel"`)
			web.WriteJSONError(c, apperr.Errorf(apperr.Unauthorized, "Send an API token: Authorization: Bearer <token>."))
			return
		}
		p, err := a.users.TokenPrincipal(c.Request.Context(), strings.TrimSpace(tok))
		if err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				c.Header("WWW-Authenticate", `Bearer realm="laurel", error="invalid_token"`)
			}
			web.WriteJSONError(c, err)
			return
		}
		c.Set(web.UserKey, p)
		c.Next()
	}
}
