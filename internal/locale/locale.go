// Package locale writes dates and times as the organisation's people read
// them: in its language and time zone. It is the one formatting function set
// of every page (internal/web's template funcs) and email. It owns no tables.
package locale

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Locale is how people read dates and times: the organisation's language
// (a BCP 47 tag) and time zone. Every page and email formats a date through
// it (the template funcs date, dayOf and dateTime), so no template or
// handler picks a format of its own.
type Locale struct {
	Lang string
	Zone *time.Location
}

// Default is English in the server's time zone: what a page shows
// when no organisation locale is wired (tests, the sign-in page before the
// organisation loads).
func Default() Locale { return New("en", ServerZone()) }

// ServerZone is the server's time zone by its IANA name (TZ, /etc/localtime),
// or UTC when it has none that time.LoadLocation accepts.
func ServerZone() string {
	if name := time.Local.String(); name != "Local" && name != "" {
		if _, err := time.LoadLocation(name); err == nil {
			return name
		}
	}
	return "UTC"
}

// New is the locale of language tag lang and IANA zone name zone; an
// unknown zone (or "") is UTC, an unknown language English.
func New(lang, zone string) Locale {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc = time.UTC
	}
	return Locale{Lang: lang, Zone: loc}
}

// Func gives the locale of a request (the organisation's).
type Func func(ctx context.Context) Locale

// monthNames are the abbreviated month names of the languages that have a
// written-out format below, January first.
var monthNames = map[string][12]string{
	"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
	"de": {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
	"es": {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
	"it": {"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"},
	"pt": {"jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.", "dez."},
	"nl": {"jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"},
}

// dateFormats write a calendar date in each language: with a month name
// where monthNames has the language, numeric where a name would need a
// translation Laurel does not ship. Anything else is English.
var dateFormats = map[string]func(d, m, y int) string{
	"en":    func(d, m, y int) string { return fmt.Sprintf("%d %s %d", d, monthNames["en"][m-1], y) },
	"en-US": func(d, m, y int) string { return fmt.Sprintf("%s %d, %d", monthNames["en"][m-1], d, y) },
	"fr":    func(d, m, y int) string { return fmt.Sprintf("%d %s %d", d, monthNames["fr"][m-1], y) },
	"de":    func(d, m, y int) string { return fmt.Sprintf("%d. %s %d", d, monthNames["de"][m-1], y) },
	"es":    func(d, m, y int) string { return fmt.Sprintf("%d %s %d", d, monthNames["es"][m-1], y) },
	"it":    func(d, m, y int) string { return fmt.Sprintf("%d %s %d", d, monthNames["it"][m-1], y) },
	"pt":    func(d, m, y int) string { return fmt.Sprintf("%d %s %d", d, monthNames["pt"][m-1], y) },
	"nl":    func(d, m, y int) string { return fmt.Sprintf("%d %s %d", d, monthNames["nl"][m-1], y) },
	"da":    func(d, m, y int) string { return fmt.Sprintf("%02d.%02d.%d", d, m, y) },
	"nb":    func(d, m, y int) string { return fmt.Sprintf("%02d.%02d.%d", d, m, y) },
	"fi":    func(d, m, y int) string { return fmt.Sprintf("%d.%d.%d", d, m, y) },
	"sv":    func(d, m, y int) string { return fmt.Sprintf("%d-%02d-%02d", y, m, d) },
	"pl":    func(d, m, y int) string { return fmt.Sprintf("%02d.%02d.%d", d, m, y) },
	"ja":    func(d, m, y int) string { return fmt.Sprintf("%d年%d月%d日", y, m, d) },
	"zh":    func(d, m, y int) string { return fmt.Sprintf("%d年%d月%d日", y, m, d) },
	"ko":    func(d, m, y int) string { return fmt.Sprintf("%d년 %d월 %d일", y, m, d) },
}

// dateFormat is the format for lang: the exact tag (en-US), else its base
// language and region, else its base language (de-AT → de), else English.
func dateFormat(lang string) func(d, m, y int) string {
	if f, ok := dateFormats[lang]; ok {
		return f
	}
	tag, err := language.Parse(lang)
	if err != nil {
		return dateFormats["en"]
	}
	if base, conf := tag.Base(); conf != language.No {
		if r, rc := tag.Region(); rc == language.Exact || rc == language.High {
			if f, ok := dateFormats[base.String()+"-"+r.String()]; ok {
				return f
			}
		}
		if f, ok := dateFormats[base.String()]; ok {
			return f
		}
	}
	return dateFormats["en"]
}

// twelveHour are the languages whose people read the time of day as 7:33 AM.
var twelveHour = map[string]bool{"en-US": true}

// Date writes a calendar date (a time.Time or *time.Time holding a date, such
// as an issue date; nil and zero give ""), e.g. "7 Dec 2026". The date is
// taken as stored, without a time-zone shift.
func (l Locale) Date(t any) string {
	v, ok := timeOf(t)
	if !ok {
		return ""
	}
	return dateFormat(l.Lang)(v.Day(), int(v.Month()), v.Year())
}

// DayOf writes the day, in the locale's time zone, of an instant (such as
// when a credential was published): "7 Dec 2026".
func (l Locale) DayOf(t any) string {
	v, ok := timeOf(t)
	if !ok {
		return ""
	}
	return l.Date(v.In(l.zone()))
}

// DateTime writes an instant in the locale's time zone, e.g.
// "7 Dec 2026, 07:33" (or "Dec 7, 2026, 7:33 AM" in en-US).
func (l Locale) DateTime(t any) string {
	v, ok := timeOf(t)
	if !ok {
		return ""
	}
	v = v.In(l.zone())
	clock := v.Format("15:04")
	if twelveHour[l.Lang] {
		clock = v.Format("3:04 PM")
	}
	return l.Date(v) + ", " + clock
}

// ZoneName is the locale's time zone as people read it ("Europe/Paris").
func (l Locale) ZoneName() string { return strings.ReplaceAll(l.zone().String(), "_", " ") }

func (l Locale) zone() *time.Location {
	if l.Zone == nil {
		return time.UTC
	}
	return l.Zone
}

// Today is the locale's current calendar date at now, as a date value (UTC
// midnight), e.g. the default of an issue-date input.
func (l Locale) Today(now time.Time) time.Time {
	v := now.In(l.zone())
	return time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC)
}

// Funcs are the template funcs bound to l.
func (l Locale) Funcs() map[string]any {
	return map[string]any{
		"date":     l.Date,
		"dayOf":    l.DayOf,
		"dateTime": l.DateTime,
		"timeZone": l.ZoneName,
		// Older names, kept so templates written before the locale still
		// parse; each formats through the locale like the names above.
		"datetime":  l.DateTime,
		"localdate": func(_ string, t any) string { return l.Date(t) },
		"localtime": func(_ string, t any) string { return l.DateTime(t) },
	}
}

func timeOf(t any) (time.Time, bool) {
	switch v := t.(type) {
	case time.Time:
		return v, !v.IsZero()
	case *time.Time:
		if v == nil || v.IsZero() {
			return time.Time{}, false
		}
		return *v, true
	}
	return time.Time{}, false
}
