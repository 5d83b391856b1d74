package canvassim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/lti"
)

// nrps serves Names and Role Provisioning like Canvas: a bearer token with
// the NRPS scope, at most PageSize (50) members per page, and a Link header
// with rel="next" while more pages remain.
func (s *Sim) nrps(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	it, ok := s.tokens[tok]
	now := s.Now()
	per := s.PageSize
	s.nrpsRequests++
	s.mu.Unlock()
	if !ok || now.After(it.expires) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]string{{"message": "Invalid access token"}}})
		return
	}
	if !slices.Contains(it.scopes, lti.ScopeNRPS) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]string{{"message": "Insufficient scopes on access token"}}})
		return
	}
	c, found := s.Course(r.PathValue("id"))
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []map[string]string{{"message": "The specified resource does not exist."}}})
		return
	}
	if p, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && p > 0 && p < per {
		per = p
	}
	page := 1
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 0 {
		page = p
	}
	start := (page - 1) * per
	end := min(start+per, len(c.Enrollments))
	if start > len(c.Enrollments) {
		start = len(c.Enrollments)
	}
	members := make([]map[string]any, 0, end-start)
	for _, e := range c.Enrollments[start:end] {
		u, _ := s.User(e.UserID)
		status := e.Status
		if status == "" {
			status = "Active"
		}
		members = append(members, map[string]any{
			"status": status, "name": u.Name, "picture": s.URL() + "/images/messages/avatar-50.png",
			"given_name": u.GivenName, "family_name": u.FamilyName, "email": u.Email,
			"user_id": u.LTIID, "lti11_legacy_user_id": randHexFor(u.ID), "roles": membershipRoles(e.Role),
		})
	}
	base := s.URL() + "/api/lti/courses/" + c.ID + "/names_and_roles"
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s?page=%d&per_page=%d>; rel="%s"`, base, p, per, rel)
	}
	last := max(1, (len(c.Enrollments)+per-1)/per)
	links := []string{link(page, "current")}
	if end < len(c.Enrollments) {
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(last, "last"))
	w.Header().Set("Link", strings.Join(links, ","))
	w.Header().Set("Content-Type", "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
	json.NewEncoder(w).Encode(map[string]any{
		"id":      base,
		"context": map[string]any{"id": c.ContextID, "label": c.Label, "title": c.Title},
		"members": members,
	})
	_ = time.Now
}
