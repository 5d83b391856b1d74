package canvas_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti/course"
)

// BenchmarkReconcileRules: a course of BENCH_STUDENTS (default 10,000)
// students, all of whom earned the credential under a score rule
// (enrollments, 100 a page) or a module rule (one module request per
// student, 8 in flight), Laurel knowing none of their emails. It reports the
// first run's time, the Canvas requests per 1,000 students, and checks that
// a second run creates nothing.
func BenchmarkReconcileRules(b *testing.B) {
	for _, rule := range []string{"canvas_score", "canvas_module"} {
		b.Run(rule, func(b *testing.B) {
			e := newEnv(b)
			ctx := context.Background()
			n := envInt("BENCH_STUDENTS", 10000)
			e.rest.PageSize = 100
			done := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
			var first time.Duration
			var requests int64
			for i := range b.N {
				courseID := strconv.Itoa(80000 + i)
				students := make([]canvassim.RESTStudent, n)
				for k := range students {
					students[k] = canvassim.RESTStudent{ID: strconv.Itoa(2000000 + k), Name: fmt.Sprintf("Student %05d", k), Email: fmt.Sprintf("r%05d@example.edu", k)}
				}
				e.rest.AddStudents(courseID, students...)
				in := course.MappingInput{CompletionRule: ptr(rule)}
				for _, st := range students {
					if rule == "canvas_score" {
						e.rest.SetScores(courseID, st.ID, canvassim.Scores{Current: score(85), Final: score(85)})
					} else {
						e.rest.SetModuleState(courseID, "7", st.ID, canvassim.ModuleState{State: "completed", CompletedAt: &done})
					}
				}
				if rule == "canvas_score" {
					in.MinScore = ptr(80.0)
				} else {
					in.ModuleID = ptr("7")
				}
				g := mustGroup(b, e, "Rules bench "+rule+courseID)
				pid, gid := e.platform.ID, g.ID
				in.PlatformID, in.GroupID, in.CanvasCourseID = &pid, &gid, &courseID
				m, err := e.courses.CreateMapping(ctx, "bench", in)
				if err != nil {
					b.Fatal(err)
				}
				req0 := e.rest.Requests()
				start := time.Now()
				res, err := e.svc.Reconcile(ctx, m.ID)
				first += time.Since(start)
				requests += e.rest.Requests() - req0
				if err != nil {
					b.Fatal(err)
				}
				if res.Checked != n || len(res.Created) != n {
					b.Fatalf("first run: checked %d created %d (skipped %d), want %d", res.Checked, len(res.Created), len(res.Skipped), n)
				}
				if res, err = e.svc.Reconcile(ctx, m.ID); err != nil || len(res.Created) != 0 {
					b.Fatalf("second run: created %d, err %v", len(res.Created), err)
				}
			}
			b.ReportMetric(first.Seconds()/float64(b.N), "s/run")
			b.ReportMetric(float64(requests)/float64(b.N)/float64(n)*1000, "canvas_requests/1000_students")
		})
	}
}
