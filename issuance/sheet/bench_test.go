package sheet_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance/sheet"
)

// BenchmarkReadCSV1M reads a generated 1,000,000-row CSV (name, email,
// issue date, three attributes; about 80 MB) and reports rows/s and the
// process's peak RSS while reading:
//
//	go test -run '^$' -bench ReadCSV1M -benchtime 1x ./issuance/sheet/
func BenchmarkReadCSV1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "1m.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("Name,Email,Issue date,Course,Grade,Hours\r\n")
	for i := 1; i <= 1_000_000; i++ {
		fmt.Fprintf(w, "Student %07d,student%07d@example.edu,2026-%02d-%02d,\"Data Science, Part %d\",%c,%d\r\n", i, i, i%12+1, i%28+1, i%4+1, 'A'+i%5, i%200)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchRead(b, path, 1_000_000)
}

// BenchmarkReadXLSX100k reads a generated 100,000-row workbook (the same
// columns, the issue date a date cell) and reports rows/s and peak RSS:
//
//	go test -run '^$' -bench ReadXLSX100k -benchtime 1x ./issuance/sheet/
func BenchmarkReadXLSX100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "100k.xlsx")
	data := bigWorkbook(b, 100_000)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	data = nil
	benchRead(b, path, 100_000)
}

func benchRead(b *testing.B, path string, want int) {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	// Generating the file is not the reader's memory: reset the peak.
	resetPeakRSS(b)
	b.ResetTimer()
	start := time.Now()
	rows := 0
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := sheet.Open(f, st.Size(), sheet.Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if len(row.Cells) != 6 {
				b.Fatalf("row %d: %q", row.Number, row.Cells)
			}
			n++
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if n != want {
			b.Fatalf("read %d rows, want %d", n, want)
		}
		rows += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	peak := peakRSSMB(b)
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(peak, "peak-MB")
	b.Logf("%d rows from %.1f MB in %.2f s: %.0f rows/s, peak RSS %.0f MB", rows, float64(st.Size())/1e6, elapsed.Seconds(), float64(rows)/elapsed.Seconds(), peak)
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS
// (Linux: "5" in /proc/self/clear_refs).
func resetPeakRSS(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}

// peakRSSMB is VmHWM from /proc/self/status, in MB.
func peakRSSMB(b *testing.B) float64 {
	b.Helper()
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(s), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
