// Package sandbox is what `laurel dev` adds for a newcomer: the mail catcher's
// inbox at /dev/mail and launches through the built-in Canvas simulator at /dev.
// It is never mounted by `laurel serve`.
package sandbox

import (
	"embed"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/web"
)

// Templates holds the sandbox pages.
//
//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// launch is one "launch as ..." link offered on /dev.
type launch struct {
	Label   string // e.g. "Ada Lovelace (teacher) in DS 101"
	URL     string // where the browser goes to start the launch at the simulator
	UserID  string // the Canvas user id
	Student bool   // a student can be marked as having completed the course
}

// Sandbox serves the /dev pages.
type Sandbox struct {
	Mail   *mail.Catcher
	Canvas *Canvas // nil when no simulator runs
	Owner  string  // "email / password" of the seeded owner, shown on /dev
}

// Register mounts /dev, the Canvas sandbox, /dev/mail and /dev/mail/:id.
func (s *Sandbox) Register(r gin.IRouter, rd *web.Renderer) {
	r.GET("/dev", rd.Page(func(c *gin.Context) error {
		var launches []launch
		if s.Canvas != nil {
			launches = s.Canvas.launches()
		}
		mails := 0
		if s.Mail != nil {
			mails = len(s.Mail.Messages())
		}
		return rd.Render(c, http.StatusOK, "dev_index.html", struct {
			Owner     string
			Launches  []launch
			Mail      int
			Completed string
		}{s.Owner, launches, mails, c.Query("completed")})
	}))
	if s.Canvas != nil {
		s.Canvas.mount(r, rd)
	}
	if s.Mail == nil {
		return
	}
	r.GET("/dev/mail", rd.Page(func(c *gin.Context) error {
		msgs := s.Mail.Messages()
		slices.Reverse(msgs) // newest first
		return rd.Render(c, http.StatusOK, "dev_mail.html", msgs)
	}))
	r.GET("/dev/mail/:id", rd.Page(func(c *gin.Context) error {
		id, _ := strconv.Atoi(c.Param("id"))
		for _, m := range s.Mail.Messages() {
			if m.ID == id {
				return rd.Render(c, http.StatusOK, "dev_message.html", m)
			}
		}
		return apperr.Errorf(apperr.NotFound, "No message %q in the mail catcher (it keeps messages in memory until laurel dev stops).", c.Param("id"))
	}))
}
