package recipient

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// queueRow is one open correction as the queue shows it.
type queueRow struct {
	Correction
	Group       string
	Typed       string // the refusal reason typed, kept when it was refused
	ReasonError string
	Problem     string
}

type queuePage struct {
	Title string
	Rows  []queueRow
}

// RegisterStaff mounts the name correction queue, /corrections, on r, which
// the app protects with auth.RequireStaff: the open requests of the groups
// the staff member may publish in, each approved or refused with a reason.
func (s *Service) RegisterStaff(r gin.IRouter, rd *web.Renderer) {
	q := &queue{s: s, rd: rd}
	r.GET("/corrections", rd.Page(q.list))
	r.POST("/corrections/:id/approve", rd.Page(q.approve))
	r.POST("/corrections/:id/refuse", rd.Page(q.refuse))
}

type queue struct {
	s  *Service
	rd *web.Renderer
}

func (q *queue) rows(c *gin.Context, p *auth.Principal) ([]queueRow, error) {
	ctx := c.Request.Context()
	cs, err := q.s.Queue(ctx, p)
	if err != nil {
		return nil, err
	}
	groups := map[int64]string{}
	out := make([]queueRow, len(cs))
	for i, co := range cs {
		name, ok := groups[co.GroupID]
		if !ok {
			g, err := q.s.Core.Group(ctx, co.GroupID)
			if err != nil {
				return nil, err
			}
			name, groups[co.GroupID] = g.Name, g.Name
		}
		out[i] = queueRow{Correction: co, Group: name}
	}
	return out, nil
}

func (q *queue) render(c *gin.Context, status int, rows []queueRow) error {
	return q.rd.Render(c, status, "recipient_corrections.html", queuePage{Title: "Name corrections", Rows: rows})
}

func (q *queue) list(c *gin.Context) error {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	rows, err := q.rows(c, p)
	if err != nil {
		return err
	}
	return q.render(c, http.StatusOK, rows)
}

func (q *queue) approve(c *gin.Context) error {
	return q.decide(c, func(p *auth.Principal, id int64) error { return q.s.Approve(c.Request.Context(), p, id) },
		"Name corrected; the recipient is emailed.")
}

func (q *queue) refuse(c *gin.Context) error {
	reason := staffui.Trimmed(c, "reason")
	return q.decide(c, func(p *auth.Principal, id int64) error { return q.s.Refuse(c.Request.Context(), p, id, reason) },
		"Correction refused; the recipient is emailed the reason.")
}

// decide runs do on the :id correction; a refusal of the input re-renders
// the queue with the message on that request's row.
func (q *queue) decide(c *gin.Context, do func(*auth.Principal, int64) error, done string) error {
	p, err := staffui.Require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return apperr.Errorf(apperr.NotFound, "There is no such name correction.")
	}
	err = do(p, id)
	if err == nil {
		auth.SetFlash(c, done)
		return staffui.SeeOther(c, "/corrections")
	}
	if !apperr.Is(err, apperr.Invalid) {
		return err
	}
	rows, rerr := q.rows(c, p)
	if rerr != nil {
		return rerr
	}
	for i := range rows {
		if rows[i].ID != id {
			continue
		}
		rows[i].Typed = staffui.Trimmed(c, "reason")
		if fe := apperr.FieldErrors(err); len(fe) > 0 && fe[0].Field == "reason" {
			rows[i].ReasonError = fe[0].Message
		} else {
			rows[i].Problem = apperr.Message(err)
		}
	}
	return q.render(c, http.StatusUnprocessableEntity, rows)
}

// NavCount counts, for a staff page, the name corrections waiting in the
// groups the user may publish in, which the navigation shows as a link
// ("Name corrections (2)"); mount it on the staff routes. A failed count
// is logged and the page shown without it.
func (s *Service) NavCount() gin.HandlerFunc {
	return func(c *gin.Context) {
		p := auth.Current(c)
		if c.Request.Method != http.MethodGet || !p.Can(auth.PublishCredentials) {
			c.Next()
			return
		}
		const q = `SELECT count(*) FROM name_corrections
			WHERE state = 'pending' AND ($1::bigint[] IS NULL OR group_id = ANY($1))`
		var groups any // NULL: every group
		if p.Groups != nil {
			groups = pq.Array(p.Groups)
		}
		var n int
		if err := s.DB.GetContext(c.Request.Context(), &n, q, groups); err != nil {
			s.Core.Logger().Error("count name corrections", "err", err)
		} else if n > 0 {
			c.Set(web.NavCountsKey, map[string]int{"corrections": n})
		}
		c.Next()
	}
}
