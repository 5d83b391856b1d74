package moodle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
)

// The web service functions Laurel calls, and what Moodle checks before
// answering them (lib/db/services.php, enrol/externallib.php,
// completion/classes/external.php of Moodle 4.5).
const (
	fnEnrolledUsers    = "core_enrol_get_enrolled_users"
	fnCourseCompletion = "core_completion_get_course_completion_status"
)

// Functions are the functions the external service of Laurel's token must
// list (docs/lms.md).
var Functions = []string{fnEnrolledUsers, fnCourseCompletion}

// capabilities names, per function, the capabilities its token's user needs
// in the course, for the message that a refusal shows.
var capabilities = map[string]string{
	fnEnrolledUsers:    "moodle/course:viewparticipants (with moodle/user:viewdetails to see the students, moodle/course:useremail their emails)",
	fnCourseCompletion: "report/completion:view",
}

// rosterPage is how many enrolled users one request asks for.
const rosterPage = 500

// Client calls one Moodle site's REST web service with one token.
type Client struct {
	base, token string
	hc          *http.Client
	// requests counts the calls made (benchmarks report it).
	requests atomic.Int64
}

func newClient(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.Errorf(apperr.Invalid, "The Moodle URL %q is not an absolute http(s) URL.", baseURL)
	}
	return &Client{base: strings.TrimRight(u.String(), "/"), token: token, hc: hc}, nil
}

// wsException is Moodle's JSON answer to a refused or failed call
// (webservice/rest/locallib.php generate_error).
type wsException struct {
	Exception string `json:"exception"`
	ErrorCode string `json:"errorcode"`
	Message   string `json:"message"`
	DebugInfo string `json:"debuginfo"`
}

// call runs web service function fn with params and decodes its JSON
// answer into out. The token travels in the POST body, never in a URL that
// a proxy or Moodle's access log would keep.
func (c *Client) call(ctx context.Context, fn string, params url.Values, out any) error {
	form := url.Values{"wstoken": {c.token}, "wsfunction": {fn}, "moodlewsrestformat": {"json"}}
	for k, v := range params {
		form[k] = v
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/webservice/rest/server.php", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("moodle %s: %w", fn, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	c.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return apperr.Errorf(apperr.Invalid, "Laurel could not reach Moodle at %s to call %s: %s.", c.base, fn, text.Truncate(errors.Unwrap(err).Error(), 200))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("moodle %s: read answer: %w", fn, err)
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && len(strings.TrimSpace(string(body))) == 0:
		// webservice/rest/server.php answers a bare 403 while web
		// services or the REST protocol are off.
		return apperr.Errorf(apperr.Invalid, "Moodle at %s answered 403 to %s: switch on \"Enable web services\" (Advanced features) and the REST protocol (Manage protocols).", c.base, fn)
	case resp.StatusCode == http.StatusNotFound:
		return apperr.Errorf(apperr.Invalid, "Moodle at %s has no REST web service (404 for /webservice/rest/server.php): check the Moodle URL.", c.base)
	case resp.StatusCode != http.StatusOK:
		return apperr.Errorf(apperr.Invalid, "Moodle at %s answered %d to %s.", c.base, resp.StatusCode, fn)
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") {
		var ex wsException
		if json.Unmarshal(body, &ex) == nil && ex.Exception != "" {
			return &callError{fn: fn, ex: ex, base: c.base}
		}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return apperr.Errorf(apperr.Invalid, "Moodle's answer to %s is not the JSON Laurel expects (%s): is %s a Moodle site?", fn, text.Truncate(err.Error(), 120), c.base)
	}
	return nil
}

// callError is a Moodle exception answered to one call; Error and the
// apperr message name the function and what to switch on in Moodle.
type callError struct {
	fn, base string
	ex       wsException
}

func (e *callError) Error() string {
	return fmt.Sprintf("moodle %s: %s (%s): %s", e.fn, e.ex.ErrorCode, e.ex.Exception, e.ex.Message)
}

