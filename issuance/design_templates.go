package issuance

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// Layout is how a design draws a credential: for a certificate, the page's
// arrangement and typefaces (the web certificate and the PDF follow it
// alike); for a badge, the shape of the image its template drew.
type Layout string

// Layouts.
const (
	LayoutClassic Layout = "classic" // certificate: serif, double border (the look before layouts)
	LayoutModern  Layout = "modern"  // certificate: sans, a colour band across the top
	LayoutMinimal Layout = "minimal" // certificate: no frame, a thin rule, much white
	LayoutShield  Layout = "shield"  // badge: a shield
	LayoutMedal   Layout = "medal"   // badge: a round medal
	LayoutRibbon  Layout = "ribbon"  // badge: a rosette with ribbon tails
)

// Layouts lists the layouts of a design kind, the default first.
func Layouts(k DesignKind) []Layout {
	if k == Badge {
		return []Layout{LayoutShield, LayoutMedal, LayoutRibbon}
	}
	return []Layout{LayoutClassic, LayoutModern, LayoutMinimal}
}

// ImageSlots are the places a certificate may draw an image attribute, in
// the order they sit on the page (bottom left, centre, right).
var ImageSlots = []string{"left", "centre", "right"}

// slotsJSON is the stored form of a design's image slots.
func slotsJSON(m map[string]string) []byte {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return b
}

// checkLayout normalises d's layout and image slots and returns their
// problems.
func checkLayout(d *Design) []apperr.FieldError {
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	ls := Layouts(d.Kind)
	if d.Layout == "" {
		d.Layout = ls[0]
	}
	if !slices.Contains(ls, d.Layout) {
		names := make([]string, len(ls))
		for i, l := range ls {
			names[i] = l.Label()
		}
		bad("layout", fmt.Sprintf("A %s's layout must be one of %s.", d.Kind, strings.Join(names, ", ")))
	}
	slots := map[string]string{}
	used := map[string]bool{}
	for slot, key := range d.ImageSlots {
		key = strings.TrimSpace(key)
		switch {
		case key == "":
			continue
		case !slices.Contains(ImageSlots, slot):
			bad("image_slots", fmt.Sprintf("%q is not a place on the certificate (left, centre or right).", slot))
		case !attributeKeyRE.MatchString(key):
			bad("image_slots", fmt.Sprintf("%q is not an attribute key.", key))
		case used[key]:
			bad("image_slots", fmt.Sprintf("The image attribute %q is placed twice.", key))
		case d.Kind != Certificate:
			bad("image_slots", "Only a certificate places image attributes.")
		}
		used[key] = true
		slots[slot] = key
	}
	d.ImageSlots = slots
	return fe
}

// Label is how pages name the layout.
func (l Layout) Label() string {
	for _, t := range designTemplates {
		if t.Layout == l {
			return t.Name
		}
	}
	return string(l)
}

// DesignTemplate is a starting point for a new design: "Create Badge
// Design" and "Create Certificate Design" begin by choosing one, which
// fills the form (the user then edits it).
type DesignTemplate struct {
	Layout      Layout
	Kind        DesignKind
	Name        string // e.g. "Classic"
	Description string // one sentence for the gallery
	Title       string
	Primary     string
	Secondary   string
	Printed     []string
}

var designTemplates = []DesignTemplate{
	{Layout: LayoutClassic, Kind: Certificate, Name: "Classic", Description: "Serif lettering inside a double border, for formal certificates.",
		Title: "Certificate of Completion", Primary: "#1f3a5f", Secondary: "#c9a227", Printed: []string{"recipient_name", "course_name", "issued_on"}},
	{Layout: LayoutModern, Kind: Certificate, Name: "Modern", Description: "Clean sans-serif lettering under a band of colour.",
		Title: "Certificate of Achievement", Primary: "#0f4c5c", Secondary: "#e36414", Printed: []string{"recipient_name", "issued_on", "credential_id"}},
	{Layout: LayoutMinimal, Kind: Certificate, Name: "Minimal", Description: "No frame, a thin accent rule and plenty of white space.",
		Title: "Certificate", Primary: "#222831", Secondary: "#b08968", Printed: []string{"recipient_name", "issued_on"}},
	{Layout: LayoutShield, Kind: Badge, Name: "Shield", Description: "A shield with a star, bordered in the second colour.",
		Primary: "#1f3a5f", Secondary: "#c9a227"},
	{Layout: LayoutMedal, Kind: Badge, Name: "Medal", Description: "A round medal with a scalloped rim and a laurel wreath.",
		Primary: "#7a1f2b", Secondary: "#d4a017"},
	{Layout: LayoutRibbon, Kind: Badge, Name: "Ribbon", Description: "A rosette with two ribbon tails.",
		Primary: "#14532d", Secondary: "#f2c14e"},
}

// DesignTemplates lists the templates of kind k, the default first.
func DesignTemplates(k DesignKind) []DesignTemplate {
	var out []DesignTemplate
	for _, t := range designTemplates {
		if t.Kind == k {
			out = append(out, t)
		}
	}
	return out
}

// TemplateFor returns the template of layout l, or false.
func TemplateFor(l Layout) (DesignTemplate, bool) {
	for _, t := range designTemplates {
		if t.Layout == l {
			return t, true
		}
	}
	return DesignTemplate{}, false
}

