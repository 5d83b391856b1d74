package canvassim

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"time"
)

// Browser is one person's browser launching the tool from the simulated
// Canvas over HTTP, as a browser without JavaScript would: it keeps the
// tool's cookies, follows the tool's login answer (a redirect, or the
// storage page's auth URL) to the platform's authorization and posts the
// form that comes back. Benchmarks drive many of them side by side.
type Browser struct {
	sim *Sim
	c   *http.Client
}

// NewBrowser returns a browser with an empty cookie jar on tr (nil: the
// default transport).
func (s *Sim) NewBrowser(tr http.RoundTripper) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{sim: s, c: &http.Client{
		Jar: jar, Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var authURLAttr = regexp.MustCompile(`data-auth-url="([^"]*)"`)

// Login sends the login initiation for userID in courseID to the tool and
// returns the platform authorization URL the tool sent the browser to.
func (b *Browser) Login(userID, courseID string, o LaunchOptions) (string, error) {
	lr, err := b.sim.BeginLaunch(userID, courseID, o)
	if err != nil {
		return "", err
	}
	st, body, hdr, err := b.do(b.c.PostForm(lr.URL, lr.Form))
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	switch st {
	case http.StatusFound, http.StatusSeeOther:
		return hdr.Get("Location"), nil
	case http.StatusOK:
		if m := authURLAttr.FindSubmatch(body); m != nil {
			return html.UnescapeString(string(m[1])), nil
		}
	}
	return "", fmt.Errorf("login: status %d: %.300s", st, body)
}

// Authorize follows authURL at the platform and returns the launch form it
// auto-posts to the tool.
func (b *Browser) Authorize(authURL string) (action string, form url.Values, err error) {
	st, body, _, err := b.do(b.c.Get(authURL))
	if err != nil {
		return "", nil, fmt.Errorf("authorize: %w", err)
	}
	if st != http.StatusOK {
		return "", nil, fmt.Errorf("authorize: status %d: %.300s", st, body)
	}
	return FormFromHTML(body)
}

// Launch posts the launch form to the tool and returns its answer.
func (b *Browser) Launch(action string, form url.Values) (status int, body []byte, err error) {
	st, body, _, err := b.do(b.c.PostForm(action, form))
	return st, body, err
}

func (b *Browser) do(resp *http.Response, err error) (int, []byte, http.Header, error) {
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header, err
}
