package sheet

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DateOrder is the order of day, month and year in a file's non-ISO dates.
type DateOrder string

// The date orders a user can pick for a file ("" = ISO dates only).
const (
	YMD DateOrder = "YMD"
	MDY DateOrder = "MDY"
	DMY DateOrder = "DMY"
)

// orders are the non-ISO orders, in the order DetectOrder prefers them when
// they read a column identically.
var orders = [...]DateOrder{YMD, MDY, DMY}

var (
	isoRE    = regexp.MustCompile(`^(\d{4})([-/.])(\d{1,2})([-/.])(\d{1,2})$`)
	timeRE   = regexp.MustCompile(`^(\d{4}-\d{1,2}-\d{1,2})[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$`)
	tripleRE = regexp.MustCompile(`^(\d{1,4})([-/.])(\d{1,2})([-/.])(\d{1,4})$`)
	serialRE = regexp.MustCompile(`^\d{1,7}(\.\d+)?$`)
)

// maxSerial is 9999-12-31 as an Excel serial number.
const maxSerial = 2958465

// ParseOrder reads a date order as a user or a script gives it: "YMD", "MDY"
// or "DMY" (any case), "" for none.
func ParseOrder(s string) (DateOrder, error) {
	switch o := DateOrder(strings.ToUpper(strings.TrimSpace(s))); o {
	case "", YMD, MDY, DMY:
		return o, nil
	}
	return "", fmt.Errorf("date order %q is not one of YMD, MDY, DMY", s)
}

// ParseDate reads a civil date and returns it at UTC midnight. ISO
// YYYY-MM-DD (also with / or . between the parts, or followed by a time) is
// always read. With an order, M/D/YYYY, D/M/YYYY, D.M.YYYY, YYYY-first and
// two-digit years (00–29 → 2000s, 30–99 → 1900s, as Excel reads them), with
// /, - or . separators, are read in that order, and so are Excel serial
// numbers (e.g. "46346", the 1900 date system). The error says why the value
// is not a date, for a registrar.
func ParseDate(s string, order DateOrder) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("the date is empty")
	}
	if m := timeRE.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	if m := isoRE.FindStringSubmatch(s); m != nil && m[2] == m[4] {
		return civil(m[1], m[3], m[5], s)
	}
	switch order {
	case "", YMD, MDY, DMY:
	default:
		return time.Time{}, fmt.Errorf("date order %q is not one of YMD, MDY, DMY", order)
	}
	if m := tripleRE.FindStringSubmatch(s); m != nil {
		if m[2] != m[4] {
			return time.Time{}, fmt.Errorf("%q is not a date: it mixes separators", s)
		}
		a, b, c := m[1], m[3], m[5]
		if order == "" {
			return time.Time{}, fmt.Errorf("%q is not an ISO date (YYYY-MM-DD); the file's date order (day/month/year or month/day/year) is needed to read it", s)
		}
		var y, mo, d string
		switch order {
		case MDY:
			mo, d, y = a, b, c
		case DMY:
			d, mo, y = a, b, c
		case YMD:
			y, mo, d = a, b, c
		}
		if len(d) > 2 {
			return time.Time{}, fmt.Errorf("%q is not a date in %s order", s, orderName(order))
		}
		switch len(y) {
		case 2:
			n, _ := strconv.Atoi(y)
			if n < 30 {
				n += 2000
			} else {
				n += 1900
			}
			y = strconv.Itoa(n)
		case 4:
		default:
			return time.Time{}, fmt.Errorf("%q is not a date in %s order: the year must have 2 or 4 digits", s, orderName(order))
		}
		t, err := civil(y, mo, d, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w (read in %s order)", err, orderName(order))
		}
		return t, nil
	}
	if serialRE.MatchString(s) {
		if order == "" {
			return time.Time{}, fmt.Errorf("%q looks like an Excel date serial number; it is read only once the file's date order is known, or from a date-formatted cell", s)
		}
		whole := s
		if i := strings.IndexByte(s, '.'); i >= 0 {
			whole = s[:i]
		}
		n, _ := strconv.Atoi(whole)
		return serialDate(n, s)
	}
	return time.Time{}, fmt.Errorf("%q is not a date; write it as YYYY-MM-DD", s)
}

