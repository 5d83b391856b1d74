package canvas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// Client calls the Canvas REST API of one institution with a Canvas API token
// (a teacher's or admin's access token, not an LTI service token).
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	backoff time.Duration
	// maxRetries bounds retries after Canvas's 403 "Rate Limit Exceeded".
	maxRetries int
	sleep      func(ctx context.Context, d time.Duration) error
}

// newClient returns a client for the Canvas at baseURL. backoff is the first
// wait after a rate-limit refusal (it doubles each time).
func newClient(baseURL, token string, hc *http.Client, backoff time.Duration) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.Errorf(apperr.Invalid, "Canvas URL %q is not an http(s) URL.", baseURL)
	}
	if token == "" {
		return nil, apperr.Errorf(apperr.Invalid, "No Canvas API token is configured for this platform.")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, token: token, http: hc, backoff: backoff, maxRetries: 6, sleep: sleepCtx}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// userProgress is one student's course progress from bulk_user_progress.
type userProgress struct {
	ID          json.Number `json:"id"`
	DisplayName string      `json:"display_name"`
	Name        string      `json:"name"`
	Progress    struct {
		RequirementCount          int        `json:"requirement_count"`
		RequirementCompletedCount int        `json:"requirement_completed_count"`
		CompletedAt               *time.Time `json:"completed_at"`
	} `json:"progress"`
}

