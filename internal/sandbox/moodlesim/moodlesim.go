// Package moodlesim emulates the part of a Moodle 4.5 site's REST web
// service that Laurel calls, built from Moodle's own definitions
// (lib/db/services.php, enrol/externallib.php get_enrolled_users,
// completion/classes/external.php get_course_completion_status,
// webservice/rest/locallib.php generate_error): tokens limited to their
// external service's functions and their user's capabilities, courses with
// completion criteria, enrolled students and teachers, paged rosters, and
// Moodle's JSON exceptions answered with HTTP 200. For tests and
// `laurel dev`; it keeps no state outside memory.
package moodlesim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The functions and capabilities the emulator knows.
const (
	FnEnrolledUsers    = "core_enrol_get_enrolled_users"
	FnCourseCompletion = "core_completion_get_course_completion_status"

	CapViewParticipants = "moodle/course:viewparticipants"
	CapViewDetails      = "moodle/user:viewdetails"
	CapUserEmail        = "moodle/course:useremail"
	CapCompletionView   = "report/completion:view"
)

// Token is a web service token: the functions of its external service and
// its user's capabilities.
type Token struct {
	Functions    []string
	Capabilities []string
}

// AllFunctions and AllCapabilities make a token that may do everything
// Laurel needs.
var (
	AllFunctions    = []string{FnEnrolledUsers, FnCourseCompletion}
	AllCapabilities = []string{CapViewParticipants, CapViewDetails, CapUserEmail, CapCompletionView}
)

// Criterion is one completion criterion of a course.
type Criterion struct {
	Type  int // Moodle's criteria type (4 activity, 2 date, ...)
	Title string
}

// User is one enrolled user.
type User struct {
	ID       int64
	FullName string
	Email    string
	// Role is the course role's short name: student (tracked by
	// completion) or editingteacher (not tracked).
	Role string
	// Done is when the user completed each criterion (by index); the
	// course is complete once the aggregation is satisfied.
	Done map[int]time.Time
}

// Course is a course with completion tracking.
type Course struct {
	ID int64
	// Aggregation is 1 (all criteria) or 2 (any criterion).
	Aggregation int
	Criteria    []Criterion
	Users       []User
}

// Site is the emulated Moodle site.
type Site struct {
	srv *httptest.Server

	mu      sync.Mutex
	tokens  map[string]Token
	courses map[int64]*Course

	// Requests counts the web service calls, by function.
	requests sync.Map // function → *atomic.Int64
	// Latency is added to every call (a real site's PHP time).
	Latency time.Duration
}

