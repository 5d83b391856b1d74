package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/locale"
)

//go:embed templates/*.html
var sharedFS embed.FS

// Renderer holds one template set per page: the shared layout plus the page,
// so {{define}} blocks of different pages never collide. Every set is parsed
// at start-up, so a broken template stops the server before it serves.
type Renderer struct {
	// Locale gives the locale a request's pages show dates in (the
	// organisation's); nil is DefaultLocale. Set before serving.
	Locale locale.Func
	// sets are the parsed pages, never executed: each locale executes its
	// own clone (html/template cannot clone a set once executed), made once.
	sets     map[string]*template.Template
	byLocale sync.Map // localeSet → *template.Template
	cloneMu  sync.Mutex
}

// localeSet names a page's clone for one locale.
type localeSet struct{ page, lang, zone string }

// set returns page's template set for the request's locale.
func (r *Renderer) set(c *gin.Context, page string) (*template.Template, error) {
	master, ok := r.sets[page]
	if !ok {
		return nil, fmt.Errorf("render: no template %q", page)
	}
	l := locale.Default()
	if r.Locale != nil {
		l = r.Locale(c.Request.Context())
	}
	key := localeSet{page, l.Lang, l.ZoneName()}
	if t, ok := r.byLocale.Load(key); ok {
		return t.(*template.Template), nil
	}
	r.cloneMu.Lock()
	defer r.cloneMu.Unlock()
	if t, ok := r.byLocale.Load(key); ok {
		return t.(*template.Template), nil
	}
	t, err := master.Clone()
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", page, err)
	}
	t.Funcs(allFuncs(l))
	r.byLocale.Store(key, t)
	return t, nil
}

// view is what every page template receives: the page's own data under
// .Page, the signed-in principal (if any) under .User, and a flash message.
type view struct {
	Page  any
	User  any
	Flash string
	Path  string
	// NavCounts are counts the staff navigation shows beside its links
	// (NavCountsKey), e.g. "corrections": requests waiting.
	NavCounts map[string]int
}

// NavCountsKey holds the request's map[string]int of navigation counts,
// set by a feature's middleware on staff routes.
const NavCountsKey = "web.navCounts"

// Funcs are available in every template. The date funcs (date, dayOf,
// dateTime; see Locale) are added per locale by the Renderer.
var Funcs = template.FuncMap{
	// isodate is a date as an <input type="date"> value (YYYY-MM-DD), which
	// the browser shows in its reader's own format; never visible text.
	"isodate": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02")
	},
	"add": func(a, b int) int { return a + b },
}

// allFuncs is Funcs with the date funcs of l.
func allFuncs(l locale.Locale) template.FuncMap {
	funcs := template.FuncMap{}
	for k, v := range Funcs {
		funcs[k] = v
	}
	for k, v := range l.Funcs() {
		funcs[k] = v
	}
	return funcs
}

// NewRenderer parses every *.html page in each of pages (a feature's embedded
// templates) together with the shared layout and the feature's partials
// (_*.html). Page names must be unique across
// features. extra funcs are added to Funcs.
func NewRenderer(extra template.FuncMap, pages ...fs.FS) (*Renderer, error) {
	funcs := allFuncs(locale.Default())
	for k, v := range extra {
		funcs[k] = v
	}
	r := &Renderer{sets: map[string]*template.Template{}}
	all := append([]fs.FS{TemplateDir(sharedFS)}, pages...)
	for _, fsys := range all {
		names, err := fs.Glob(fsys, "*.html")
		if err != nil {
			return nil, err
		}
		// Files named _*.html are partials: their {{define}} blocks are
		// shared by every page of the same feature.
		partials, err := fs.Glob(fsys, "_*.html")
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if name == "layout.html" || strings.HasPrefix(name, "_") {
				continue
			}
			if _, dup := r.sets[name]; dup {
				return nil, fmt.Errorf("template %s defined twice", name)
			}
			t, err := template.New("layout.html").Funcs(funcs).ParseFS(sharedFS, "templates/layout.html")
			if err != nil {
				return nil, fmt.Errorf("parse layout: %w", err)
			}
			if t, err = t.ParseFS(fsys, append([]string{name}, partials...)...); err != nil {
				return nil, fmt.Errorf("parse %s: %w", name, err)
			}
			r.sets[path.Base(name)] = t
		}
	}
	return r, nil
}

// sharedErrorPage renders error.html in the layout without a Renderer, for
// errors written outside gin (ServeError).
var sharedErrorPage = template.Must(template.New("layout.html").Funcs(allFuncs(locale.Default())).ParseFS(sharedFS, "templates/layout.html", "templates/error.html"))

// TemplateDir is the templates directory of a package's embedded files
// (//go:embed templates/*.html): what each feature exports as Templates for
// NewRenderer.
func TemplateDir(embedded fs.FS) fs.FS {
	s, err := fs.Sub(embedded, "templates")
	if err != nil {
		panic(err) // embedded paths are fixed at compile time
	}
	return s
}

// pageBuffers are the buffers pages render into: a page is a few kilobytes,
// and a buffer grown to fit one is kept for the next.
var pageBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 16<<10)) }}

func putPageBuffer(b *bytes.Buffer) {
	if b.Cap() > 1<<20 { // a rare huge page's buffer is not kept
		return
	}
	b.Reset()
	pageBuffers.Put(b)
}

// Render executes page into a buffer (so a template error never leaves a
// half-written response) and writes it with status.
func (r *Renderer) Render(c *gin.Context, status int, page string, data any) error {
	t, err := r.set(c, page)
	if err != nil {
		return err
	}
	v := view{Page: data, Path: c.Request.URL.Path}
	if u, ok := c.Get(UserKey); ok {
		v.User = u
	}
	if f, ok := c.Get(FlashKey); ok {
		v.Flash, _ = f.(string)
	}
	if n, ok := c.Get(NavCountsKey); ok {
		v.NavCounts, _ = n.(map[string]int)
	}
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	if err := t.ExecuteTemplate(buf, "layout.html", v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	return writeHTML(c, status, buf.Bytes())
}

// RenderFragment executes the block name of page's template set alone (no
// layout), into a buffer, and writes it with status: a piece of a page that
// the page's script fetches to redraw itself.
func (r *Renderer) RenderFragment(c *gin.Context, status int, page, name string, data any) error {
	t, err := r.set(c, page)
	if err != nil {
		return err
	}
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	if err := t.ExecuteTemplate(buf, name, data); err != nil {
		return fmt.Errorf("render %s %s: %w", page, name, err)
	}
	return writeHTML(c, status, buf.Bytes())
}

// writeHTML writes a rendered page with status. Its length is known, so it
// goes out with Content-Length instead of chunked: the client knows the
// size, and the server writes the answer in fewer system calls.
func writeHTML(c *gin.Context, status int, page []byte) error {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Length", strconv.Itoa(len(page)))
	c.Status(status)
	_, err := c.Writer.Write(page)
	return err
}

// FlashKey holds a one-shot message for the next page (set by the session
// middleware from the session, or by a handler directly).
const FlashKey = "flash"
