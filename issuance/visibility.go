package issuance

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Visibility says who may see an attribute of a credential. It is decided
// here, once, for every surface: the public page, PDF, baked badge and
// signed credential (AudiencePublic), the recipient's email and the LMS
// views (AudienceRecipient), and staff pages and the API (AudienceStaff).
type Visibility string

// Visibilities, from the widest audience to the narrowest.
const (
	// VisibilityPublic: anyone with the credential's link, and the signed
	// credential (where it travels to wallets and verifiers).
	VisibilityPublic Visibility = "public"
	// VisibilityRecipient: the recipient (email, the learner's LMS view),
	// the course's instructors in the LMS, and staff; never a public page
	// nor the signed credential. New custom attributes default to it.
	VisibilityRecipient Visibility = "recipient"
	// VisibilityStaff: staff pages and the API only.
	VisibilityStaff Visibility = "staff"
)

// Visibilities lists the visibilities in the order forms offer them.
var Visibilities = []Visibility{VisibilityPublic, VisibilityRecipient, VisibilityStaff}

// Label is how pages name the visibility.
func (v Visibility) Label() string {
	switch v {
	case VisibilityPublic:
		return "Public"
	case VisibilityRecipient:
		return "Recipient and staff only"
	case VisibilityStaff:
		return "Staff only"
	}
	return string(v)
}

// Audience is who is looking at a credential.
type Audience int

// Audiences, from the widest to the narrowest.
const (
	// AudiencePublic is anyone: the public credential page, its PDF, the
	// baked badge and the signed Open Badges credential (JSON and VC-JWT).
	AudiencePublic Audience = iota
	// AudienceRecipient is the recipient (their email, their own view in
	// the LMS) and the instructors of their course in the LMS, who are not
	// Laurel staff.
	AudienceRecipient
	// AudienceStaff is Laurel staff: staff pages and the API.
	AudienceStaff
)

// Shows reports whether an attribute of visibility v is shown to audience
// a. An unset visibility counts as VisibilityRecipient (the default).
func (v Visibility) Shows(a Audience) bool {
	switch v {
	case VisibilityPublic:
		return true
	case VisibilityStaff:
		return a == AudienceStaff
	default:
		return a >= AudienceRecipient
	}
}

// standardVisibility is the fixed visibility of a standard attribute (see
// StandardAttributes): the name, achievement, course, dates and credential
// ID are what a credential is, so they are public; the email address is
// never public (the signed credential carries only its salted hash).
func standardVisibility(key string) (Visibility, bool) {
	for _, a := range StandardAttributes {
		if a.Key == key {
			return a.Visibility, true
		}
	}
	return "", false
}

// Visible reports whether attribute key of group g (a standard or a
// custom one) is shown to audience a. An unknown key is shown to no one
// but staff.
func (g Group) Visible(key string, a Audience) bool {
	if v, ok := standardVisibility(key); ok {
		return v.Shows(a)
	}
	for _, at := range g.Attributes {
		if at.Key == key {
			return at.Visibility.Shows(a)
		}
	}
	return a == AudienceStaff
}

// VisibleAttributes returns the custom attributes of g that audience a may
// see, in the group's order. Every surface that shows a credential's
// attributes lists them with it.
func (g Group) VisibleAttributes(a Audience) []Attribute {
	out := make([]Attribute, 0, len(g.Attributes))
	for _, at := range g.Attributes {
		if at.Visibility.Shows(a) {
			out = append(out, at)
		}
	}
	return out
}

// VisibleTo returns g as audience a sees it: with only the custom
// attributes a may see. A form built from it (FormAmendment) keeps the
// values of the attributes it leaves out.
func (g Group) VisibleTo(a Audience) Group {
	g.Attributes = g.VisibleAttributes(a)
	return g
}

// VisibleValue is one attribute of a credential with its value, as an
// audience may see it.
type VisibleValue struct {
	Attribute
	Value string
}

// Display is how pages and emails show the value: a date for people, the
// rest as entered.
func (v VisibleValue) Display() string { return v.Attribute.Display(v.Value) }

// Display is how pages and emails show value v of attribute a.
func (a Attribute) Display(v string) string {
	if a.Type == DateAttr {
		if d, err := time.Parse(DateLayout, v); err == nil {
			return d.Format(HumanDate)
		}
	}
	return v
}

