package issuance_test

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
// its non-test files, after FROM, JOIN, INTO, UPDATE, REFERENCES, COPY or
// TABLE, less the names its statements give their CTEs (WITH ins AS (...))
// and set-returning functions (unnest).
func sqlTables(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	// The project writes SQL keywords in capitals; "DO UPDATE SET" and
	// "FOR UPDATE SKIP LOCKED" name no table.
	re := regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|REFERENCES|COPY|TABLE)\s+([a-z_][a-z0-9_]*)`)
	cte := regexp.MustCompile(`\b([a-z_][a-z0-9_]*)\s+AS\s+\(`)
	notTables := map[string]bool{"set": true, "skip": true, "of": true, "nowait": true, "unnest": true}
	found := map[string][]string{}
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
			for _, m := range cte.FindAllStringSubmatch(s, -1) {
				notTables[m[1]] = true
			}
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				found[m[1]] = append(found[m[1]], fset.Position(lit.Pos()).String())
			}
			return true
		})
	}
	out := map[string][]string{}
	for table, where := range found {
		if !notTables[table] {
			out[table] = where
		}
	}
	return out
}

// Each room of issuance reads and writes only its own tables: the others'
// rows go through their owner's Go API (the core's BulkCreate and Holders
// for imports, audit.InsertSelect for the audit log, internal/jobs for
// jobs), and the surfaces on top own none.
func TestIssuanceRoomsTouchOnlyTheirTables(t *testing.T) {
	for _, room := range []struct {
		dir string
		own []string
	}{
		{".", []string{"designs", "groups", "credentials", "credential_emails", "organisation", "credential_staging"}},
		{"imports", []string{"imports", "import_rows", "import_chunks", "import_mappings"}},
		{"signing", []string{"credential_signatures", "credential_keys", "status_lists"}},
		{"delivery", nil},
		{"public", nil},
		{"staff", nil},
		{"api", nil},
		{"sheet", nil},
		{"openbadges", nil},
		{"baking", nil},
		{"certpdf", nil},
		{"internal/staffui", nil},
	} {
		own := map[string]bool{}
		for _, tb := range room.own {
			own[tb] = true
		}
		tables := sqlTables(t, room.dir)
		if len(room.own) > 0 && len(tables) == 0 {
			t.Errorf("no SQL found in %s: the scan is broken", room.dir)
		}
		for table, where := range tables {
			if !own[table] {
				t.Errorf("%s names table %s (owned by another package) at %v", room.dir, table, where)
			}
		}
	}
}