// Design is the new design the template fills in (no name yet); a badge
// gets the template's image drawn in the template's colours.
func (t DesignTemplate) Design() Design {
	d := Design{Kind: t.Kind, Layout: t.Layout, Title: t.Title, PrimaryColor: t.Primary, SecondaryColor: t.Secondary,
		PrintedAttributes: slices.Clone(t.Printed), ImageSlots: map[string]string{}}
	if t.Kind == Badge {
		d.Image, d.ImageType = BadgeSVG(t.Layout, t.Primary, t.Secondary), "image/svg+xml"
	}
	return d
}

// BadgeSVG draws the badge image of a badge layout in the given colours
// (#rrggbb; others fall back to the template's): plain shapes only, no
// text, script or reference, so svgcheck accepts it and svgraster draws it.
func BadgeSVG(l Layout, primary, secondary string) []byte {
	t, ok := TemplateFor(l)
	if !ok || t.Kind != Badge {
		t, _ = TemplateFor(LayoutShield)
	}
	if !ValidColor(primary) {
		primary = t.Primary
	}
	if !ValidColor(secondary) {
		secondary = t.Secondary
	}
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 240" width="480" height="480">`)
	switch t.Layout {
	case LayoutMedal:
		// A scalloped rim: 24 discs round the edge, then the medal.
		for i := range 24 {
			a := float64(i) * 2 * math.Pi / 24
			fmt.Fprintf(&b, `<circle cx="%.2f" cy="%.2f" r="14" fill="%s"/>`, 120+100*math.Cos(a), 120+100*math.Sin(a), secondary)
		}
		fmt.Fprintf(&b, `<circle cx="120" cy="120" r="100" fill="%s"/>`, secondary)
		fmt.Fprintf(&b, `<circle cx="120" cy="120" r="88" fill="%s"/>`, primary)
		b.WriteString(`<circle cx="120" cy="120" r="80" fill="none" stroke="#ffffff" stroke-opacity="0.6" stroke-width="2"/>`)
		wreath(&b, 120, 120, 62, secondary)
		fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`, star(120, 116, 30, 12.5), secondary)
	case LayoutRibbon:
		// Two tails behind a rosette.
		fmt.Fprintf(&b, `<path d="M78 140 L52 232 L78 214 L96 236 L112 150 Z" fill="%s"/>`, primary)
		fmt.Fprintf(&b, `<path d="M162 140 L188 232 L162 214 L144 236 L128 150 Z" fill="%s"/>`, primary)
		fmt.Fprintf(&b, `<path d="M78 140 L66 184 L84 172 Z" fill="#000000" fill-opacity="0.18"/>`)
		fmt.Fprintf(&b, `<path d="M162 140 L174 184 L156 172 Z" fill="#000000" fill-opacity="0.18"/>`)
		// Rosette petals.
		for i := range 16 {
			a := float64(i) * 2 * math.Pi / 16
			fmt.Fprintf(&b, `<ellipse cx="%.2f" cy="%.2f" rx="18" ry="11" transform="rotate(%.1f %.2f %.2f)" fill="%s"/>`,
				120+72*math.Cos(a), 100+72*math.Sin(a), a*180/math.Pi, 120+72*math.Cos(a), 100+72*math.Sin(a), secondary)
		}
		fmt.Fprintf(&b, `<circle cx="120" cy="100" r="74" fill="%s"/>`, secondary)
		fmt.Fprintf(&b, `<circle cx="120" cy="100" r="62" fill="%s"/>`, primary)
		b.WriteString(`<circle cx="120" cy="100" r="55" fill="none" stroke="#ffffff" stroke-opacity="0.7" stroke-width="2" stroke-dasharray="4 4"/>`)
		fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`, star(120, 102, 34, 14), secondary)
	default: // shield
		const shield = "M120 8 L220 40 L220 112 C220 172 178 212 120 234 C62 212 20 172 20 112 L20 40 Z"
		const inner = "M120 24 L206 52 L206 112 C206 162 170 196 120 216 C70 196 34 162 34 112 L34 52 Z"
		fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`, shield, secondary)
		fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`, inner, primary)
		fmt.Fprintf(&b, `<path d="M34 84 L206 84 L206 100 L34 100 Z" fill="%s" fill-opacity="0.9"/>`, secondary)
		fmt.Fprintf(&b, `<path d="%s" fill="#ffffff"/>`, star(120, 148, 40, 16))
		fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`, star(120, 52, 14, 6), secondary)
	}
	b.WriteString(`</svg>`)
	return []byte(b.String())
}

// star is the path of a five-pointed star centred on (cx, cy).
func star(cx, cy, outer, inner float64) string {
	var b strings.Builder
	for i := range 10 {
		r := outer
		if i%2 == 1 {
			r = inner
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%.2f %.2f ", cmd, cx+r*math.Cos(a), cy+r*math.Sin(a))
	}
	b.WriteString("Z")
	return b.String()
}

// wreath draws two branches of laurel leaves round (cx, cy), open at the top.
func wreath(b *strings.Builder, cx, cy, r float64, fill string) {
	for side := -1.0; side <= 1; side += 2 {
		for i := range 9 {
			// From the bottom (90°) up each side to about 25° below the top.
			deg := 90 + side*(float64(i)*17+8)
			a := deg * math.Pi / 180
			x, y := cx+r*math.Cos(a), cy+r*math.Sin(a)
			fmt.Fprintf(b, `<ellipse cx="%.2f" cy="%.2f" rx="9" ry="4" transform="rotate(%.1f %.2f %.2f)" fill="%s"/>`,
				x, y, deg+90+side*35, x, y, fill)
		}
	}
}