// bulkUserProgress returns every student's progress in course courseID
// (GET /api/v1/courses/:id/bulk_user_progress), following pagination.
func (c *Client) bulkUserProgress(ctx context.Context, courseID string) ([]userProgress, error) {
	var out []userProgress
	err := c.getAll(ctx, "/api/v1/courses/"+url.PathEscape(courseID)+"/bulk_user_progress?per_page=100", func(b []byte) error {
		var page []userProgress
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("decode bulk_user_progress page: %w", err)
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

// courseUser is a user enrolled in a course, with the email Canvas shows
// the caller (include[]=email).
type courseUser struct {
	ID    json.Number `json:"id"`
	Name  string      `json:"name"`
	Email string      `json:"email"`
}

// courseStudents lists the students of course courseID with their emails
// (GET /api/v1/courses/:id/users?enrollment_type[]=student&include[]=email).
func (c *Client) courseStudents(ctx context.Context, courseID string) ([]courseUser, error) {
	var out []courseUser
	p := "/api/v1/courses/" + url.PathEscape(courseID) + "/users?enrollment_type%5B%5D=student&include%5B%5D=email&per_page=100"
	err := c.getAll(ctx, p, func(b []byte) error {
		var page []courseUser
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("decode course users page: %w", err)
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

// maxPages stops a pagination loop that never ends.
const maxPages = 10000

// getAll GETs pathAndQuery and every next page its Link headers name. A next
// link to another host is refused: the token must never leave the Canvas it
// belongs to.
func (c *Client) getAll(ctx context.Context, pathAndQuery string, page func([]byte) error) error {
	next, err := c.base.Parse(c.base.Path + pathAndQuery)
	if err != nil {
		return fmt.Errorf("canvas url %s: %w", pathAndQuery, err)
	}
	for i := 0; next != nil; i++ {
		if i == maxPages {
			return fmt.Errorf("canvas GET %s: more than %d pages", pathAndQuery, maxPages)
		}
		if next.Host != c.base.Host || next.Scheme != c.base.Scheme {
			return fmt.Errorf("canvas GET %s: next page on another host (%s) refused", pathAndQuery, next.Host)
		}
		body, link, err := c.get(ctx, next.String())
		if err != nil {
			return err
		}
		if err := page(body); err != nil {
			return err
		}
		next = nextLink(link, next)
	}
	return nil
}

// get performs one GET, waiting out Canvas's rate limiting: a 403 "Rate Limit
// Exceeded" is retried with exponential back-off, and a nearly empty
// X-Rate-Limit-Remaining bucket slows the next request down.
func (c *Client) get(ctx context.Context, u string) ([]byte, string, error) {
	wait := c.backoff
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("canvas GET %s: %w", redact(u), err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if err != nil {
			return nil, "", fmt.Errorf("canvas GET %s: read: %w", redact(u), err)
		}
		limited := resp.StatusCode == http.StatusTooManyRequests ||
			(resp.StatusCode == http.StatusForbidden && strings.Contains(string(body), "Rate Limit Exceeded"))
		if limited {
			if attempt >= c.maxRetries {
				return nil, "", apperr.Errorf(apperr.RateLimited, "Canvas kept refusing with \"Rate Limit Exceeded\"; try again later.")
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, "", err
			}
			wait *= 2
			continue
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			return nil, "", apperr.Errorf(apperr.Invalid, "Canvas refused the platform's API token (401): it may be expired or revoked.")
		case resp.StatusCode == http.StatusForbidden:
			return nil, "", apperr.Errorf(apperr.Invalid, "Canvas says the API token may not read this course (403): use a teacher's or admin's token.")
		case resp.StatusCode == http.StatusNotFound:
			return nil, "", apperr.Errorf(apperr.Invalid, "Canvas has no such course (404) for this API token.")
		case resp.StatusCode != http.StatusOK:
			return nil, "", fmt.Errorf("canvas GET %s: status %d", redact(u), resp.StatusCode)
		}
		// Canvas's leaky bucket: slow down before it refuses us.
		if rem, err := strconv.ParseFloat(resp.Header.Get("X-Rate-Limit-Remaining"), 64); err == nil && rem < 100 {
			if err := c.sleep(ctx, c.backoff/4); err != nil {
				return nil, "", err
			}
		}
		return body, resp.Header.Get("Link"), nil
	}
}

// redact drops the query string from a URL for error messages and logs.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// nextLink returns the rel="next" URL of an RFC 8288 Link header, resolved
// against the current page, or nil.
func nextLink(header string, cur *url.URL) *url.URL {
	for _, part := range strings.Split(header, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		target := strings.TrimSpace(segs[0])
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range segs[1:] {
			p = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(p), " ", ""))
			if p == `rel="next"` || p == "rel=next" {
				u, err := cur.Parse(target[1 : len(target)-1])
				if err != nil {
					return nil
				}
				return u
			}
		}
	}
	return nil
}

// enrollment is one student enrollment with its course grades
// (GET /api/v1/courses/:id/enrollments). Canvas's current_score and
// final_score count posted grades only; unposted_* (which we ignore) would
// let a teacher's hidden grades award a credential.
type enrollment struct {
	UserID json.Number `json:"user_id"`
	User   struct {
		Name string `json:"name"`
	} `json:"user"`
	Grades struct {
		CurrentScore *float64 `json:"current_score"`
		FinalScore   *float64 `json:"final_score"`
	} `json:"grades"`
}

// studentEnrollments lists the active student enrollments of course
// courseID with their grades, a page of 100 per request.
func (c *Client) studentEnrollments(ctx context.Context, courseID string) ([]enrollment, error) {
	var out []enrollment
	p := "/api/v1/courses/" + url.PathEscape(courseID) + "/enrollments?type%5B%5D=StudentEnrollment&state%5B%5D=active&per_page=100"
	err := c.getAll(ctx, p, func(b []byte) error {
		var page []enrollment
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("decode enrollments page: %w", err)
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

// moduleProgress is one student's state in one module
// (GET /api/v1/courses/:id/modules/:module_id?student_id=…): state is
// locked, unlocked, started or completed; completed_at is set once completed.
type moduleProgress struct {
	ID          json.Number `json:"id"`
	Name        string      `json:"name"`
	State       string      `json:"state"`
	CompletedAt *time.Time  `json:"completed_at"`
}

// studentModule returns student studentID's progress in module moduleID.
// Canvas has no bulk module state: this is one request per student.
func (c *Client) studentModule(ctx context.Context, courseID, moduleID, studentID string) (moduleProgress, error) {
	var mp moduleProgress
	u, err := c.base.Parse(c.base.Path + "/api/v1/courses/" + url.PathEscape(courseID) + "/modules/" + url.PathEscape(moduleID) +
		"?student_id=" + url.QueryEscape(studentID))
	if err != nil {
		return mp, fmt.Errorf("canvas module url: %w", err)
	}
	body, _, err := c.get(ctx, u.String())
	if err != nil {
		return mp, err
	}
	if err := json.Unmarshal(body, &mp); err != nil {
		return mp, fmt.Errorf("decode module %s of student %s: %w", moduleID, studentID, err)
	}
	return mp, nil
}

// Module is a module of a Canvas course, as the instructor's form lists it.
type Module struct {
	ID   json.Number `json:"id"`
	Name string      `json:"name"`
}

// modules lists the modules of course courseID
// (GET /api/v1/courses/:id/modules), 100 a page.
func (c *Client) modules(ctx context.Context, courseID string) ([]Module, error) {
	var out []Module
	err := c.getAll(ctx, "/api/v1/courses/"+url.PathEscape(courseID)+"/modules?per_page=100", func(b []byte) error {
		var page []Module
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("decode modules page: %w", err)
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}
