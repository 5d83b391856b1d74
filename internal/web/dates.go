package web

import (
	"time"

	"golang.org/x/text/language"
)

// dateLayouts is the one date format of each language a group may have
// (its "language"); numeric where month names would need a translation we
// do not ship. Anything else, and an unparseable tag, falls back to English.
var dateLayouts = map[string]string{
	"en":    "2 Jan 2006",
	"en-US": "Jan 2, 2006",
	"de":    "02.01.2006",
	"fr":    "02/01/2006",
	"es":    "02/01/2006",
	"it":    "02/01/2006",
	"pt":    "02/01/2006",
	"nl":    "02-01-2006",
	"da":    "02.01.2006",
	"nb":    "02.01.2006",
	"fi":    "2.1.2006",
	"sv":    "2006-01-02",
	"pl":    "02.01.2006",
	"ja":    "2006/01/02",
	"zh":    "2006/01/02",
	"ko":    "2006. 01. 02.",
}

// dateLayout is the date format for lang: the exact tag (en-US), else its
// base language (de-AT → de), else English.
func dateLayout(lang string) string {
	if l, ok := dateLayouts[lang]; ok {
		return l
	}
	tag, err := language.Parse(lang)
	if err != nil {
		return dateLayouts["en"]
	}
	if base, conf := tag.Base(); conf != language.No {
		if r, rc := tag.Region(); rc == language.Exact || rc == language.High {
			if l, ok := dateLayouts[base.String()+"-"+r.String()]; ok {
				return l
			}
		}
		if l, ok := dateLayouts[base.String()]; ok {
			return l
		}
	}
	return dateLayouts["en"]
}

// localDate formats a date (a time.Time or *time.Time; nil and zero give
// "") in lang's format.
func localDate(lang string, t any) string {
	v, ok := timeOf(t)
	if !ok {
		return ""
	}
	return v.Format(dateLayout(lang))
}

// localTime formats an instant in lang's date format with the time of day in
// UTC, e.g. "1 Dec 2026, 14:05 UTC".
func localTime(lang string, t any) string {
	v, ok := timeOf(t)
	if !ok {
		return ""
	}
	v = v.UTC()
	return v.Format(dateLayout(lang)) + ", " + v.Format("15:04") + " UTC"
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
