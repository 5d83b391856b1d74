package app

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// launchDeps connects the course views to the LTI tool: the launch
// token, the NRPS roster and the deep-linking response.
func (a *App) launchDeps(rd *web.Renderer) course.LaunchDeps {
	return course.LaunchDeps{
		LaunchFromRequest: a.LTI.LaunchFromRequest,
		Roster: func(ctx context.Context, l *lti.Launch) ([]course.RosterMember, error) {
			if l.NRPS == nil || l.NRPS.ContextMembershipsURL == "" {
				return nil, nil // the platform offers no roster for this launch
			}
			members, err := a.LTI.Members(ctx, &l.Platform, l.NRPS.ContextMembershipsURL)
			if err != nil {
				return nil, err
			}
			out := make([]course.RosterMember, 0, len(members))
			for _, m := range members {
				out = append(out, course.RosterMember{Sub: m.UserID, Name: m.Name, Email: m.Email, Roles: m.Roles, Status: m.Status})
			}
			return out, nil
		},
		DeepLink: func(c *gin.Context, l *lti.Launch, title, url string, custom map[string]string) error {
			item := lti.ContentItem{Type: "ltiResourceLink", Title: title, URL: url, Custom: custom}
			return a.LTI.WriteDeepLinkResponse(c, rd, l, []lti.ContentItem{item})
		},
		Groups:           a.Issuance,
		Renderer:         rd,
		AssistantsMayMap: a.Config.AssistantsMayMap,
		Review:           a.Issuance,
		Organisation:     orgSettings{a.Issuance},
		EmailPreview:     a.Delivery.PublishPreview,
	}
}

// orgSettings answers the launch views' questions about the organisation
// from its settings (/admin/organisation).
type orgSettings struct{ s *issuance.Service }

func (o orgSettings) InstructorsMayPublish(ctx context.Context) (bool, error) {
	return o.s.InstructorsMayPublish(ctx)
}

// OrganisationName is the organisation's name, "" until an owner has named
// it (the seeded "Laurel" is the software's name, not the issuer's).
func (o orgSettings) OrganisationName(ctx context.Context) (string, error) {
	org, err := o.s.Organisation(ctx)
	if !org.Named {
		return "", err
	}
	return org.Name, err
}
