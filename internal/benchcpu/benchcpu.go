// Package benchcpu reads CPU time for benchmarks: this process's own, and
// that of the servers it started (PostgreSQL, Redis and their backends), so a
// benchmark can report Laurel's cost apart from the database's.
package benchcpu

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times on Linux.
const clockTick = 10 * time.Millisecond

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
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		// After the command: state(0) ppid(1) ... utime(11) stime(12).
		if len(fields) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _ := strconv.Atoi(fields[1])
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		procs[pid] = proc{ppid: ppid, cpu: time.Duration(ut+st) * clockTick}
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
