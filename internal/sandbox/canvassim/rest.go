package canvassim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// REST serves the slice of Canvas's REST API that reconciliation uses —
// GET /api/v1/courses/:id/bulk_user_progress, /users, /enrollments (with
// grades) and /modules/:module_id?student_id= —
// for the courses a test gives it, behind a Canvas API token, with Link
// pagination and Canvas's rate-limit behaviour.
type REST struct {
	token string

	sim *Sim // when serving on a *Sim: its courses' students are enrolled too

	mu        sync.Mutex
	courses   map[string]map[string]RESTStudent // course → user id → student
	completed map[string]map[string]time.Time   // course → user id → completion (Sim students)
	throttle  int                               // next N requests answer 403 Rate Limit Exceeded

	// PageSize is how many users a page holds (Canvas's default is 10).
	PageSize int
	// Remaining, when ≥ 0, is sent as X-Rate-Limit-Remaining on every answer.
	Remaining float64

	scores  map[string]map[string]Scores                 // course → user id → grades
	modules map[string]map[string]map[string]ModuleState // course → module id → user id → state

	requests atomic.Int64
	limited  atomic.Int64
	// moduleRequests counts module-state requests (one per student).
	moduleRequests atomic.Int64
}

// Scores are a student's course scores as an enrollment's grades report
// them: current and final count posted grades only; the unposted ones
// include grades the teacher has not posted yet. nil: no score.
type Scores struct {
	Current, Final, UnpostedCurrent, UnpostedFinal *float64
}

// ModuleState is a student's state in a module: locked, unlocked, started or
// completed, with completed_at once completed.
type ModuleState struct {
	State       string
	CompletedAt *time.Time
}

// SetScores sets a student's course scores in courseID.
func (s *REST) SetScores(courseID, userID string, sc Scores) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scores[courseID] == nil {
		s.scores[courseID] = map[string]Scores{}
	}
	s.scores[courseID][userID] = sc
}

// AddModule creates module moduleID in courseID (every student "unlocked").
func (s *REST) AddModule(courseID, moduleID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.modules[courseID] == nil {
		s.modules[courseID] = map[string]map[string]ModuleState{}
	}
	if s.modules[courseID][moduleID] == nil {
		s.modules[courseID][moduleID] = map[string]ModuleState{}
	}
}

// SetModuleState sets a student's state in a module added with AddModule.
func (s *REST) SetModuleState(courseID, moduleID, userID string, st ModuleState) {
	s.AddModule(courseID, moduleID)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modules[courseID][moduleID][userID] = st
}

// ModuleRequests returns how many module-state requests were served.
func (s *REST) ModuleRequests() int64 { return s.moduleRequests.Load() }

// RESTStudent is one enrolled student and their module progress, as the
// REST endpoints report them.
type RESTStudent struct {
	ID    string // local Canvas user id
	Name  string
	Email string
	// CompletedAt is when the student met every requirement; nil: not yet.
	CompletedAt *time.Time
}

// NewREST serves the REST endpoints on r, accepting token as the Canvas API
// token (Authorization: Bearer).
func NewREST(r Router, token string) *REST {
	s := &REST{token: token, courses: map[string]map[string]RESTStudent{}, completed: map[string]map[string]time.Time{},
		scores: map[string]map[string]Scores{}, modules: map[string]map[string]map[string]ModuleState{}, PageSize: 10, Remaining: -1}
	s.sim, _ = r.(*Sim)
	r.Handle("/api/v1/courses/", s)
	return s
}

// Complete records that userID completed courseID at at (for a student of a
// *Sim course, or one added with AddStudents).
func (s *REST) Complete(courseID, userID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.courses[courseID][userID]; ok {
		st.CompletedAt = &at
		s.courses[courseID][userID] = st
		return
	}
	if s.completed[courseID] == nil {
		s.completed[courseID] = map[string]time.Time{}
	}
	s.completed[courseID][userID] = at
}

