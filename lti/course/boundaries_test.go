package course_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlTables finds the tables a package's SQL names: every string literal of
// its non-test files, after FROM, JOIN, INTO, UPDATE or REFERENCES.
func sqlTables(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	// The project writes SQL keywords in capitals; "DO UPDATE SET" and
	// "FOR UPDATE SKIP LOCKED" name no table.
	re := regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|REFERENCES)\s+([a-z_][a-z0-9_]*)`)
	notTables := map[string]bool{"set": true, "skip": true, "of": true, "nowait": true}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				if !notTables[m[1]] {
					out[m[1]] = append(out[m[1]], fset.Position(lit.Pos()).String())
				}
			}
			return true
		})
	}
	return out
}

// Package course reads and writes only its own tables: credentials go
// through issuance's API, platforms through lti's registry, Canvas's users
// and completion checks through the Canvas interface.
func TestCourseSQLTouchesOnlyCourseTables(t *testing.T) {
	own := map[string]bool{"course_mappings": true, "course_groups": true}
	tables := sqlTables(t, ".")
	if len(tables) == 0 {
		t.Fatal("no SQL found in package course: the scan is broken")
	}
	for table, where := range tables {
		if !own[table] {
			t.Errorf("package course names table %s (owned by another package) at %v", table, where)
		}
	}
}

// imports returns the packages the non-test files of dir import.
func imports(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[p] = f
		}
	}
	if len(out) == 0 {
		t.Fatalf("no imports found in %s: the scan is broken", dir)
	}
	return out
}

// The arrows run one way: canvas may use course (its mappings), course
// never canvas (it asks for Canvas's side through an interface), and lti,
// the specification, knows neither.
func TestImportArrows(t *testing.T) {
	for _, c := range []struct{ dir, forbidden string }{
		{".", "github.com/laurel-edu/laurel/canvas"},
		{"..", "github.com/laurel-edu/laurel/lti/course"},
		{"..", "github.com/laurel-edu/laurel/canvas"},
	} {
		if f, ok := imports(t, c.dir)[c.forbidden]; ok {
			t.Errorf("%s imports %s", f, c.forbidden)
		}
	}
}
