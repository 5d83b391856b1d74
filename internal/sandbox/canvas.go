package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
)

// The sandbox platform keeps the same issuer and client id on every run, so
// its registration (and everything mapped through it) survives restarts.
const (
	canvasIssuer   = "https://canvas.sandbox.laurel.test"
	canvasClientID = "10000000000042"
	canvasToken    = "sandbox-canvas-api-token"
	canvasPrefix   = "/dev/canvas"
	sandboxCourse  = "101"
)

// Canvas is the built-in Canvas sandbox: the simulator mounted under
// /dev/canvas with one course, a teacher and a few students, its Live Events
// signer and its REST API.
type Canvas struct {
	Sim     *canvassim.Sim
	Events  *canvassim.LiveEvents
	REST    *canvassim.REST
	baseURL string
}

// NewCanvas builds the sandbox for a Laurel served at baseURL.
func NewCanvas(baseURL string) (*Canvas, error) {
	sim := canvassim.New()
	sim.Issuer = canvasIssuer
	sim.ClientID = canvasClientID
	sim.SetURL(baseURL + canvasPrefix)
	sim.UseTool(baseURL+"/lti/login", baseURL+"/lti/launch", baseURL+"/lti/jwks")
	sim.AddCourse(canvassim.Course{ID: sandboxCourse, ContextID: "4dde05e8ca1973bcca9bffc13e1548820eee93a3", Title: "DS 101: Introduction to Data Science", Label: "DS 101"})
	people := []struct {
		id, lti, name, email string
		role                 canvassim.Role
	}{
		{"2001", "a8c3e1c0-0d4b-4a36-9e0a-1f6b5c3d2001", "Ada Lovelace", "ada.lovelace@example.edu", canvassim.Teacher},
		{"2002", "a8c3e1c0-0d4b-4a36-9e0a-1f6b5c3d2002", "Grace Hopper", "grace.hopper@example.edu", canvassim.Student},
		{"2003", "a8c3e1c0-0d4b-4a36-9e0a-1f6b5c3d2003", "Alan Turing", "alan.turing@example.edu", canvassim.Student},
		{"2004", "a8c3e1c0-0d4b-4a36-9e0a-1f6b5c3d2004", "Katherine Johnson", "katherine.johnson@example.edu", canvassim.Student},
		{"2005", "a8c3e1c0-0d4b-4a36-9e0a-1f6b5c3d2005", "Edsger Dijkstra", "edsger.dijkstra@example.edu", canvassim.TA},
	}
	rest := canvassim.NewREST(sim, canvasToken)
	for _, p := range people {
		sim.AddUser(canvassim.User{ID: p.id, LTIID: p.lti, Name: p.name, Email: p.email})
		if err := sim.Enroll(sandboxCourse, p.id, p.role); err != nil {
			return nil, err
		}
		if p.role == canvassim.Student {
			rest.AddStudents(sandboxCourse, canvassim.RESTStudent{ID: p.id, Name: p.name, Email: p.email})
		}
	}
	events, err := canvassim.NewLiveEvents(sim)
	if err != nil {
		return nil, err
	}
	return &Canvas{Sim: sim, Events: events, REST: rest, baseURL: baseURL}, nil
}

// LiveEventsJWKSURL is where the sandbox publishes its Live Events keys; the
// sandbox app verifies webhooks against it.
func (c *Canvas) LiveEventsJWKSURL() string { return c.Events.JWKSURL() }

// RegisterPlatform adds (first run) or refreshes the sandbox platform.
func (c *Canvas) RegisterPlatform(ctx context.Context, reg *lti.Registry) error {
	in := lti.PlatformInput{
		Name: "Canvas sandbox (laurel dev)", Issuer: canvasIssuer, ClientID: canvasClientID,
		AuthURL: c.Sim.AuthURL(), TokenURL: c.Sim.TokenURL(), JWKSURL: c.Sim.JWKSURL(),
		DeploymentIDs: []string{c.Sim.DeploymentID}, Extra: canvas.PlatformExtra(c.Sim.URL(), canvasToken),
	}
	p, err := reg.PlatformByIssuerClient(ctx, canvasIssuer, canvasClientID)
	if apperr.Is(err, apperr.NotFound) {
		_, err = reg.AddPlatform(ctx, in)
		return err
	}
	if err != nil {
		return err
	}
	_, err = reg.UpdatePlatform(ctx, p.ID, in)
	return err
}

// launches lists the sandbox's "launch as" links.
func (c *Canvas) launches() []launch {
	var out []launch
	course, _ := c.Sim.Course(sandboxCourse)
	for _, e := range course.Enrollments {
		u, _ := c.Sim.User(e.UserID)
		q := url.Values{"course": {sandboxCourse}, "user": {u.ID}}
		out = append(out, launch{
			Label:  fmt.Sprintf("%s (%s) in %s", u.Name, e.Role, course.Title),
			URL:    c.Sim.URL() + "/sim/launch?" + q.Encode(),
			UserID: u.ID, Student: e.Role == canvassim.Student,
		})
	}
	return out
}

// mount serves the simulator under /dev/canvas and POST /dev/complete, which
// marks a sandbox student as having completed the course: Canvas's REST API
// reports it, and a signed course_completed Live Event goes to the webhook.
func (c *Canvas) mount(r gin.IRouter, rd *web.Renderer) {
	h := http.StripPrefix(canvasPrefix, c.Sim.Handler())
	r.Any(canvasPrefix+"/*path", func(g *gin.Context) {
		// The simulated Canvas only shares Laurel's address in the sandbox:
		// it is the platform, with its own inline scripts and frames, so
		// Laurel's page policy (no inline script, no framing) is not its.
		g.Writer.Header().Del("Content-Security-Policy")
		g.Writer.Header().Del("X-Frame-Options")
		h.ServeHTTP(g.Writer, g.Request)
	})
	r.POST("/dev/complete", rd.Page(func(g *gin.Context) error {
		u, ok := c.Sim.User(g.PostForm("user"))
		if !ok {
			return apperr.Errorf(apperr.Invalid, "No sandbox user %q.", g.PostForm("user"))
		}
		now := time.Now().UTC()
		c.REST.AddStudents(sandboxCourse, canvassim.RESTStudent{ID: u.ID, Name: u.Name, Email: u.Email, CompletedAt: &now})
		course, _ := c.Sim.Course(sandboxCourse)
		status, body, err := c.Events.DeliverCompletion(g.Request.Context(), c.baseURL+"/webhooks/canvas", canvassim.Completion{
			CourseID: sandboxCourse, CourseName: course.Title, UserID: u.ID, UserName: u.Name, UserEmail: u.Email, CompletedAt: now,
		})
		if err != nil {
			return fmt.Errorf("deliver the sandbox completion event: %w", err)
		}
		if status >= 300 {
			return apperr.Errorf(apperr.Invalid, "Laurel refused the sandbox event (HTTP %d): %s", status, body)
		}
		g.Redirect(http.StatusSeeOther, "/dev?completed="+url.QueryEscape(u.Name))
		return nil
	}))
}
