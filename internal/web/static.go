package web

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Scripts live in files, never inline, so the Content-Security-Policy can
// forbid inline script.
//
//go:embed static
var staticFS embed.FS

// RegisterStatic serves the embedded scripts and styles under /static/, and
// the favicon at /favicon.ico, where browsers ask for it.
func RegisterStatic(r gin.IRoutes) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded path is fixed at compile time
	}
	files := http.FileServerFS(sub)
	r.GET("/static/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Request.URL.Path = c.Param("file")
		files.ServeHTTP(c.Writer, c.Request)
	})
	favicon, err := staticFS.ReadFile("static/favicon.ico")
	if err != nil {
		panic(err) // the embedded path is fixed at compile time
	}
	r.GET("/favicon.ico", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=86400")
		c.Data(http.StatusOK, "image/x-icon", favicon)
	})
}
