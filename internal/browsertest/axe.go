package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeTags are the rule sets Audit runs: WCAG 2.1 levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// AxeScript returns axe-core's source, installed by `make test` (npm ci in
// internal/browsertest/axe, version pinned in its package-lock.json). It
// skips the test when the file is missing, except with CI=true, where it
// fails.
func AxeScript(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "axe", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("axe-core not installed (%v): run `cd internal/browsertest/axe && npm ci`", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true, so this fails rather than skips)")
		}
		t.Skip(msg)
	}
	return string(b)
}

// AxeViolation is one rule axe-core found broken, with the elements that
// break it.
type AxeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Summary string   `json:"summary"` // axe's failureSummary of the first node
}

func (v AxeViolation) String() string {
	return fmt.Sprintf("%s (%s) %s at %s: %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "), v.Summary)
}

// Audit runs axe-core with axeTags on the page of ctx and returns its
// violations. axe is evaluated through DevTools (Runtime.evaluate), which
// the page's Content-Security-Policy does not restrict, so pages that
// forbid inline script can be audited unchanged. script is AxeScript's
// result.
func Audit(ctx context.Context, script string) ([]AxeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("check for axe: %w", err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](script)); err != nil {
			return nil, fmt.Errorf("load axe-core: %w", err)
		}
	}
	tags := `["` + strings.Join(axeTags, `","`) + `"]`
	run := `axe.run(document, {runOnly: {type: "tag", values: ` + tags + `}, resultTypes: ["violations"]}).then(function (r) {
  return r.violations.map(function (v) {
    return {id: v.id, impact: v.impact || "", help: v.help,
      targets: v.nodes.map(function (n) { return n.target.join(" "); }),
      summary: v.nodes.length ? (v.nodes[0].failureSummary || "").replace(/\s+/g, " ") : ""};
  });
})`
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	return vs, nil
}
