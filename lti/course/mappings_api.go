package course

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
)

// RegisterAPI mounts the course-mapping JSON API on r, which is the /api/v1
// group behind the API-token authentication middleware:
//
//	GET/POST /mappings, GET/PATCH/DELETE /mappings/:id,
//	POST /mappings/:id/reconcile (the rule engine's check, any platform)
func (s *Service) RegisterAPI(r gin.IRouter) {
	r.POST("/mappings/:id/reconcile", web.API(s.apiReconcile))
	r.GET("/mappings", web.API(s.apiListMappings))
	r.POST("/mappings", web.API(s.apiCreateMapping))
	r.GET("/mappings/:id", web.API(s.apiGetMapping))
	r.PATCH("/mappings/:id", web.API(s.apiUpdateMapping))
	r.DELETE("/mappings/:id", web.API(s.apiDeleteMapping))
}

// mappingBody is the JSON of a create or change. Ids are accepted as numbers
// or strings, since Canvas ids are often handled as strings by scripts.
type mappingBody struct {
	PlatformID     json.RawMessage `json:"platform_id"`
	DeploymentID   json.RawMessage `json:"deployment_id"`
	CanvasCourseID json.RawMessage `json:"canvas_course_id"`
	ContextID      json.RawMessage `json:"context_id"`
	GroupID        json.RawMessage `json:"group_id"`
	CompletionRule json.RawMessage `json:"completion_rule"`
	AutoPublish    json.RawMessage `json:"auto_publish"`
	MinScore       json.RawMessage `json:"min_score"`
	ScoreKind      json.RawMessage `json:"score_kind"`
	ModuleID       json.RawMessage `json:"module_id"`
}

func (b mappingBody) input() (MappingInput, error) {
	var in MappingInput
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	intField := func(raw json.RawMessage, field string) *int64 {
		if len(raw) == 0 || string(raw) == "null" {
			return nil
		}
		s := strings.Trim(string(raw), `"`)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			bad(field, "must be an integer id")
			return nil
		}
		return &n
	}
	strField := func(raw json.RawMessage, field string, numeric bool) *string {
		if len(raw) == 0 {
			return nil
		}
		if string(raw) == "null" {
			empty := ""
			return &empty
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			if numeric && isDigits(string(raw)) {
				s = string(raw)
			} else {
				bad(field, "must be a string")
				return nil
			}
		}
		s = strings.TrimSpace(s)
		return &s
	}
	in.PlatformID = intField(b.PlatformID, "platform_id")
	in.GroupID = intField(b.GroupID, "group_id")
	in.CanvasCourseID = strField(b.CanvasCourseID, "canvas_course_id", true)
	in.ContextID = strField(b.ContextID, "context_id", false)
	in.DeploymentID = strField(b.DeploymentID, "deployment_id", false)
	in.CompletionRule = strField(b.CompletionRule, "completion_rule", false)
	in.ScoreKind = strField(b.ScoreKind, "score_kind", false)
	in.ModuleID = strField(b.ModuleID, "module_id", true)
	if len(b.MinScore) > 0 && string(b.MinScore) != "null" {
		var v float64
		if err := json.Unmarshal(b.MinScore, &v); err != nil {
			bad("min_score", "must be a number (a percentage such as 80)")
		} else {
			in.MinScore = &v
		}
	}
	if len(b.AutoPublish) > 0 && string(b.AutoPublish) != "null" {
		var v bool
		if err := json.Unmarshal(b.AutoPublish, &v); err != nil {
			bad("auto_publish", "must be true or false")
		} else {
			in.AutoPublish = &v
		}
	}
	if len(fe) > 0 {
		return in, apperr.Fields("The mapping has errors.", fe)
	}
	return in, nil
}

func readMappingBody(c *gin.Context) (MappingInput, error) {
	var b mappingBody
	if err := web.DecodeJSON(c, &b, web.JSONOptions{MaxBytes: 64 << 10, AllowUnknownFields: true}); err != nil {
		return MappingInput{}, err
	}
	return b.input()
}

func pathID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Errorf(apperr.NotFound, "No course mapping %q.", c.Param("id"))
	}
	return id, nil
}

func (s *Service) apiListMappings(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.MapCourses); err != nil {
		return err
	}
	f := MappingFilter{Groups: p.Groups}
	for name, dst := range map[string]*int64{"platform_id": &f.PlatformID, "group_id": &f.GroupID} {
		if v := c.Query(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return apperr.Fields("Bad query.", []apperr.FieldError{{Index: -1, Field: name, Message: "must be an integer id"}})
			}
			*dst = n
		}
	}
	list, err := s.ListMappings(c.Request.Context(), f)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"mappings": list})
	return nil
}

func (s *Service) apiCreateMapping(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.MapCourses); err != nil {
		return err
	}
	in, err := readMappingBody(c)
	if err != nil {
		return err
	}
	if in.GroupID != nil {
		if err := p.RequireGroup(auth.MapCourses, *in.GroupID); err != nil {
			return err
		}
	}
	who := staffName(p)
	in.CreatedByName = &who
	m, err := s.CreateMapping(c.Request.Context(), p.Actor(), in)
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/mappings/"+strconv.FormatInt(m.ID, 10))
	c.JSON(http.StatusCreated, m)
	return nil
}

// staffName describes a staff principal on the mappings they make.
func staffName(p *auth.Principal) string {
	if p.TokenID != 0 {
		return "API token " + strconv.Quote(p.Name) + " (" + string(p.Role) + ")"
	}
	who := strings.TrimSpace(p.Name + " <" + p.Email + ">")
	return who + " (" + string(p.Role) + ")"
}

// VisibleMapping loads mapping :id of an API request if its principal may
// map courses into the mapping's group; errors are apperr's (NotFound,
// Forbidden, ...).
func (s *Service) VisibleMapping(c *gin.Context) (Mapping, error) {
	m, _, err := s.visibleMapping(c)
	return m, err
}

// visibleMapping is VisibleMapping with the request's principal.
func (s *Service) visibleMapping(c *gin.Context) (Mapping, *auth.Principal, error) {
	p := auth.Current(c)
	if err := p.Require(auth.MapCourses); err != nil {
		return Mapping{}, p, err
	}
	id, err := pathID(c)
	if err != nil {
		return Mapping{}, p, err
	}
	m, err := s.Mapping(c.Request.Context(), id)
	if err != nil {
		return m, p, err
	}
	if err := p.RequireGroup(auth.MapCourses, m.GroupID); err != nil {
		return m, p, err
	}
	return m, p, nil
}

func (s *Service) apiGetMapping(c *gin.Context) error {
	m, _, err := s.visibleMapping(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, m)
	return nil
}

func (s *Service) apiUpdateMapping(c *gin.Context) error {
	m, p, err := s.visibleMapping(c)
	if err != nil {
		return err
	}
	in, err := readMappingBody(c)
	if err != nil {
		return err
	}
	if in.GroupID != nil {
		if err := p.RequireGroup(auth.MapCourses, *in.GroupID); err != nil {
			return err
		}
	}
	m, err = s.UpdateMapping(c.Request.Context(), m.ID, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, m)
	return nil
}

func (s *Service) apiDeleteMapping(c *gin.Context) error {
	m, _, err := s.visibleMapping(c)
	if err != nil {
		return err
	}
	if err := s.DeleteMapping(c.Request.Context(), m.ID); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