// VisibleValues returns the custom attributes of c (of group g) that
// audience a may see and that have a value, in the group's order.
func (c Credential) VisibleValues(g Group, a Audience) []VisibleValue {
	var out []VisibleValue
	for _, at := range g.VisibleAttributes(a) {
		if v := c.Attributes[at.Key]; v != "" {
			out = append(out, VisibleValue{Attribute: at, Value: v})
		}
	}
	return out
}

// PublicResults are the public result attributes of g: those that the
// signed credential carries as Open Badges results.
func (g Group) PublicResults() []Attribute {
	var out []Attribute
	for _, at := range g.VisibleAttributes(AudiencePublic) {
		if at.ResultType != "" {
			out = append(out, at)
		}
	}
	return out
}

// ResultType is the Open Badges 3.0 ResultType of a result attribute
// (a grade, a score): how a wallet or verifier reads its value.
type ResultType string

// ResultTypes are the Open Badges 3.0 ResultType values a single attribute
// value can express. The others (PerformanceLevel, the Rubric* types,
// Status) need a rubric, an alignment or a fixed status vocabulary that a
// custom attribute does not have.
var ResultTypes = []ResultType{"LetterGrade", "Percent", "RawScore", "ScaledScore", "GradePointAverage", "PredictedScore", "Result"}

// checkAttributeVisibility normalises a's visibility and result type and
// returns the problem of each, named by field (f is "attributes[i]").
func checkAttributeVisibility(a *Attribute, f string, bad func(field, msg string)) {
	if a.Visibility == "" {
		a.Visibility = VisibilityRecipient
	}
	if !slices.Contains(Visibilities, a.Visibility) {
		bad(f+".visibility", fmt.Sprintf("Visibility %q must be public, recipient or staff.", a.Visibility))
	}
	switch {
	case a.ResultType == "":
	case !slices.Contains(ResultTypes, a.ResultType):
		bad(f+".result_type", fmt.Sprintf("Result type %q must be one of %v, or empty when the attribute is not a result.", a.ResultType, ResultTypes))
	case a.Type == DateAttr:
		bad(f+".result_type", "A date cannot be a result (a grade or a score): make the attribute text or number, or leave its result type empty.")
	}
}

// keepVisibilities gives an attribute of g that names no visibility the
// one it had in old (by key), so a client that does not know visibilities
// cannot make a public attribute private or the reverse; a new one gets
// the default (checkAttributeVisibility).
func keepVisibilities(g *Group, old Group) {
	for i := range g.Attributes {
		a := &g.Attributes[i]
		if a.Visibility != "" {
			continue
		}
		for _, o := range old.Attributes {
			if o.Key == strings.TrimSpace(a.Key) {
				a.Visibility = o.Visibility
			}
		}
	}
}

// signedAttributesChanged reports whether the attributes' visibilities or
// result settings differ between two versions of a group: what the public
// page shows, and the results the signed credential carries, follow them.
func signedAttributesChanged(old, cur Group) bool {
	type sig struct {
		key, label string
		v          Visibility
		rt         ResultType
	}
	view := func(g Group) []sig {
		out := make([]sig, 0, len(g.Attributes))
		for _, a := range g.Attributes {
			s := sig{key: a.Key, v: a.Visibility, rt: a.ResultType}
			if a.ResultType != "" && a.Visibility == VisibilityPublic {
				s.label = a.Label // the signed resultDescription names it
			}
			out = append(out, s)
		}
		return out
	}
	o, c := view(old), view(cur)
	// Attributes added or removed with the default visibility change nothing
	// public; compare by key.
	byKey := func(ss []sig) map[string]sig {
		m := make(map[string]sig, len(ss))
		for _, s := range ss {
			m[s.key] = s
		}
		return m
	}
	om, cm := byKey(o), byKey(c)
	for k, s := range om {
		n, ok := cm[k]
		if (ok && n != s) || (!ok && s.v == VisibilityPublic) {
			return true
		}
	}
	for k, s := range cm {
		if _, ok := om[k]; !ok && s.v == VisibilityPublic {
			return true
		}
	}
	return false
}
