package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// scheduleJSON is a scheduled publish as the API shows it.
type scheduleJSON struct {
	ID          int64    `json:"id"`
	GroupIDs    []int64  `json:"group_ids"`
	Credentials int      `json:"credentials"`
	IDs         []string `json:"credential_ids"`
	PublishAt   string   `json:"publish_at"`
	// State is scheduled, done, cancelled or failed (Error says why).
	State      string  `json:"state"`
	Published  int     `json:"published"`
	Skipped    int     `json:"skipped"`
	Error      string  `json:"error,omitempty"`
	CreatedAt  string  `json:"created_at"`
	FinishedAt *string `json:"finished_at"`
}

func scheduleOut(s issuance.PublishSchedule) scheduleJSON {
	out := scheduleJSON{ID: s.ID, GroupIDs: s.GroupIDs, Credentials: s.Count(), IDs: s.CredentialIDs,
		PublishAt: s.RunAt.UTC().Format(time.RFC3339), State: string(s.State), Published: s.Published, Skipped: s.Skipped,
		Error: s.Error, CreatedAt: s.CreatedAt.UTC().Format(time.RFC3339)}
	if s.FinishedAt != nil {
		f := s.FinishedAt.UTC().Format(time.RFC3339)
		out.FinishedAt = &f
	}
	return out
}

// publishLater schedules sel (already checked against p's groups) for at,
// an RFC 3339 time in the future and at most a year ahead: 202 with the
// schedule, whose id DELETE /publish/schedules/:id cancels.
func (a *api) publishLater(c *gin.Context, p *auth.Principal, sel issuance.Selection, at string) error {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(at))
	if err != nil {
		msg := "publish_at must be an RFC 3339 date and time with its offset, e.g. 2026-12-09T09:00:00Z."
		return apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: "publish_at", Message: msg}})
	}
	s, err := a.s.SchedulePublish(c.Request.Context(), p.Actor(), sel, t)
	if err != nil {
		return err
	}
	out := scheduleOut(s)
	c.JSON(http.StatusAccepted, gin.H{"schedule_id": s.ID, "schedule": out})
	return nil
}

// scheduleFor loads the :id scheduled publish and checks p holds perm in
// every group it touches (one it may not see is a 404).
func (a *api) scheduleFor(c *gin.Context, perm auth.Permission) (issuance.PublishSchedule, *auth.Principal, error) {
	p := auth.Current(c)
	if err := p.Require(perm); err != nil {
		return issuance.PublishSchedule{}, nil, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return issuance.PublishSchedule{}, nil, apperr.Errorf(apperr.NotFound, "Scheduled publish %q does not exist.", c.Param("id"))
	}
	s, err := a.s.PublishScheduleByID(c.Request.Context(), id)
	if err != nil {
		return s, nil, err
	}
	for _, g := range s.GroupIDs {
		if !p.CanGroup(auth.ViewCredentials, g) {
			return issuance.PublishSchedule{}, nil, apperr.Errorf(apperr.NotFound, "Scheduled publish %d does not exist.", id)
		}
		if err := p.RequireGroup(perm, g); err != nil {
			return issuance.PublishSchedule{}, nil, err
		}
	}
	return s, p, nil
}

// schedules is GET /publish/schedules[?group_id=N]: the waiting scheduled
// publishes and those finished in the last 30 days that p may see.
func (a *api) schedules(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ViewCredentials); err != nil {
		return err
	}
	var group int64
	if v := c.Query("group_id"); v != "" {
		var err error
		if group, err = strconv.ParseInt(v, 10, 64); err != nil || group <= 0 {
			return apperr.Fields("group_id must be a group's number.", []apperr.FieldError{{Index: -1, Field: "group_id", Message: "group_id must be a group's number."}})
		}
	}
	ss, err := a.s.PublishSchedules(c.Request.Context(), group, a.s.Time().AddDate(0, 0, -30))
	if err != nil {
		return err
	}
	out := []scheduleJSON{}
	for _, s := range ss {
		visible := true
		for _, g := range s.GroupIDs {
			visible = visible && p.CanGroup(auth.ViewCredentials, g)
		}
		if visible {
			out = append(out, scheduleOut(s))
		}
	}
	c.JSON(http.StatusOK, gin.H{"schedules": out})
	return nil
}

func (a *api) schedule(c *gin.Context) error {
	s, _, err := a.scheduleFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, scheduleOut(s))
	return nil
}

// cancelSchedule is DELETE /publish/schedules/:id: cancels a scheduled
// publish that has not run (409 once it has run or was cancelled).
func (a *api) cancelSchedule(c *gin.Context) error {
	s, p, err := a.scheduleFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	if s, err = a.s.CancelPublishSchedule(c.Request.Context(), p.Actor(), s.ID); err != nil {
		return err
	}
	c.JSON(http.StatusOK, scheduleOut(s))
	return nil
}
