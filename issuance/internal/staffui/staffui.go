// Package staffui is what the staff surfaces of the issuance features
// share (the staff pages, the JSON API, imports, mail delivery): the
// signed-in principal, path ids and group permission checks, the group
// header, form errors and Post/Redirect/Get. It owns no table.
package staffui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// Principal returns the signed-in principal; RequireStaff guarantees one,
// but a handler mounted without it must not act anonymously.
func Principal(c *gin.Context) (*auth.Principal, error) {
	p := auth.Current(c)
	if p == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "Please sign in first.")
	}
	return p, nil
}

// Require returns the signed-in principal once it holds perm (in some
// group at least; GroupFor checks a given group).
func Require(c *gin.Context, perm auth.Permission) (*auth.Principal, error) {
	p, err := Principal(c)
	if err != nil {
		return nil, err
	}
	if err := p.Require(perm); err != nil {
		return nil, err
	}
	return p, nil
}

// ParamID parses the :id path parameter as a positive integer; what names
// the thing in the NotFound message.
func ParamID(c *gin.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Errorf(apperr.NotFound, "There is no %s %q.", what, c.Param("id"))
	}
	return id, nil
}

// GroupFor loads the :id group and checks perm for it: 404 for an unknown
// group, 403 when the principal lacks perm or is limited to other groups.
func GroupFor(c *gin.Context, core *issuance.Service, perm auth.Permission) (issuance.Group, *auth.Principal, error) {
	p, err := Principal(c)
	if err != nil {
		return issuance.Group{}, nil, err
	}
	id, err := ParamID(c, "group")
	if err != nil {
		return issuance.Group{}, nil, err
	}
	// Check the role first, so a viewer's POST is refused before any lookup.
	if err := p.Require(perm); err != nil {
		return issuance.Group{}, nil, err
	}
	g, err := core.Group(c.Request.Context(), id)
	if err != nil {
		return issuance.Group{}, nil, err
	}
	if err := p.RequireGroup(perm, g.ID); err != nil {
		return issuance.Group{}, nil, err
	}
	return g, p, nil
}

// Nav is the group header and its tabs, shared by the group pages (the
// layout's "group_header").
type Nav struct {
	Group      issuance.Group
	Tab        string // overview, new, unpublished, published
	CanCreate  bool
	CanPublish bool
	CanManage  bool
}

// NewNav is group g's header for principal p on tab.
func NewNav(g issuance.Group, p *auth.Principal, tab string) Nav {
	return Nav{
		Group:      g,
		Tab:        tab,
		CanCreate:  p.CanGroup(auth.CreateCredentials, g.ID),
		CanPublish: p.CanGroup(auth.PublishCredentials, g.ID),
		CanManage:  p.CanGroup(auth.ManageGroups, g.ID),
	}
}

// FormErrors maps a field name to its message, for forms that show each
// message next to its input.
type FormErrors map[string]string

// Add keeps the first message per field.
func (e FormErrors) Add(field, msg string) {
	if _, ok := e[field]; !ok {
		e[field] = msg
	}
}

// SeeOther answers a POST with a redirect (Post/Redirect/Get).
func SeeOther(c *gin.Context, url string) error {
	c.Redirect(http.StatusSeeOther, url)
	return nil
}

// Trimmed is form field name without surrounding space.
func Trimmed(c *gin.Context, name string) string { return strings.TrimSpace(c.PostForm(name)) }

// Plural formats "1 credential" / "2 credentials".
func Plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// APIGroupParam is the group id in an API path, once the caller may do
// perm in that group (a 404 for a malformed id, a 403 outside the caller's
// groups).
func APIGroupParam(c *gin.Context, perm auth.Permission) (int64, error) {
	id, err := APIPathID(c, "Group")
	if err != nil {
		return 0, err
	}
	if err := auth.Current(c).RequireGroup(perm, id); err != nil {
		return 0, err
	}
	return id, nil
}

// APIPathID parses an API path's :id as a positive integer; what names the
// thing in the NotFound message.
func APIPathID(c *gin.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Errorf(apperr.NotFound, "%s %q does not exist.", what, c.Param("id"))
	}
	return id, nil
}

// RequireNewGroup refuses a principal who may not create a group: one
// without ManageGroups, or limited to some groups while the organisation's
// owner has turned off group creation for them (LimitedMembersCreateGroups).
func RequireNewGroup(ctx context.Context, core *issuance.Service, p *auth.Principal) error {
	if err := p.Require(auth.ManageGroups); err != nil {
		return err
	}
	if p.Groups == nil {
		return nil
	}
	ok, err := core.LimitedMayCreateGroups(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Errorf(apperr.Forbidden, "You work only in the groups you were given, and the owner has turned off creating groups for team members limited to some groups. Ask an owner or admin to create the group.")
	}
	return nil
}

// MayCreateGroup reports whether p may create a group (RequireNewGroup),
// so a page offers the action only when it would succeed.
func MayCreateGroup(ctx context.Context, core *issuance.Service, p *auth.Principal) (bool, error) {
	switch err := RequireNewGroup(ctx, core, p); {
	case apperr.Is(err, apperr.Forbidden) || apperr.Is(err, apperr.Unauthorized):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// CreateGroup creates g for p, after RequireNewGroup: a principal limited to
// some groups gets the new group added to their limit in the same
// transaction, so they can work in it.
func CreateGroup(ctx context.Context, core *issuance.Service, p *auth.Principal, g issuance.Group) (issuance.Group, error) {
	if err := RequireNewGroup(ctx, core, p); err != nil {
		return issuance.Group{}, err
	}
	if p.Groups != nil {
		return core.CreateGroupInLimit(ctx, p.Actor(), g)
	}
	return core.CreateGroup(ctx, p.Actor(), g)
}
