// Package api is JSON API v1 (docs/api.md) for groups, credentials, the
// organisation's attribute variables and its settings: its handlers, request and response bodies. Every error goes through the one
// JSON renderer (web.API). It owns no table; everything goes through the
// issuance core, and the expiry emails through issuance/reminders. The
// import endpoints are issuance/imports'.
package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// Register mounts JSON API v1's group and credential endpoints on r, which
// the app mounts at /api/v1 behind the Bearer-token middleware. Each
// handler checks the principal's permission for the group it touches;
// rem serves the expiry reminder settings and renewal requests.
func Register(r gin.IRouter, core *issuance.Service, rem *reminders.Service) {
	a := &api{s: core, reminders: rem}
	r.GET("/groups", web.API(a.groups))
	r.POST("/groups", web.API(a.createGroup))
	r.GET("/groups/:id", web.API(a.group))
	r.PATCH("/groups/:id", web.API(a.patchGroup))
	r.POST("/groups/:id/credentials", web.API(a.createCredentials))
	r.GET("/groups/:id/credentials", web.API(a.listCredentials))
	r.POST("/credentials/publish", web.API(a.publish))
	r.GET("/publish/schedules", web.API(a.schedules))
	r.GET("/publish/schedules/:id", web.API(a.schedule))
	r.DELETE("/publish/schedules/:id", web.API(a.cancelSchedule))
	r.GET("/credentials", web.API(a.listCredentialsAcross))
	r.GET("/credentials/:id", web.API(a.credential))
	r.PATCH("/credentials/:id", web.API(a.patchCredential))
	r.POST("/credentials/:id/revoke", web.API(a.revoke))
	r.POST("/credentials/:id/resend", web.API(a.resend))
	r.GET("/attributes", web.API(a.attributes))
	r.POST("/attributes", web.API(a.createAttribute))
	r.PATCH("/attributes/:key", web.API(a.patchAttribute))
	r.GET("/organisation", web.API(a.organisation))
	r.PATCH("/organisation", web.API(a.patchOrganisation))
	r.GET("/organisation/reminders", web.API(a.orgReminders))
	r.PATCH("/organisation/reminders", web.API(a.patchOrgReminders))
	r.GET("/groups/:id/reminders", web.API(a.groupReminders))
	r.PATCH("/groups/:id/reminders", web.API(a.patchGroupReminders))
	r.GET("/groups/:id/renewal_requests", web.API(a.renewalRequests))
}

type api struct {
	s         *issuance.Service
	reminders *reminders.Service
}

// maxBody bounds a JSON request (a 50,000-item batch fits).
const maxBody = 32 << 20

// decode reads a JSON body strictly (web.DecodeJSON): unknown fields and
// trailing data are a 400 naming the problem, so a typo never silently does
// nothing; text that cannot be stored is a 422 naming its field.
func decode(c *gin.Context, v any) error {
	return web.DecodeJSON(c, v, web.JSONOptions{MaxBytes: maxBody})
}

func (a *api) out(c issuance.Credential) issuance.CredentialJSON { return a.s.CredentialJSON(c) }

func (a *api) outs(cs []issuance.Credential) []issuance.CredentialJSON {
	out := make([]issuance.CredentialJSON, len(cs))
	for i, c := range cs {
		out[i] = a.out(c)
	}
	return out
}

// attrValues turns JSON attribute values (strings or numbers) into strings;
// other types are per-field errors.
func attrValues(in map[string]any, index int, fe *[]apperr.FieldError) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		default:
			*fe = append(*fe, apperr.FieldError{Index: index, Field: "attributes." + k, Message: "Must be a string or a number."})
		}
	}
	return out
}

func (a *api) groups(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ViewCredentials); err != nil {
		return err
	}
	gs, err := a.s.Groups(c.Request.Context(), p.Groups)
	if err != nil {
		return err
	}
	out := make([]issuance.Group, len(gs))
	for i, g := range gs {
		out[i] = g.Group
	}
	c.JSON(http.StatusOK, gin.H{"groups": out})
	return nil
}

