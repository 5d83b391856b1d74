package course_test

import (
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv/boundary"
)

// Package course reads and writes only its own tables: credentials go
// through issuance's API, platforms through lti's registry, Canvas's users
// and completion checks through the Canvas interface.
func TestCourseSQLTouchesOnlyCourseTables(t *testing.T) {
	own := map[string]bool{"course_mappings": true, "course_groups": true, "course_members": true}
	tables := boundary.SQLTables(t, ".")
	if len(tables) == 0 {
		t.Fatal("no SQL found in package course: the scan is broken")
	}
	for table, where := range tables {
		if !own[table] {
			t.Errorf("package course names table %s (owned by another package) at %v", table, where)
		}
	}
}

// The arrows run one way: canvas and moodle may use course (its mappings
// and its rule engine), course never either (they are its Checkers, behind
// an interface), and lti, the specification, knows none.
func TestImportArrows(t *testing.T) {
	for _, c := range []struct{ dir, forbidden string }{
		{".", "github.com/laurel-edu/laurel/canvas"},
		{".", "github.com/laurel-edu/laurel/moodle"},
		{"..", "github.com/laurel-edu/laurel/moodle"},
		{"..", "github.com/laurel-edu/laurel/lti/course"},
		{"..", "github.com/laurel-edu/laurel/canvas"},
	} {
		if fs, ok := boundary.Imports(t, c.dir)[c.forbidden]; ok {
			t.Errorf("%v import %s", fs, c.forbidden)
		}
	}
}
