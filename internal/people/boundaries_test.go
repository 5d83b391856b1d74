package people_test

import (
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv/boundary"
)

// people owns no table: every read and write goes through the owner's
// methods (core, signing, imports, course, lti, canvas, audit).
func TestPeopleTouchesNoTable(t *testing.T) {
	for table, where := range boundary.SQLTables(t, ".") {
		t.Errorf("people names table %s at %v; call its owner instead", table, where)
	}
}