// groupBody is a group as the API accepts it (id and timestamps are ours).
type groupBody struct {
	Name            string               `json:"name"`
	CourseName      string               `json:"course_name"`
	Description     string               `json:"description"`
	CourseLink      string               `json:"course_link"`
	Language        string               `json:"language"`
	DesignID        int64                `json:"design_id"`
	Attributes      []issuance.Attribute `json:"attributes"`
	ValidityMonths  *int                 `json:"validity_months"`
	AllowDuplicates bool                 `json:"allow_duplicates"`

	// The instructor settings (see Group).
	AvailableToInstructors bool `json:"available_to_instructors"`
	AllowAutoPublish       bool `json:"allow_auto_publish"`
}

func (b groupBody) apply(g *issuance.Group) {
	g.Name, g.CourseName, g.Description, g.CourseLink, g.Language = b.Name, b.CourseName, b.Description, b.CourseLink, b.Language
	g.DesignID, g.Attributes, g.ValidityMonths, g.AllowDuplicates = b.DesignID, b.Attributes, b.ValidityMonths, b.AllowDuplicates
	g.AvailableToInstructors, g.AllowAutoPublish = b.AvailableToInstructors, b.AllowAutoPublish
}

func (a *api) createGroup(c *gin.Context) error {
	p := auth.Current(c)
	// The staff form's rule: a principal limited to groups may create one
	// (added to their limit) unless the owner turned that off.
	if err := staffui.RequireNewGroup(c.Request.Context(), a.s, p); err != nil {
		return err
	}
	var b groupBody
	if err := decode(c, &b); err != nil {
		return err
	}
	var g issuance.Group
	b.apply(&g)
	g, err := staffui.CreateGroup(c.Request.Context(), a.s, p, g)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, g)
	return nil
}

func (a *api) group(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	g, err := a.s.Group(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, g)
	return nil
}

func (a *api) patchGroup(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	p := auth.Current(c)
	g, err := a.s.Group(c.Request.Context(), id)
	if err != nil {
		return err
	}
	// Fields absent from the body keep their values: decode over the current ones.
	b := groupBody{Name: g.Name, CourseName: g.CourseName, Description: g.Description, CourseLink: g.CourseLink,
		Language: g.Language, DesignID: g.DesignID, Attributes: g.Attributes, ValidityMonths: g.ValidityMonths,
		AllowDuplicates: g.AllowDuplicates, AvailableToInstructors: g.AvailableToInstructors, AllowAutoPublish: g.AllowAutoPublish}
	// Attributes decode into a fresh slice (encoding/json would reuse the
	// current elements by position); absent means unchanged.
	b.Attributes = nil
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.Attributes == nil {
		b.Attributes = g.Attributes
	}
	b.apply(&g)
	if g, err = a.s.UpdateGroup(c.Request.Context(), p.Actor(), g); err != nil {
		return err
	}
	c.JSON(http.StatusOK, g)
	return nil
}

type newCredentialBody struct {
	Recipient   issuance.Recipient `json:"recipient"`
	IssuedOn    string             `json:"issued_on"`
	ExpiresOn   string             `json:"expires_on"`
	Attributes  map[string]any     `json:"attributes"`
	EvidenceURL string             `json:"evidence_url"`
	ExternalRef string             `json:"external_ref"`
}

