package moodle_test

import (
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv/boundary"
)

// Package moodle reads and writes only its own tables: credentials go
// through course.Grant to the issuance core, mappings through package
// course, platforms through lti's registry.
func TestMoodleSQLTouchesOnlyMoodleTables(t *testing.T) {
	tables := boundary.SQLTables(t, ".")
	if len(tables) == 0 {
		t.Fatal("no SQL found in package moodle: the scan is broken")
	}
	for table, where := range tables {
		if table != "unnest" && !strings.HasPrefix(table, "moodle_") {
			t.Errorf("package moodle names table %s (owned by another package) at %v", table, where)
		}
	}
}

// Moodle and Canvas are siblings under the rule engine: neither imports
// the other.
func TestMoodleDoesNotImportCanvas(t *testing.T) {
	if fs, ok := boundary.Imports(t, ".")["github.com/laurel-edu/laurel/canvas"]; ok {
		t.Errorf("%v import package canvas", fs)
	}
}
