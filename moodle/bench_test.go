package moodle_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/sandbox/moodlesim"
	"github.com/laurel-edu/laurel/lti/course"
)

// BenchmarkMoodleCompletionCheck checks a course of n students (half of
// them completed) against the emulator, first run (creates n/2
// credentials) and second run (creates nothing), and reports the web
// service requests per 1,000 students. Latency adds a real site's PHP time
// per call: 20 ms.
//
//	go test -run '^$' -bench MoodleCompletionCheck -benchtime 1x ./moodle/
func BenchmarkMoodleCompletionCheck(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e := newEnv(b)
				e.site.Latency = 20 * time.Millisecond
				c := moodlesim.Course{ID: 42, Aggregation: 1, Criteria: []moodlesim.Criterion{{Type: 4, Title: "Final exam"}}}
				at := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
				for i := range n {
					u := moodlesim.User{ID: int64(100 + i), FullName: fmt.Sprintf("Student %d", i), Email: fmt.Sprintf("s%d@example.edu", i), Role: "student"}
					if i%2 == 0 {
						u.Done = map[int]time.Time{0: at}
					}
					c.Users = append(c.Users, u)
				}
				e.site.AddCourse(c)
				m := e.mustMap("42")
				b.StartTimer()
				start := time.Now()
				res, err := e.courses.Reconcile(context.Background(), m.ID, course.TriggerManual)
				first := time.Since(start)
				if err != nil || len(res.Created) != n/2 {
					b.Fatalf("first run: %d created (%v), want %d", len(res.Created), err, n/2)
				}
				reqs := e.site.Requests("")
				start = time.Now()
				again, err := e.courses.Reconcile(context.Background(), m.ID, course.TriggerManual)
				second := time.Since(start)
				if err != nil || len(again.Created) != 0 {
					b.Fatalf("second run: %d created (%v)", len(again.Created), err)
				}
				b.ReportMetric(first.Seconds(), "s/first-run")
				b.ReportMetric(second.Seconds(), "s/second-run")
				b.ReportMetric(float64(reqs)*1000/float64(n), "requests/1000-students")
			}
		})
	}
}