// students returns the course's students: those added explicitly, and the
// Sim course's Student enrollments.
func (s *REST) students(courseID string) ([]RESTStudent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	explicit, ok := s.courses[courseID]
	out := make([]RESTStudent, 0, len(explicit))
	seen := map[string]bool{}
	for _, st := range explicit {
		out = append(out, st)
		seen[st.ID] = true
	}
	if s.sim != nil {
		if c, found := s.sim.Course(courseID); found {
			ok = true
			for _, en := range c.Enrollments {
				if en.Role != Student || seen[en.UserID] {
					continue
				}
				u, _ := s.sim.User(en.UserID)
				st := RESTStudent{ID: u.ID, Name: u.Name, Email: u.Email}
				if at, done := s.completed[courseID][u.ID]; done {
					st.CompletedAt = &at
				}
				out = append(out, st)
			}
		}
	}
	return out, ok
}

// AddStudents enrolls students in course courseID (replacing same ids).
func (s *REST) AddStudents(courseID string, students ...RESTStudent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.courses[courseID]
	if c == nil {
		c = map[string]RESTStudent{}
		s.courses[courseID] = c
	}
	for _, st := range students {
		c[st.ID] = st
	}
}

// Throttle makes the next n requests fail with 403 "Rate Limit Exceeded".
func (s *REST) Throttle(n int) {
	s.mu.Lock()
	s.throttle = n
	s.mu.Unlock()
}

// Requests returns how many API requests were served (including refusals);
// Limited how many were refused for rate limiting.
func (s *REST) Requests() int64 { return s.requests.Load() }

// Limited returns how many requests were answered 403 Rate Limit Exceeded.
func (s *REST) Limited() int64 { return s.limited.Load() }