func (a *api) createCredentials(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	p := auth.Current(c)
	var b struct {
		Credentials []newCredentialBody `json:"credentials"`
	}
	if err := web.DecodeJSON(c, &b, web.JSONOptions{MaxBytes: maxBody, Batch: "credentials"}); err != nil {
		return err
	}
	if len(b.Credentials) == 0 {
		return apperr.Fields("No credentials in the request.", []apperr.FieldError{{Index: -1, Field: "credentials", Message: "Send at least one credential."}})
	}
	items := make([]issuance.NewCredential, len(b.Credentials))
	var fe []apperr.FieldError
	for i, x := range b.Credentials {
		items[i] = issuance.NewCredential{Recipient: x.Recipient, IssuedOn: x.IssuedOn, ExpiresOn: x.ExpiresOn,
			Attributes: attrValues(x.Attributes, i, &fe), EvidenceURL: x.EvidenceURL, ExternalRef: x.ExternalRef}
	}
	if len(fe) > 0 {
		return issuance.BatchError(len(items), fe)
	}
	cs, err := a.s.CreateCredentials(c.Request.Context(), p.Actor(), id, issuance.FromAPI, items)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"credentials": a.outs(cs)})
	return nil
}

func (a *api) listCredentials(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	if _, err := a.s.Group(c.Request.Context(), id); err != nil {
		return err
	}
	opt := issuance.ListOptions{State: issuance.State(c.Query("state")), Cursor: c.Query("cursor"),
		Query: c.Query("q"), Source: issuance.Source(c.Query("source")), IssuedFrom: c.Query("issued_from"), IssuedTo: c.Query("issued_to")}
	if l := c.Query("limit"); l != "" {
		if opt.Limit, err = strconv.Atoi(l); err != nil || opt.Limit < 1 {
			return apperr.Fields("Bad limit.", []apperr.FieldError{{Index: -1, Field: "limit", Message: "limit must be a number from 1 to 500."}})
		}
	}
	cs, next, err := a.s.Credentials(c.Request.Context(), id, opt)
	if err != nil {
		return err
	}
	var nextCursor *string
	if next != "" {
		nextCursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"credentials": a.outs(cs), "next_cursor": nextCursor})
	return nil
}

// listCredentialsAcross is GET /credentials: every credential the caller
// may see across groups (a token or member limited to some groups sees
// theirs), with the group list's filters plus group_id, expiry dates and
// sort, cursor-paged.
func (a *api) listCredentialsAcross(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ViewCredentials); err != nil {
		return err
	}
	opt := issuance.AcrossOptions{
		ListOptions: issuance.ListOptions{State: issuance.State(c.Query("state")), Cursor: c.Query("cursor"),
			Query: c.Query("q"), Source: issuance.Source(c.Query("source")), IssuedFrom: c.Query("issued_from"), IssuedTo: c.Query("issued_to")},
		Groups: p.Groups, ExpiresFrom: c.Query("expires_from"), ExpiresTo: c.Query("expires_to"), Sort: issuance.Sort(c.Query("sort")),
	}
	var err error
	if l := c.Query("limit"); l != "" {
		if opt.Limit, err = strconv.Atoi(l); err != nil || opt.Limit < 1 {
			return apperr.Fields("Bad limit.", []apperr.FieldError{{Index: -1, Field: "limit", Message: "limit must be a number from 1 to 500."}})
		}
	}
	if g := c.Query("group_id"); g != "" {
		if opt.GroupID, err = strconv.ParseInt(g, 10, 64); err != nil || opt.GroupID < 1 {
			return apperr.Fields("Bad group_id.", []apperr.FieldError{{Index: -1, Field: "group_id", Message: "group_id must be a group's id."}})
		}
	}
	cs, next, err := a.s.CredentialsAcross(c.Request.Context(), opt)
	if err != nil {
		return err
	}
	var nextCursor *string
	if next != "" {
		nextCursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"credentials": a.outs(cs), "next_cursor": nextCursor})
	return nil
}

// credentialFor loads credential :id and checks perm on its group.
func (a *api) credentialFor(c *gin.Context, perm auth.Permission) (issuance.Credential, *auth.Principal, error) {
	p := auth.Current(c)
	if err := p.Require(perm); err != nil {
		return issuance.Credential{}, nil, err
	}
	cr, err := a.s.Credential(c.Request.Context(), c.Param("id"))
	if err != nil {
		return issuance.Credential{}, nil, err
	}
	if err := p.RequireGroup(perm, cr.GroupID); err != nil {
		return issuance.Credential{}, nil, err
	}
	return cr, p, nil
}

