// Package benchcpu reads CPU time for benchmarks: this process's own, that of
// one process it started (Laurel's, in a benchmark that runs it apart), and
// that of the servers it started (PostgreSQL, Redis and their backends), so a
// benchmark can report Laurel's cost apart from the database's. It also runs
// the concurrent phases the benchmarks time, reads their percentiles and the
// process's peak memory.
package benchcpu

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Self is the user + system CPU time this process used so far.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Tick is USER_HZ, the unit of /proc/<pid>/stat times on Linux: the
// resolution of Process and Children.
const Tick = 10 * time.Millisecond

// stat reads a process's parent and user + system CPU from /proc/<pid>/stat.
func stat(file string) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command may hold spaces
	if i < 0 {
		return 0, 0, false
	}
	// After the command: state(0) ppid(1) ... utime(11) stime(12).
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(ut+st) * Tick, true
}

// Process is the user + system CPU time process pid used so far (10 ms
// resolution), or an error when it is gone.
func Process(pid int) (time.Duration, error) {
	_, cpu, ok := stat(fmt.Sprintf("/proc/%d/stat", pid))
	if !ok {
		return 0, fmt.Errorf("process %d: no /proc stat", pid)
	}
	return cpu, nil
}

// Children is the user + system CPU time of every live descendant of this
// process (read from /proc; 10 ms resolution per process). A descendant that
// exits between two readings loses its time, so take deltas over a run in
// which the servers' connections stay open.
func Children() time.Duration {
	type proc struct {
		ppid int
		cpu  time.Duration
	}
	procs := map[int]proc{}
	files, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range files {
		ppid, cpu, ok := stat(f)
		if !ok {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		procs[pid] = proc{ppid: ppid, cpu: cpu}
	}
	self := os.Getpid()
	var total time.Duration
	for _, p := range procs {
		for anc, seen := p.ppid, 0; anc > 1 && seen < 64; seen++ {
			if anc == self {
				total += p.cpu
				break
			}
			anc = procs[anc].ppid
		}
	}
	return total
}

// Phase runs do(0) … do(n-1) on workers goroutines, each taking the next
// index as it finishes one, and returns the wall time of the whole phase.
func Phase(workers, n int, do func(i int)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				do(i)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// Percentile is the p-quantile (0..1) of the latencies in milliseconds; it
// sorts l.
func Percentile(l []time.Duration, p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return Millis(l[int(float64(len(l)-1)*p)])
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// PeakRSSMB is this process's peak resident set (VmHWM) in MB.
func PeakRSSMB(tb testing.TB) float64 {
	tb.Helper()
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(s), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// ResetPeakRSS makes the kernel's peak-RSS counter start again from the
// current RSS, so a PeakRSSMB after it covers what came between.
func ResetPeakRSS(tb testing.TB) {
	tb.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Fatalf("reset peak RSS: %v", err)
	}
}
