package lti

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
)

// Framing (CSP frame-ancestors, set through web.AllowFraming). Laurel's
// pages refuse to be framed; the LTI pages are framed by the platform. The
// page that frames the tool is the institution's LMS (Canvas cloud: the
// school's own domain such as canvas.example.edu, not the shared issuer
// https://canvas.instructure.com nor the OIDC host sso.canvaslms.com), so a
// platform's origins are its issuer, auth URL and Canvas URL, plus the return
// URLs its signed launch names (Canvas's launch_presentation.return_url and
// deep_link_return_url are on the institution's domain).

// platformOrigins are the origins a registered platform frames from: its
// issuer and auth URL, and what the PlatformExtension adds (the Canvas URL).
func (t *Tool) platformOrigins(ctx context.Context, p *Platform) []string {
	return append([]string{p.Issuer, p.AuthURL}, t.registry.frameOrigins(ctx, p.ID)...)
}

// frameLaunch lets the launch's platform frame this response: pages with
// actions (mapping a course) are framed only by origins Laurel was told or
// the platform signed.
func (t *Tool) frameLaunch(c *gin.Context, l *Launch) {
	o := append(t.platformOrigins(c.Request.Context(), &l.Platform), l.LaunchPresentation.ReturnURL)
	if l.DeepLinking != nil {
		o = append(o, l.DeepLinking.ReturnURL)
	}
	web.AllowFraming(c, o...)
}

// frameUnsigned is for the pages shown before a launch is verified (the
// login's storage page, the launch check, a refusal): they have nothing to
// click, so the origin of the page that posted to us (the LMS page in the
// iframe) may frame them besides the platform's own origins; without it a
// Canvas registered without its Canvas URL could not show its login.
func frameUnsigned(c *gin.Context, origins ...string) {
	if o := c.GetHeader("Origin"); o != "" && o != "null" {
		origins = append(origins, o)
	}
	web.AllowFraming(c, origins...)
}

// registeredOrigins are the origins of every enabled platform, for pages that
// answer before Laurel knows which platform frames them (an expired launch,
// a refused login): they only show a message, and must show it inside the
// platform's iframe rather than as a blocked frame. Nil when the platforms
// cannot be read.
func (t *Tool) registeredOrigins(ctx context.Context) []string {
	ps, err := t.registry.launchPlatforms(ctx)
	if err != nil {
		return nil
	}
	var o []string
	for i := range ps {
		if !ps[i].Disabled {
			o = append(o, t.platformOrigins(ctx, &ps[i])...)
		}
	}
	return o
}
