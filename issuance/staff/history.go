package staff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/issuance"
)

// historyLines tells a credential's audit entries as sentences, newest
// first: "Published by Ada Byron on 7 Dec 2026, 07:33", "Name changed from
// "Ada" to "Ada Byron" by … on …". Fields are named by their labels in g
// and values written as people read them, never as stored keys and codes.
func historyLines(l locale.Locale, g issuance.Group, entries []audit.Entry) []string {
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		tail := " by " + e.Who + " on " + l.DateTime(e.At)
		before, after := flatten(e.Before), flatten(e.After)
		switch e.Action {
		case "amend":
			changes := diff(g, l, before, after)
			if len(changes) == 0 {
				out = append(out, "Amended"+tail)
			}
			for _, c := range changes {
				out = append(out, c+tail)
			}
		case "revoke":
			line := "Revoked" + tail
			if r := after["revocation_reason"]; r != "" {
				line += fmt.Sprintf(". Reason: “%s”", r)
			}
			out = append(out, line)
		case "resend":
			out = append(out, "Email resent to "+after["to"]+tail)
		case "retry_email":
			out = append(out, "Email to "+after["to"]+" tried again"+tail)
		case "remind":
			// Laurel's own: the reminder needs no "by".
			on := " on " + l.DateTime(e.At)
			if after["kind"] == issuance.ExpiredKind {
				out = append(out, "Expired email sent to "+after["to"]+" (expired on "+dateText(l, after["expires_on"])+")"+on)
			} else {
				out = append(out, "Expiry reminder sent to "+after["to"]+" ("+after["days"]+" days before "+dateText(l, after["expires_on"])+")"+on)
			}
		case "request_renewal":
			out = append(out, "Renewal requested by the recipient (for the expiry date "+dateText(l, after["expires_on"])+") on "+l.DateTime(e.At))
		case "name_correction_requested":
			out = append(out, fmt.Sprintf("Name correction to “%s” requested", after["requested_name"])+tail)
		case "name_correction_refused":
			out = append(out, fmt.Sprintf("Name correction to “%s” refused", after["requested_name"])+tail+fmt.Sprintf(". Reason: “%s”", after["reason"]))
		default:
			out = append(out, actionLabel(e.Action)+tail)
		}
	}
	return out
}

// diff is each changed field of an amendment as a sentence start, in the
// order of the form: standard fields, then the group's attributes.
func diff(g issuance.Group, l locale.Locale, before, after map[string]string) []string {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	type field struct {
		order       int
		label, b, a string
	}
	var fs []field
	for k := range keys {
		b, a := before[k], after[k]
		if b == a || k == "state" || strings.HasSuffix(k, "_at") {
			continue
		}
		order, label, isDate := fieldLabel(g, k)
		if isDate {
			b, a = dateText(l, b), dateText(l, a)
		}
		fs = append(fs, field{order, label, b, a})
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].order != fs[j].order {
			return fs[i].order < fs[j].order
		}
		return fs[i].label < fs[j].label
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		switch {
		case f.b == "":
			out[i] = fmt.Sprintf("%s set to “%s”", f.label, f.a)
		case f.a == "":
			out[i] = fmt.Sprintf("%s cleared (was “%s”)", f.label, f.b)
		default:
			out[i] = fmt.Sprintf("%s changed from “%s” to “%s”", f.label, f.b, f.a)
		}
	}
	return out
}

// fieldLabel names a snapshot key (see issuance's credential snapshot) as
// the credential form does, with its place in the form and whether it
// holds a date.
func fieldLabel(g issuance.Group, key string) (order int, label string, isDate bool) {
	switch key {
	case "recipient.name":
		return 0, "Name", false
	case "recipient.email":
		return 1, "Email", false
	case "issued_on":
		return 2, "Issue date", true
	case "expires_on":
		return 3, "Expiry date", true
	case "evidence_url":
		return 4, "Evidence link", false
	case "revocation_reason":
		return 5, "Reason for revoking", false
	}
	if k, ok := strings.CutPrefix(key, "attributes."); ok {
		for i, a := range g.Attributes {
			if a.Key == k {
				return 10 + i, a.Label, a.Type == issuance.DateAttr
			}
		}
		key = k // an attribute the group no longer has
	}
	words := strings.ReplaceAll(strings.ReplaceAll(key, "_", " "), ".", " ")
	return 1000, strings.ToUpper(words[:1]) + words[1:], false
}

// dateText writes a stored date (YYYY-MM-DD) in the locale; anything else
// as it is.
func dateText(l locale.Locale, v string) string {
	if d, err := time.Parse(issuance.DateLayout, v); err == nil {
		return l.Date(d)
	}
	return v
}

// flatten reads an audit snapshot as dotted keys and string values.
func flatten(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	if len(raw) == 0 {
		return out
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
		case nil:
			if prefix != "" {
				out[prefix] = ""
			}
		case string:
			out[prefix] = t
		default:
			b, _ := json.Marshal(t)
			out[prefix] = string(b)
		}
	}
	walk("", v)
	return out
}

// actionLabel is how the history names an audited action.
func actionLabel(a string) string {
	switch a {
	case "create":
		return "Created"
	case "amend":
		return "Amended"
	case "publish":
		return "Published"
	case "revoke":
		return "Revoked"
	case "resend":
		return "Email resent"
	case "retry_email":
		return "Email tried again"
	case "delete":
		return "Deleted"
	case "wallet-offer":
		return "Wallet link made"
	case "wallet-claim":
		return "Claimed into a wallet"
	case "hide":
		return "Hidden from the public"
	case "unhide":
		return "Shown to the public again"
	}
	return "Changed"
}
