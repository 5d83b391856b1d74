package staff

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// confirmRecipients is how many recipients the Confirm step names.
const confirmRecipients = 20

// dateTimeInput is the layout of an <input type="datetime-local">.
const dateTimeInput = "2006-01-02T15:04"

// location is the zone staff type and read scheduled times in: the
// server's (there is no organisation time zone yet), named on the page.
func (s *Service) location() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.Local
}

// when formats an instant for staff in the server's zone, with its name:
// "9 Dec 2026, 09:00 UTC".
func (s *Service) when(t time.Time) string {
	t = t.In(s.location())
	return t.Format("2 Jan 2006, 15:04 MST")
}

// confirmPage fills the Confirm step for r: the count, the first recipients
// by name, and the email the first of them will receive, rendered by
// delivery's own template.
func (u *ui) confirmPage(c *gin.Context, r publishRequest) (publishConfirmPage, error) {
	ctx := c.Request.Context()
	page := publishConfirmPage{Title: "Confirm publishing · " + r.g.Name, Nav: newNav(r.g, r.p, "unpublished"), Sel: r.sel,
		Back: r.back, Errors: formErrors{}, Zone: u.s.now().In(u.s.location()).Format("MST")}
	page.MinAt = u.s.now().In(u.s.location()).Add(time.Minute).Format(dateTimeInput)
	n, err := u.s.Core.CountPublishable(ctx, r.sel)
	if err != nil || n == 0 {
		return page, err
	}
	page.Count = n
	if page.Recipients, err = u.s.Core.PublishRecipients(ctx, r.sel, confirmRecipients); err != nil {
		return page, err
	}
	page.More = max(n-len(page.Recipients), 0)
	if len(page.Recipients) > 0 {
		m, err := u.s.Delivery.PublishPreview(ctx, page.Recipients[0])
		if err != nil {
			return page, err
		}
		page.Email = &m
	}
	return page, nil
}

// publishLater schedules r's selection for the posted date and time; a bad
// time re-renders the Confirm step with its message and schedules nothing.
func (u *ui) publishLater(c *gin.Context, r publishRequest) error {
	ctx := c.Request.Context()
	typed := strings.TrimSpace(c.PostForm("publish_at"))
	at, perr := time.ParseInLocation(dateTimeInput, typed, u.s.location())
	var err error
	switch {
	case typed == "":
		err = apperr.Fields("Enter a date and time.", []apperr.FieldError{{Index: -1, Field: "publish_at", Message: "Enter the date and time to publish at."}})
	case perr != nil:
		err = apperr.Fields("Not a date and time.", []apperr.FieldError{{Index: -1, Field: "publish_at", Message: "Enter a date and time such as 2026-12-09 09:00."}})
	default:
		var sch issuance.PublishSchedule
		if sch, err = u.s.Core.SchedulePublish(ctx, r.p.Actor(), r.sel, at); err == nil {
			auth.SetFlash(c, "Scheduled: "+plural(sch.Count(), "credential")+" will be published on "+u.s.when(sch.RunAt)+". You can cancel this on the group's page until then.")
			return seeOther(c, "/groups/"+strconv.FormatInt(r.g.ID, 10))
		}
	}
	fe := apperr.FieldErrors(err)
	if len(fe) == 0 {
		return err
	}
	page, perr2 := u.confirmPage(c, r)
	if perr2 != nil {
		return perr2
	}
	page.PublishAt = typed
	for _, f := range fe {
		page.Errors.Add(f.Field, f.Message)
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_publish_confirm.html", page)
}

// scheduleView is one scheduled publish as the group page shows it.
type scheduleView struct {
	issuance.PublishSchedule
	When, Finished string
	CanCancel      bool
}

// recentSchedules is how long the group page keeps showing a finished
// scheduled publish (its outcome).
const recentSchedules = 7 * 24 * time.Hour

// groupSchedules lists group g's waiting and recently finished scheduled
// publishes for p.
func (u *ui) groupSchedules(ctx context.Context, g issuance.Group, p *auth.Principal) ([]scheduleView, error) {
	ss, err := u.s.Core.PublishSchedules(ctx, g.ID, u.s.now().Add(-recentSchedules))
	if err != nil {
		return nil, err
	}
	out := make([]scheduleView, len(ss))
	for i, s := range ss {
		v := scheduleView{PublishSchedule: s, When: u.s.when(s.RunAt)}
		if s.FinishedAt != nil {
			v.Finished = u.s.when(*s.FinishedAt)
		}
		v.CanCancel = s.State == issuance.ScheduleWaiting && canAll(p, auth.PublishCredentials, s.GroupIDs)
		out[i] = v
	}
	return out, nil
}

func canAll(p *auth.Principal, perm auth.Permission, groups []int64) bool {
	for _, g := range groups {
		if !p.CanGroup(perm, g) {
			return false
		}
	}
	return true
}

// scheduleCancel is POST /groups/:id/publish/schedules/:sid/cancel.
func (u *ui) scheduleCancel(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	sid, err := strconv.ParseInt(c.Param("sid"), 10, 64)
	if err != nil {
		return apperr.Errorf(apperr.NotFound, "Scheduled publish %q does not exist.", c.Param("sid"))
	}
	ctx := c.Request.Context()
	s, err := u.s.Core.PublishScheduleByID(ctx, sid)
	if err != nil {
		return err
	}
	if !slices.Contains(s.GroupIDs, g.ID) {
		return apperr.Errorf(apperr.NotFound, "Scheduled publish %d does not exist in this group.", sid)
	}
	if !canAll(p, auth.PublishCredentials, s.GroupIDs) {
		return apperr.Errorf(apperr.Forbidden, "This scheduled publish includes groups you cannot publish in.")
	}
	if _, err := u.s.Core.CancelPublishSchedule(ctx, p.Actor(), sid); err != nil {
		return err
	}
	auth.SetFlash(c, "Cancelled: the "+plural(s.Count(), "credential")+" scheduled for "+u.s.when(s.RunAt)+" will not be published then. They stay unpublished.")
	return seeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10))
}
