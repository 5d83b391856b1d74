// Package auth knows who is asking: the principal and the permission table
// of docs/roles.md, sign-in and sign-out, sessions in Redis, bearer-token
// authentication of the API, CSRF protection, login rate limits and password
// hashing. It owns no table: the staff accounts and API tokens it checks
// are package accounts', reached through the Users interface.
package auth

import (
	"fmt"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// Role is a staff role. Instructors and students act through LTI launches and
// are not staff roles.
type Role string

// Staff roles, most powerful first.
const (
	Owner      Role = "owner"
	Admin      Role = "admin"
	TeamMember Role = "team_member"
	Viewer     Role = "viewer"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Owner, Admin, TeamMember, Viewer:
		return r, nil
	}
	return "", apperr.Errorf(apperr.Invalid, "role %q is not one of owner, admin, team_member, viewer", s)
}

// Permission is an action from docs/roles.md's table.
type Permission string

// Permissions, as in docs/roles.md's permissions table.
const (
	ManageStaff        Permission = "manage_staff"       // accounts, platforms, keys, API tokens
	ManageGroups       Permission = "manage_groups"      // designs and groups
	MapCourses         Permission = "map_courses"        // map a Canvas course to a group
	CreateCredentials  Permission = "create_credentials" // form, CSV, API
	PublishCredentials Permission = "publish"            // review, amend, publish, revoke
	ViewCredentials    Permission = "view_credentials"   // see credentials of a group
	ManagePeople       Permission = "manage_people"      // find, export and erase one person (GDPR, FERPA)
)

var grants = map[Role][]Permission{
	Owner:      {ManageStaff, ManageGroups, MapCourses, CreateCredentials, PublishCredentials, ViewCredentials, ManagePeople},
	Admin:      {ManageGroups, MapCourses, CreateCredentials, PublishCredentials, ViewCredentials, ManagePeople},
	TeamMember: {ManageGroups, MapCourses, CreateCredentials, PublishCredentials, ViewCredentials},
	Viewer:     {ViewCredentials},
}

// Principal is an authenticated staff user or API token.
type Principal struct {
	UserID  int64  // 0 for an API token
	TokenID int64  // 0 for a user
	Name    string // display name (user name or token name)
	Email   string
	Role    Role
	// Groups limits a team member to these groups; nil means every group.
	Groups []int64
}

// Actor names the principal in the audit log.
func (p *Principal) Actor() string {
	if p == nil {
		return "system"
	}
	if p.TokenID != 0 {
		return fmt.Sprintf("token:%d:%s", p.TokenID, p.Name)
	}
	return fmt.Sprintf("user:%d:%s", p.UserID, p.Email)
}

// Can reports whether the principal holds perm (ignoring group limits).
func (p *Principal) Can(perm Permission) bool {
	return p != nil && slices.Contains(grants[p.Role], perm)
}

// CanGroup reports whether the principal holds perm for group groupID.
func (p *Principal) CanGroup(perm Permission, groupID int64) bool {
	if !p.Can(perm) {
		return false
	}
	return p.Groups == nil || slices.Contains(p.Groups, groupID)
}

// Require returns a Forbidden error unless the principal holds perm.
func (p *Principal) Require(perm Permission) error {
	if p == nil {
		return apperr.Errorf(apperr.Unauthorized, "Please sign in.")
	}
	if !p.Can(perm) {
		return apperr.Errorf(apperr.Forbidden, "Your role (%s) does not allow this: %s.", p.Role.Label(), perm.Label())
	}
	return nil
}

// RequireGroup returns a Forbidden error unless the principal holds perm for
// group groupID.
func (p *Principal) RequireGroup(perm Permission, groupID int64) error {
	if err := p.Require(perm); err != nil {
		return err
	}
	if !p.CanGroup(perm, groupID) {
		return apperr.Errorf(apperr.Forbidden, "Your account is limited to other groups than this one; an owner can add it to your groups.")
	}
	return nil
}

// Current returns the principal the auth middleware attached to the request,
// or nil when nobody is signed in.
func Current(c *gin.Context) *Principal {
	v, ok := c.Get(web.UserKey)
	if !ok {
		return nil
	}
	p, _ := v.(*Principal)
	return p
}

// CurrentCan returns the signed-in principal when it holds perm: an
// Unauthorized error without one (a handler mounted without RequireStaff
// must not act anonymously), Forbidden when its role lacks perm.
func CurrentCan(c *gin.Context, perm Permission) (*Principal, error) {
	p := Current(c)
	if p == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "Please sign in first.")
	}
	if err := p.Require(perm); err != nil {
		return nil, err
	}
	return p, nil
}

// Label is the role as pages and emails name it.
func (r Role) Label() string {
	switch r {
	case Owner:
		return "Owner"
	case Admin:
		return "Admin"
	case TeamMember:
		return "Team Member"
	case Viewer:
		return "Viewer"
	}
	return string(r)
}

// Label is the permission as pages name it.
func (p Permission) Label() string {
	switch p {
	case ManageStaff:
		return "Manage staff"
	case ManageGroups:
		return "Manage designs and groups"
	case MapCourses:
		return "Map courses"
	case CreateCredentials:
		return "Create credentials"
	case PublishCredentials:
		return "Publish credentials"
	case ViewCredentials:
		return "View credentials"
	}
	return string(p)
}

// Roles lists the staff roles, most powerful first, for pickers.
func Roles() []Role { return []Role{Owner, Admin, TeamMember, Viewer} }
