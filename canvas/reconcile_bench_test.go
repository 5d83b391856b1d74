package canvas_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti/course"
)

// BenchmarkReconcile10k: a course of BENCH_STUDENTS (default 10,000)
// students who all completed it and whose events were all lost; Laurel knows
// none of their emails, so a run reads every bulk_user_progress page and
// every users page (100 each at Canvas's maximum of 100 per page) from the
// simulator and creates every credential. A second run of the same course
// must create nothing; its time is reported too. Each iteration reconciles
// its own course into its own group.
func BenchmarkReconcile10k(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	n := envInt("BENCH_STUDENTS", 10000)
	e.rest.PageSize = 100
	done := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	var first, second time.Duration
	var requests int64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		courseID := strconv.Itoa(60000 + i)
		students := make([]canvassim.RESTStudent, n)
		for k := range students {
			students[k] = canvassim.RESTStudent{ID: strconv.Itoa(1000000 + k), Name: fmt.Sprintf("Student %05d", k),
				Email: fmt.Sprintf("s%05d@example.edu", k), CompletedAt: &done}
		}
		e.rest.AddStudents(courseID, students...)
		g := mustGroup(b, e, "Reconcile bench "+courseID)
		pid, gid, rule := e.platform.ID, g.ID, string(course.RuleCanvasCompletion)
		m, err := e.courses.CreateMapping(ctx, "bench", course.MappingInput{PlatformID: &pid, GroupID: &gid, CanvasCourseID: &courseID, CompletionRule: &rule})
		if err != nil {
			b.Fatal(err)
		}
		req0 := e.rest.Requests()
		b.StartTimer()
		start := time.Now()
		res, err := e.svc.Reconcile(ctx, m.ID)
		first += time.Since(start)
		b.StopTimer()
		requests += e.rest.Requests() - req0
		if err != nil {
			b.Fatal(err)
		}
		if res.Checked != n || len(res.Created) != n || len(res.Skipped) != 0 {
			b.Fatalf("first run: checked %d created %d skipped %d, want %d/%d/0", res.Checked, len(res.Created), len(res.Skipped), n, n)
		}
		start = time.Now()
		res, err = e.svc.Reconcile(ctx, m.ID)
		second += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Created) != 0 || res.Completed != n {
			b.Fatalf("second run created %d (completed %d), want 0", len(res.Created), res.Completed)
		}
		if got := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1`, g.ID); got != n {
			b.Fatalf("%d credentials in the group, want %d", got, n)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(first.Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(n*b.N)/first.Seconds(), "credentials/s")
	b.ReportMetric(second.Seconds()/float64(b.N), "s/second_run")
	b.ReportMetric(float64(requests)/float64(b.N), "canvas_requests/run")
	b.ReportMetric(benchcpu.PeakRSSMB(b), "peak_rss_MB")
}
