package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
)

func TestBrowserRunsScriptsAndKeepsFirstPartyCookies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "k", Value: "v", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, "/show", http.StatusSeeOther)
			return
		}
		c, _ := r.Cookie("k")
		v := "none"
		if c != nil {
			v = c.Value
		}
		fmt.Fprintf(w, `<p id="c">%s</p><p id="js"></p><script>document.getElementById("js").textContent = "ran"</script>`, v)
	}))
	defer srv.Close()
	ctx := browsertest.New(t, browsertest.Options{})
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/set"), chromedp.WaitVisible("#c")); err != nil {
		t.Fatal(err)
	}
	cookie, err := chromedp.Run(ctx, chromedp.Text("#c"))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := chromedp.Run(ctx, chromedp.Text("#js"))
	// Staff sessions rely on a Secure cookie surviving on http://127.0.0.1.
	if cookie != "v" || js != "ran" {
		t.Fatalf("cookie %q, script %q; want a kept Secure cookie on loopback and scripts running", cookie, js)
	}
}

// TestAuditFindsViolationsUnderStrictCSP: axe-core runs on a page whose
// Content-Security-Policy forbids every script, and reports the unlabelled
// input and the low-contrast text it carries, and nothing on a clean page.
func TestAuditFindsViolationsUnderStrictCSP(t *testing.T) {
	axe := browsertest.AxeScript(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		body := `<label for="q">Search</label><input id="q" type="text"><p>Readable text.</p>`
		if r.URL.Path == "/bad" {
			body = `<input type="text"><p style="color:#ddd;background:#fff">Faint text.</p>`
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body><main><h1>Page</h1>%s</main></body></html>`, body)
	}))
	defer srv.Close()
	ctx := browsertest.New(t, browsertest.Options{})
	ids := func(path string) map[string]bool {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+path)); err != nil {
			t.Fatal(err)
		}
		vs, err := browsertest.Audit(ctx, axe)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, v := range vs {
			got[v.ID] = true
		}
		return got
	}
	if got := ids("/bad"); !got["label"] || !got["color-contrast"] {
		t.Errorf("violations on the bad page: %v, want label and color-contrast", got)
	}
	if got := ids("/good"); len(got) != 0 {
		t.Errorf("violations on the clean page: %v, want none", got)
	}
}