// refusal is the message people read for a call Moodle refused.
func refusal(err error, courseID string) error {
	var ce *callError
	if !errors.As(err, &ce) {
		return err
	}
	msg := text.Truncate(ce.ex.Message, 200)
	switch ce.ex.ErrorCode {
	case "invalidtoken":
		return apperr.Errorf(apperr.Invalid, "Moodle refused the web service token (%s): store a valid token for this platform.", msg)
	case "accessexception":
		// Moodle gives the same answer for a function missing from the
		// service and for a user without webservice/rest:use; the detail
		// is in debuginfo, which production sites do not send.
		return apperr.Errorf(apperr.Invalid, "Moodle refused to let the token call %s (%s): add the function %s to the external service the token belongs to, allow the token's user on that service, and give that user the capability webservice/rest:use.", ce.fn, msg, ce.fn)
	case "nopermissions":
		return apperr.Errorf(apperr.Invalid, "The token's Moodle user may not call %s in course %s (%s): give the user the capability %s.", ce.fn, courseID, msg, capabilities[ce.fn])
	case "cannotviewreport":
		return apperr.Errorf(apperr.Invalid, "The token's Moodle user may not see completions in course %s (%s): give the user the capability report/completion:view, and check that completion tracking is on in the course.", courseID, msg)
	case "accessdenied":
		return apperr.Errorf(apperr.Invalid, "The token's Moodle user may not see every group of course %s (%s): give the user the capability moodle/site:accessallgroups.", courseID, msg)
	case "requireloginerror", "errorcoursecontextnotvalid":
		return apperr.Errorf(apperr.Invalid, "The token's Moodle user cannot open course %s (%s): give the user the capability moodle/course:view (for example the Manager role at site level) or enrol it in the course.", courseID, msg)
	case "nocriteriaset":
		return apperr.Errorf(apperr.Invalid, "Moodle course %s has no completion criteria (%s): set them under the course's Course completion settings.", courseID, msg)
	case "invalidrecord", "invalidcourseid":
		return apperr.Errorf(apperr.Invalid, "Moodle has no course %s (%s): check the mapping's context id.", courseID, msg)
	case "servicenotavailable", "servicerequireslogin":
		return apperr.Errorf(apperr.Invalid, "Moodle says the token's external service is not available (%s): enable the service.", msg)
	}
	return apperr.Errorf(apperr.Invalid, "Moodle refused %s for course %s: %s (%s).", ce.fn, courseID, msg, ce.ex.ErrorCode)
}

// enrolledUser is one user of core_enrol_get_enrolled_users's answer (the
// fields Laurel asks for with the userfields option).
type enrolledUser struct {
	ID       int64  `json:"id"`
	FullName string `json:"fullname"`
	Email    string `json:"email"`
	Roles    []struct {
		ShortName string `json:"shortname"`
	} `json:"roles"`
}

// enrolledUsers reads course courseID's enrolled users, rosterPage at a
// time (options limitfrom and limitnumber), until a short page.
func (c *Client) enrolledUsers(ctx context.Context, courseID string) ([]enrolledUser, error) {
	var all []enrolledUser
	for from := 0; ; from += rosterPage {
		p := url.Values{
			"courseid":          {courseID},
			"options[0][name]":  {"limitfrom"},
			"options[0][value]": {strconv.Itoa(from)},
			"options[1][name]":  {"limitnumber"},
			"options[1][value]": {strconv.Itoa(rosterPage)},
			"options[2][name]":  {"userfields"},
			"options[2][value]": {"id,fullname,email,roles"},
		}
		var page []enrolledUser
		if err := c.call(ctx, fnEnrolledUsers, p, &page); err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < rosterPage {
			return all, nil
		}
	}
}

// completionStatus is core_completion_get_course_completion_status's answer.
type completionStatus struct {
	CompletionStatus struct {
		Completed   bool `json:"completed"`
		Aggregation int  `json:"aggregation"`
		Completions []struct {
			Type          int    `json:"type"`
			Title         string `json:"title"`
			Complete      bool   `json:"complete"`
			TimeCompleted *int64 `json:"timecompleted"`
		} `json:"completions"`
	} `json:"completionstatus"`
}

func (c *Client) courseCompletion(ctx context.Context, courseID string, userID int64) (completionStatus, error) {
	var st completionStatus
	err := c.call(ctx, fnCourseCompletion, url.Values{"courseid": {courseID}, "userid": {strconv.FormatInt(userID, 10)}}, &st)
	return st, err
}
