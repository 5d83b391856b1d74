package admin_test

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

// The owner pages own no table: platforms, deployments, registration links
// and the tool's keys are lti's, read and written through its API. So no
// string literal of the package's non-test files may name a table (after
// FROM, JOIN, INTO, UPDATE or REFERENCES), nor import a database driver.
func TestAdminNamesNoTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// The project writes SQL keywords in capitals.
	re := regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|REFERENCES)\s+([a-z_][a-z0-9_]*)`)
	fset := token.NewFileSet()
	scanned, literals := 0, 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			switch p {
			case "database/sql", "github.com/jmoiron/sqlx", "github.com/lib/pq", "github.com/redis/go-redis/v9":
				t.Errorf("%s imports %s: the owner pages store nothing themselves", f, p)
			}
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
			literals++
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				t.Errorf("package admin names table %s at %s", m[1], fset.Position(lit.Pos()))
			}
			return true
		})
	}
	if scanned == 0 || literals == 0 {
		t.Fatal("no source or no string literal found in package admin: the scan is broken")
	}
}
