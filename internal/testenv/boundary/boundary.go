// Package boundary lets a package's tests check the walls between rooms: which
// tables its SQL names and which packages it imports. It reads the non-test Go
// files of one directory and owns no table.
package boundary

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

// Literal is one string literal of a package's non-test source.
type Literal struct {
	Pos   string // file:line:column
	Value string // unquoted
}

// parse parses the non-test Go files of dir with mode; it fails t on error.
func parse(t testing.TB, dir string, mode parser.Mode) (map[string]*ast.File, *token.FileSet) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]*ast.File{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, mode)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = af
	}
	return out, fset
}

// Literals returns every string literal of the non-test files of dir.
func Literals(t testing.TB, dir string) []Literal {
	t.Helper()
	files, fset := parse(t, dir, 0)
	var out []Literal
	for _, af := range files {
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			out = append(out, Literal{Pos: fset.Position(lit.Pos()).String(), Value: s})
			return true
		})
	}
	return out
}

var (
	// The project writes SQL keywords in capitals; "DO UPDATE SET" and
	// "FOR UPDATE SKIP LOCKED" name no table.
	tableRef = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|REFERENCES|COPY|TABLE)\s+([a-z_][a-z0-9_]*)`)
	cteName  = regexp.MustCompile(`\b([a-z_][a-z0-9_]*)\s+AS\s+\(`)
)

// SQLTables finds the tables the SQL of dir's non-test files names, each with
// the positions of the literals naming it: every string literal, after FROM,
// JOIN, INTO, UPDATE, REFERENCES, COPY or TABLE, less the names its statements
// give their CTEs (WITH ins AS (...)) and set-returning functions (unnest).
func SQLTables(t testing.TB, dir string) map[string][]string {
	t.Helper()
	notTables := map[string]bool{"set": true, "skip": true, "of": true, "nowait": true, "unnest": true}
	found := map[string][]string{}
	for _, lit := range Literals(t, dir) {
		for _, m := range cteName.FindAllStringSubmatch(lit.Value, -1) {
			notTables[m[1]] = true
		}
		for _, m := range tableRef.FindAllStringSubmatch(lit.Value, -1) {
			found[m[1]] = append(found[m[1]], lit.Pos)
		}
	}
	out := map[string][]string{}
	for table, where := range found {
		if !notTables[table] {
			out[table] = where
		}
	}
	return out
}

// Imports returns the packages the non-test files of dir import, each with
// the files importing it. It fails t when it finds none: the scan is broken.
func Imports(t testing.TB, dir string) map[string][]string {
	t.Helper()
	files, _ := parse(t, dir, parser.ImportsOnly)
	out := map[string][]string{}
	for f, af := range files {
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[p] = append(out[p], f)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no imports found in %s: the scan is broken", dir)
	}
	return out
}