func (a *api) credential(c *gin.Context) error {
	cr, _, err := a.credentialFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a.out(cr))
	return nil
}

func (a *api) patchCredential(c *gin.Context) error {
	cr, p, err := a.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	var b struct {
		Recipient *struct {
			Name  *string `json:"name"`
			Email *string `json:"email"`
		} `json:"recipient"`
		IssuedOn   *string         `json:"issued_on"`
		ExpiresOn  json.RawMessage `json:"expires_on"`
		Attributes map[string]any  `json:"attributes"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	var am issuance.Amendment
	if b.Recipient != nil {
		am.Name, am.Email = b.Recipient.Name, b.Recipient.Email
	}
	am.IssuedOn = b.IssuedOn
	if b.ExpiresOn != nil {
		// null clears the expiry (re-deriving it from the group's validity).
		e := ""
		if string(b.ExpiresOn) != "null" {
			if err := json.Unmarshal(b.ExpiresOn, &e); err != nil {
				return &apperr.Error{Code: apperr.BadRequest, Message: `Field "expires_on" must be a date string or null.`}
			}
		}
		am.ExpiresOn = &e
	}
	if b.Attributes != nil {
		var fe []apperr.FieldError
		vals := attrValues(b.Attributes, -1, &fe)
		if len(fe) > 0 {
			return apperr.Fields("The attributes have problems.", fe)
		}
		// PATCH merges: keys not sent keep their values; null or "" removes one.
		am.Attributes = map[string]string{}
		for k, v := range cr.Attributes {
			am.Attributes[k] = v
		}
		for k, v := range vals {
			if v == "" {
				delete(am.Attributes, k)
			} else {
				am.Attributes[k] = v
			}
		}
	}
	out, err := a.s.AmendCredential(c.Request.Context(), p.Actor(), cr.ID, am)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a.out(out))
	return nil
}

func (a *api) publish(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.PublishCredentials); err != nil {
		return err
	}
	var b struct {
		IDs            []string `json:"ids"`
		GroupID        int64    `json:"group_id"`
		AllUnpublished bool     `json:"all_unpublished"`
		// PublishAt (RFC 3339) schedules the publish instead (see
		// publishLater).
		PublishAt *string `json:"publish_at"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	sel := issuance.Selection{IDs: b.IDs, GroupID: b.GroupID, AllUnpublished: b.AllUnpublished}
	if err := issuance.CheckSelection(sel); err != nil {
		return err
	}
	groups := []int64{}
	if b.GroupID != 0 {
		groups = append(groups, b.GroupID)
	}
	if len(b.IDs) > 0 {
		gs, err := a.s.GroupsOf(c.Request.Context(), b.IDs)
		if err != nil {
			return err
		}
		groups = append(groups, gs...)
	}
	for _, g := range groups {
		if err := p.RequireGroup(auth.PublishCredentials, g); err != nil {
			return err
		}
	}
	if b.PublishAt != nil {
		return a.publishLater(c, p, sel, *b.PublishAt)
	}
	res, err := a.s.Publish(c.Request.Context(), p.Actor(), sel)
	if err != nil {
		return err
	}
	out := gin.H{"published": res.Published, "emails": res.Emails}
	if res.InBackground {
		// Being published now, by a job: the counts are what it will do.
		out["in_background"] = true
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (a *api) revoke(c *gin.Context) error {
	cr, p, err := a.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	var b struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	out, err := a.s.Revoke(c.Request.Context(), p.Actor(), cr.ID, b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a.out(out))
	return nil
}

func (a *api) resend(c *gin.Context) error {
	cr, p, err := a.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	if err := a.s.Resend(c.Request.Context(), p.Actor(), cr.ID); err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"queued": true})
	return nil
}
