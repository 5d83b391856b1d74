package course_test

import (
	"context"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/migrations"
)

// Migration 0005 on a database with mappings made before it: a group an
// instructor created from a launch becomes that course's own group; their
// auto-publish stops (no existing group allows it), staff's stays; every
// existing group starts with both instructor settings off.
func TestMigrationInstructorScope(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, err := goose.NewProvider(goose.DialectPostgres, e.db.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	// Later migrations (if any) are rolled back and re-applied with it.
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatalf("down to before 0005: %v", err)
	}
	instructor := "lti:" + itoa(e.platform.ID) + ":sub-tina"
	var own, staffGroup int64
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, g := range []struct {
		name, actor string
		id          *int64
	}{{"Tina's course", instructor, &own}, {"Professional Certificate", "user:1:staff@example.edu", &staffGroup}} {
		if err := e.db.Get(g.id, `INSERT INTO groups (name, course_name, design_id) VALUES ($1, $1, $2) RETURNING id`, g.name, e.group.DesignID); err != nil {
			t.Fatal(err)
		}
		mustExec(`INSERT INTO audit_log (actor, action, entity_type, entity_id) VALUES ($1, 'create', 'group', $2)`, g.actor, itoa(*g.id))
	}
	insert := `INSERT INTO course_mappings (platform_id, context_id, canvas_course_id, group_id, auto_publish, created_by) VALUES ($1, $2, $3, $4, true, $5)`
	mustExec(insert, e.platform.ID, "ctx-own", "11", own, instructor)
	mustExec(insert, e.platform.ID, "ctx-attack", "12", staffGroup, "lti:"+itoa(e.platform.ID)+":sub-mallory")
	mustExec(insert, e.platform.ID, "ctx-staff", "13", staffGroup, "user:1:staff@example.edu")

	if _, err := db.Migrate(ctx, e.db.DB); err != nil {
		t.Fatal(err)
	}
	type courseGroup struct {
		ContextID string `db:"context_id"`
		GroupID   int64  `db:"group_id"`
	}
	var cgs []courseGroup
	if err := e.db.Select(&cgs, `SELECT context_id, group_id FROM course_groups ORDER BY context_id`); err != nil {
		t.Fatal(err)
	}
	if len(cgs) != 1 || cgs[0] != (courseGroup{"ctx-own", own}) {
		t.Fatalf("course groups after the migration: %+v, want only ctx-own → %d", cgs, own)
	}
	for course, want := range map[string]bool{"11": false, "12": false, "13": true} {
		if got := e.count(`SELECT count(*) FROM course_mappings WHERE canvas_course_id = $1 AND auto_publish`, course); (got == 1) != want {
			t.Fatalf("course %s auto_publish = %v, want %v", course, got == 1, want)
		}
	}
	if n := e.count(`SELECT count(*) FROM groups WHERE available_to_instructors OR allow_auto_publish`); n != 0 {
		t.Fatalf("%d existing groups have an instructor setting on", n)
	}
}
