package admin_test

import (
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv/boundary"
)

// The owner pages own no table: platforms, deployments, registration links
// and the tool's keys are lti's, read and written through its API. So no
// string literal of the package's non-test files may name a table (after
// FROM, JOIN, INTO, UPDATE or REFERENCES), nor import a database driver.
func TestAdminNamesNoTable(t *testing.T) {
	for p, files := range boundary.Imports(t, ".") {
		switch p {
		case "database/sql", "github.com/jmoiron/sqlx", "github.com/lib/pq", "github.com/redis/go-redis/v9":
			t.Errorf("%v import %s: the owner pages store nothing themselves", files, p)
		}
	}
	if len(boundary.Literals(t, ".")) == 0 {
		t.Fatal("no string literal found in package admin: the scan is broken")
	}
	for table, where := range boundary.SQLTables(t, ".") {
		t.Errorf("package admin names table %s at %v", table, where)
	}
}
