package insight

import (
	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
)

// Register mounts /insights and its CSV export on r, which the app
// protects with auth.RequireStaff.
func (s *Service) Register(r gin.IRouter, rd *web.Renderer) {
	d := &dashboard{s: s, rd: rd}
	r.GET("/insights", rd.Page(d.page))
	r.GET("/insights.csv", rd.Page(d.csv))
}
