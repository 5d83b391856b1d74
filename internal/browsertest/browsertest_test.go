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
