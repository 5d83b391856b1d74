package staff

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxTrail bounds the "Previous" trail kept in the URL; older pages are
// reached through "First page".
const maxTrail = 50

// pager builds Next/Previous links for keyset pagination: the service's
// cursors only go forwards, so the URL carries the cursors of the pages
// before this one (trail) to go back.
type pager struct {
	base   string
	extra  url.Values // query parameters every link keeps (e.g. state)
	cursor string
	trail  []string // "" stands for the first page
}

func newPager(c *gin.Context, base string, extra url.Values) pager {
	p := pager{base: base, extra: extra, cursor: c.Query("cursor")}
	if t := c.Query("trail"); t != "" {
		p.trail = strings.Split(t, ",")
		if len(p.trail) > maxTrail {
			p.trail = p.trail[len(p.trail)-maxTrail:]
		}
	}
	return p
}

func (p pager) url(cursor string, trail []string) string {
	v := url.Values{}
	for k, vs := range p.extra {
		v[k] = vs
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(trail) > 0 {
		v.Set("trail", strings.Join(trail, ","))
	}
	if len(v) == 0 {
		return p.base
	}
	return p.base + "?" + v.Encode()
}

func (p pager) next(next string) string {
	if next == "" {
		return ""
	}
	return p.url(next, append(slices.Clone(p.trail), p.cursor))
}

func (p pager) prev() string {
	if p.cursor == "" {
		return ""
	}
	if len(p.trail) == 0 {
		return p.url("", nil)
	}
	return p.url(p.trail[len(p.trail)-1], p.trail[:len(p.trail)-1])
}