// New starts an emulated site; Close stops it.
func New() *Site {
	s := &Site{tokens: map[string]Token{}, courses: map[int64]*Course{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/webservice/rest/server.php", s.serve)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the site's wwwroot.
func (s *Site) URL() string { return s.srv.URL }

// Close stops the site.
func (s *Site) Close() { s.srv.Close() }

// AddToken creates token t.
func (s *Site) AddToken(t string, tok Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t] = tok
}

// AddCourse adds (or replaces) a course.
func (s *Site) AddCourse(c Course) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := c
	s.courses[c.ID] = &cp
}

// Complete records that user userID completed criterion i of course id at t.
func (s *Site) Complete(courseID, userID int64, i int, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.courses[courseID]
	for j := range c.Users {
		if c.Users[j].ID == userID {
			if c.Users[j].Done == nil {
				c.Users[j].Done = map[int]time.Time{}
			}
			c.Users[j].Done[i] = t
		}
	}
}

// Requests returns how many calls of fn were made ("" for all).
func (s *Site) Requests(fn string) int64 {
	var n int64
	s.requests.Range(func(k, v any) bool {
		if fn == "" || k.(string) == fn {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

// exception answers Moodle's JSON error (HTTP 200, as Moodle does).
func exception(w http.ResponseWriter, class, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]string{"exception": class, "errorcode": code, "message": msg})
}

func (s *Site) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	fn := r.Form.Get("wsfunction")
	v, _ := s.requests.LoadOrStore(fn, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	if r.Form.Get("moodlewsrestformat") != "json" {
		http.Error(w, "the emulator answers JSON only", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	tok, ok := s.tokens[r.Form.Get("wstoken")]
	s.mu.Unlock()
	if !ok {
		exception(w, "moodle_exception", "invalidtoken", "Invalid token - token not found")
		return
	}
	if !slices.Contains(tok.Functions, fn) {
		// webservice_access_exception: the function name is only in
		// debuginfo, which a production site does not send.
		exception(w, "webservice_access_exception", "accessexception", "Access control exception")
		return
	}
	courseID, _ := strconv.ParseInt(r.Form.Get("courseid"), 10, 64)
	s.mu.Lock()
	c, found := s.courses[courseID]
	var course Course
	if found {
		course = *c
		course.Users = slices.Clone(c.Users)
	}
	s.mu.Unlock()
	if !found {
		exception(w, "dml_missing_record_exception", "invalidrecord", "Can't find data record in database table course.")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch fn {
	case FnEnrolledUsers:
		s.enrolledUsers(w, r, tok, course)
	case FnCourseCompletion:
		s.completion(w, r, tok, course)
	default:
		exception(w, "webservice_access_exception", "accessexception", "Access control exception")
	}
}

func (s *Site) enrolledUsers(w http.ResponseWriter, r *http.Request, tok Token, c Course) {
	if !slices.Contains(tok.Capabilities, CapViewParticipants) {
		exception(w, "required_capability_exception", "nopermissions", "Sorry, but you do not currently have permissions to do that (View participants).")
		return
	}
	from, limit := 0, 0
	for i := 0; ; i++ {
		name := r.Form.Get("options[" + strconv.Itoa(i) + "][name]")
		if name == "" {
			break
		}
		val, _ := strconv.Atoi(r.Form.Get("options[" + strconv.Itoa(i) + "][value]"))
		switch name {
		case "limitfrom":
			from = val
		case "limitnumber":
			limit = val
		}
	}
	users := c.Users
	slices.SortFunc(users, func(a, b User) int { return int(a.ID - b.ID) }) // ORDER BY us.id
	if from > len(users) {
		from = len(users)
	}
	users = users[from:]
	if limit > 0 && limit < len(users) {
		users = users[:limit]
	}
	type role struct {
		RoleID    int    `json:"roleid"`
		Name      string `json:"name"`
		ShortName string `json:"shortname"`
		SortOrder int    `json:"sortorder"`
	}
	out := make([]map[string]any, 0, len(users))
	for _, u := range users {
		// user_get_user_details answers nothing for a user whose profile
		// the caller may not see: without moodle/user:viewdetails only
		// the course contacts (teachers) remain, silently.
		if u.Role == "student" && !slices.Contains(tok.Capabilities, CapViewDetails) {
			continue
		}
		first, last, _ := strings.Cut(u.FullName, " ")
		m := map[string]any{"id": u.ID, "username": "u" + strconv.FormatInt(u.ID, 10), "firstname": first, "lastname": last,
			"fullname": u.FullName, "roles": []role{{RoleID: roleID(u.Role), ShortName: u.Role, SortOrder: 0}}}
		if slices.Contains(tok.Capabilities, CapUserEmail) {
			m["email"] = u.Email
		}
		out = append(out, m)
	}
	json.NewEncoder(w).Encode(out)
}

func roleID(shortname string) int {
	if shortname == "student" {
		return 5
	}
	return 3
}

func (s *Site) completion(w http.ResponseWriter, r *http.Request, tok Token, c Course) {
	if !slices.Contains(tok.Capabilities, CapCompletionView) {
		exception(w, "moodle_exception", "cannotviewreport", "You cannot view this report")
		return
	}
	userID, _ := strconv.ParseInt(r.Form.Get("userid"), 10, 64)
	var u *User
	for i := range c.Users {
		if c.Users[i].ID == userID {
			u = &c.Users[i]
		}
	}
	if u == nil || u.Role != "student" {
		exception(w, "moodle_exception", "usernotenroled", "User is not enrolled in this course")
		return
	}
	if len(c.Criteria) == 0 {
		exception(w, "moodle_exception", "nocriteriaset", "No completion criteria set for this course")
		return
	}
	type row struct {
		Type          int    `json:"type"`
		Title         string `json:"title"`
		Status        string `json:"status"`
		Complete      bool   `json:"complete"`
		TimeCompleted *int64 `json:"timecompleted"`
		Details       struct {
			Type        string `json:"type"`
			Criteria    string `json:"criteria"`
			Requirement string `json:"requirement"`
			Status      string `json:"status"`
		} `json:"details"`
	}
	rows := make([]row, len(c.Criteria))
	done := 0
	for i, cr := range c.Criteria {
		rows[i] = row{Type: cr.Type, Title: cr.Title, Status: "No"}
		rows[i].Details.Type, rows[i].Details.Criteria = cr.Title, cr.Title
		if t, ok := u.Done[i]; ok {
			ts := t.Unix()
			rows[i].Complete, rows[i].Status, rows[i].TimeCompleted = true, "Yes", &ts
			done++
		}
	}
	completed := done == len(c.Criteria) || (c.Aggregation == 2 && done > 0)
	agg := c.Aggregation
	if agg == 0 {
		agg = 1
	}
	json.NewEncoder(w).Encode(map[string]any{
		"completionstatus": map[string]any{"completed": completed, "aggregation": agg, "completions": rows},
		"warnings":         []any{},
	})
}