// serialDate turns an Excel (1900 system) serial into a date. Excel counts
// 29 February 1900, which did not exist, as serial 60.
func serialDate(n int, s string) (time.Time, error) {
	switch {
	case n < 1 || n > maxSerial:
		return time.Time{}, fmt.Errorf("%q is not a date: as an Excel serial number it is out of range", s)
	case n == 60:
		return time.Time{}, fmt.Errorf("%q is Excel's serial for 29 February 1900, a day that did not exist", s)
	case n < 60:
		return time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n), nil
	}
	return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n), nil
}

func civil(ys, ms, ds, s string) (time.Time, error) {
	y, _ := strconv.Atoi(ys)
	m, _ := strconv.Atoi(ms)
	d, _ := strconv.Atoi(ds)
	if y < 1000 {
		return time.Time{}, fmt.Errorf("%q is not a date: the year %d is out of range", s, y)
	}
	if m < 1 || m > 12 {
		return time.Time{}, fmt.Errorf("%q is not a date: there is no month %d", s, m)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if d < 1 || t.Day() != d {
		return time.Time{}, fmt.Errorf("%q is not a date: %s %d has no day %d", s, time.Month(m), y, d)
	}
	return t, nil
}

func orderName(o DateOrder) string {
	switch o {
	case MDY:
		return "month/day/year"
	case DMY:
		return "day/month/year"
	case YMD:
		return "year/month/day"
	}
	return "ISO"
}

// DetectOrder looks at all values of one column. ok is false when the column
// is ambiguous — the orders that read every value read some value as
// different dates (03/04/2026 only fits both MDY and DMY), or no single order
// reads them all — and the caller then asks the user or reports the rows.
// A column of ISO dates only returns ("", true). When several orders read
// every value identically (serial numbers and ISO dates only), the first of
// YMD, MDY, DMY is returned. Empty values and values that are no date in any
// order are ignored here (ParseDate reports them).
func DetectOrder(values []string) (order DateOrder, ok bool) {
	var d OrderDetector
	for _, v := range values {
		d.Add(v)
	}
	return d.Order()
}

// OrderDetector is DetectOrder one value at a time, for a column streamed
// from a large file. The zero value is ready to use.
type OrderDetector struct {
	seen    bool                           // some value is a date in some order
	nonISO  bool                           // some value needs an order
	misfit  [len(orders)]bool              // orders[i] failed to read some date
	differs [len(orders)][len(orders)]bool // orders i and j read some value differently
}

// Add takes one value of the column.
func (d *OrderDetector) Add(v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	if _, err := ParseDate(v, ""); err == nil {
		d.seen = true
		return
	}
	var got [len(orders)]time.Time
	var fit [len(orders)]bool
	fitsSome := false
	for i, o := range orders {
		t, err := ParseDate(v, o)
		got[i], fit[i] = t, err == nil
		fitsSome = fitsSome || fit[i]
	}
	if !fitsSome {
		return
	}
	d.seen, d.nonISO = true, true
	for i := range orders {
		if !fit[i] {
			d.misfit[i] = true
			continue
		}
		for j := range orders {
			if fit[j] && !got[i].Equal(got[j]) {
				d.differs[i][j] = true
			}
		}
	}
}

// Order is DetectOrder's answer for the values added so far.
func (d *OrderDetector) Order() (DateOrder, bool) {
	if !d.seen || !d.nonISO {
		return "", true
	}
	var fits []int
	for i := range orders {
		if !d.misfit[i] {
			fits = append(fits, i)
		}
	}
	if len(fits) == 0 {
		return "", false
	}
	for _, i := range fits {
		for _, j := range fits {
			if d.differs[i][j] {
				return "", false
			}
		}
	}
	return orders[fits[0]], true
}