// ServeHTTP routes /api/v1/courses/:id/{bulk_user_progress,users}.
func (s *REST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet {
		http.Error(w, `{"errors":[{"message":"method not allowed"}]}`, http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token || s.token == "" {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":[{"message":"Invalid access token."}]}`))
		return
	}
	s.mu.Lock()
	limited := s.throttle > 0
	if limited {
		s.throttle--
	}
	s.mu.Unlock()
	if s.Remaining >= 0 {
		w.Header().Set("X-Rate-Limit-Remaining", strconv.FormatFloat(s.Remaining, 'f', 1, 64))
	}
	if limited {
		s.limited.Add(1)
		w.Header().Set("X-Rate-Limit-Remaining", "0.0")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("403 Forbidden (Rate Limit Exceeded)\n"))
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/courses/"), "/"), "/")
	if len(parts) != 2 && (len(parts) != 3 || parts[1] != "modules") {
		http.NotFound(w, r)
		return
	}
	if len(parts) == 3 {
		s.serveModule(w, r, parts[0], parts[2])
		return
	}
	if parts[1] == "modules" {
		s.serveModules(w, r, parts[0])
		return
	}
	students, ok := s.students(parts[0])
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"message":"The specified resource does not exist."}]}`))
		return
	}
	// Canvas pages in id order; parse each id once (a course of 10,000 is
	// sorted on every page request).
	keys := make([]int, len(students))
	for i, st := range students {
		keys[i], _ = strconv.Atoi(st.ID)
	}
	sort.Sort(byKey{keys, students})
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	per := s.PageSize
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 && v < per {
		per = v
	}
	from := min((page-1)*per, len(students))
	to := min(from+per, len(students))
	if to < len(students) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		next := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		q.Set("page", strconv.Itoa(page))
		cur := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		w.Header().Set("Link", `<`+cur+`>; rel="current", <`+next+`>; rel="next"`)
	}
	var out []map[string]any
	for _, st := range students[from:to] {
		switch parts[1] {
		case "bulk_user_progress":
			var completed any
			done := 3
			if st.CompletedAt != nil {
				completed = st.CompletedAt.UTC().Format(time.RFC3339)
				done = 6
			}
			out = append(out, map[string]any{
				"id": json.Number(st.ID), "display_name": st.Name, "avatar_image_url": "", "html_url": "",
				"progress": map[string]any{"requirement_count": 6, "requirement_completed_count": done,
					"next_requirement_url": nil, "completed_at": completed},
			})
		case "enrollments":
			// GET /api/v1/courses/:id/enrollments?type[]=StudentEnrollment:
			// the Enrollment object with its Grade, as Canvas documents it.
			s.mu.Lock()
			sc := s.scores[parts[0]][st.ID]
			s.mu.Unlock()
			num := func(p *float64) any {
				if p == nil {
					return nil
				}
				return *p
			}
			out = append(out, map[string]any{
				"id": json.Number("9" + st.ID), "course_id": json.Number(parts[0]), "user_id": json.Number(st.ID),
				"type": "StudentEnrollment", "role": "StudentEnrollment", "enrollment_state": "active",
				"grades": map[string]any{"html_url": "", "current_score": num(sc.Current), "final_score": num(sc.Final),
					"current_grade": nil, "final_grade": nil,
					"unposted_current_score": num(sc.UnpostedCurrent), "unposted_final_score": num(sc.UnpostedFinal)},
				"user": map[string]any{"id": json.Number(st.ID), "name": st.Name, "sortable_name": st.Name, "short_name": st.Name},
			})
		case "users":
			out = append(out, map[string]any{"id": json.Number(st.ID), "name": st.Name, "sortable_name": st.Name, "email": st.Email})
		default:
			http.NotFound(w, r)
			return
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	json.NewEncoder(w).Encode(out)
}

// byKey sorts students by their parsed ids.
type byKey struct {
	keys     []int
	students []RESTStudent
}

func (b byKey) Len() int           { return len(b.keys) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
	b.students[i], b.students[j] = b.students[j], b.students[i]
}

// serveModule answers GET /api/v1/courses/:id/modules/:module_id?student_id=…
// with the Module object and the student's state in it, as Canvas does.
func (s *REST) serveModule(w http.ResponseWriter, r *http.Request, courseID, moduleID string) {
	s.moduleRequests.Add(1)
	student := r.URL.Query().Get("student_id")
	s.mu.Lock()
	mod, ok := s.modules[courseID][moduleID]
	st := mod[student]
	_, enrolled := s.courses[courseID][student]
	s.mu.Unlock()
	if !enrolled && s.sim != nil {
		if c, found := s.sim.Course(courseID); found {
			for _, en := range c.Enrollments {
				enrolled = enrolled || (en.Role == Student && en.UserID == student)
			}
		}
	}
	if !ok || (student != "" && !enrolled) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"message":"The specified resource does not exist."}]}`))
		return
	}
	out := map[string]any{"id": json.Number(moduleID), "workflow_state": "active", "position": 1, "name": "Module " + moduleID,
		"unlock_at": nil, "require_sequential_progress": false, "prerequisite_module_ids": []any{}, "items_count": 3,
		"items_url": "http://" + r.Host + "/api/v1/courses/" + courseID + "/modules/" + moduleID + "/items",
		"published": true}
	if student != "" {
		state := st.State
		if state == "" {
			state = "unlocked"
		}
		out["state"] = state
		var done any
		if st.CompletedAt != nil {
			done = st.CompletedAt.UTC().Format(time.RFC3339)
		}
		out["completed_at"] = done
	}
	json.NewEncoder(w).Encode(out)
}

// serveModules answers GET /api/v1/courses/:id/modules: the course's
// modules in id order, on one page.
func (s *REST) serveModules(w http.ResponseWriter, r *http.Request, courseID string) {
	s.mu.Lock()
	ids := make([]int, 0, len(s.modules[courseID]))
	for id := range s.modules[courseID] {
		n, _ := strconv.Atoi(id)
		ids = append(ids, n)
	}
	s.mu.Unlock()
	if _, ok := s.students(courseID); !ok {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"message":"The specified resource does not exist."}]}`))
		return
	}
	sort.Ints(ids)
	out := make([]map[string]any, 0, len(ids))
	for i, id := range ids {
		out = append(out, map[string]any{"id": id, "workflow_state": "active", "position": i + 1, "name": "Module " + strconv.Itoa(id),
			"unlock_at": nil, "require_sequential_progress": false, "prerequisite_module_ids": []any{}, "items_count": 3,
			"items_url": "http://" + r.Host + "/api/v1/courses/" + courseID + "/modules/" + strconv.Itoa(id) + "/items", "published": true})
	}
	json.NewEncoder(w).Encode(out)
}
