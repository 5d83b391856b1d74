// Package certpdf draws a certificate design as a one-page PDF (A4,
// landscape) with the recipient's data. Fonts are embedded (subset to the
// glyphs used): DejaVu Sans for Latin, Greek, Cyrillic, Hebrew and Arabic,
// Droid Sans Fallback for Chinese, Japanese and Korean; Arabic is shaped and
// right-to-left text reordered before drawing (see shape.go). The package
// knows nothing of the database: the caller fills a Certificate.
package certpdf

import (
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/sfnt"
	"rsc.io/qr"

	"github.com/laurel-edu/laurel/issuance/svgraster"
)

// The fonts ship with the binary; their licences (Bitstream Vera for
// DejaVu, Apache 2.0 for Droid) allow embedding and are in fonts/.
var (
	// SansTTF is DejaVu Sans, the certificate's text face (served to the
	// web certificate too).
	//go:embed fonts/DejaVuSans.ttf
	SansTTF []byte
	//go:embed fonts/DroidSansFallback.ttf
	droidFallback []byte
	// SerifTTF is DejaVu Serif, the certificate's face for its title and
	// the recipient's name; the web certificate loads the same file, so
	// page and PDF look alike.
	//go:embed fonts/DejaVuSerif.ttf
	SerifTTF []byte
)

// Certificate is what one certificate PDF shows.
type Certificate struct {
	Title       string // the design's heading; "" → "Certificate"
	Recipient   string
	Achievement string // the group's name
	Course      string // the course name ("" or equal to Achievement: not repeated)
	Issuer      string
	IssuedOn    string // formatted for people
	ExpiresOn   string // "" when it never expires
	Fields      []Field
	// CredentialID and URL let a reader verify the certificate.
	CredentialID, URL string
	// Primary and Secondary are the design's colours, "#rrggbb".
	Primary, Secondary string
	// Logo is a PNG, JPEG or SVG drawn at the top (LogoType its MIME type).
	Logo     []byte
	LogoType string
	// Created is the document's creation date in its metadata.
	Created time.Time
	// Layout is the design's layout: "classic" (or ""), "modern" or
	// "minimal"; the web certificate follows the same one.
	Layout string
	// Slots are the image attributes placed along the bottom (a
	// signature, say), each over a line with its caption.
	Slots []Slot
}

// Slot is one placed image: Position "left", "centre" or "right", the
// image (PNG, JPEG or SVG, Type its MIME type) and its caption.
type Slot struct {
	Position, Caption string
	Image             []byte
	Type              string
}

// Field is one printed attribute.
type Field struct{ Label, Value string }

// font is one embedded font: its family name in the PDF, its bytes and,
// parsed once, its character map for choosing a font per character.
type font struct {
	family string
	data   []byte
	once   sync.Once
	sfnt   *sfnt.Font
	buf    sfnt.Buffer
	mu     sync.Mutex
	err    error
}

// fonts in order of preference: the first that has a glyph draws a
// character. The serif face comes first where a text is set in it (title,
// name) and it has the glyph; see fontFor.
var fonts = []*font{{family: "dejavu", data: SansTTF}, {family: "droid", data: droidFallback}, {family: "dejavuserif", data: SerifTTF}}

// serifFont is the index of DejaVu Serif in fonts.
const serifFont = 2

func (f *font) has(r rune) bool {
	f.once.Do(func() { f.sfnt, f.err = sfnt.Parse(f.data) })
	if f.err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.sfnt.GlyphIndex(&f.buf, r)
	return err == nil && i != 0
}

// fontFor returns the index in fonts of the font that draws r (0, the main
// font, when none has it: it then shows its "missing glyph" box); in a serif
// text, DejaVu Serif when it has r.
func fontFor(r rune, serif bool) int {
	if serif && fonts[serifFont].has(r) {
		return serifFont
	}
	if r < 0x2E80 { // below CJK everything we draw is in the main font
		return 0
	}
	for i, f := range fonts[:serifFont] {
		if f.has(r) {
			return i
		}
	}
	return 0
}

// Covered reports whether the embedded fonts have a glyph for every
// character of s (spaces and controls aside). It says nothing about shaping:
// see shape.go for the scripts drawn correctly.
func Covered(s string) bool {
	for _, r := range s {
		if r > ' ' && !fonts[fontFor(r, false)].has(r) {
			return false
		}
	}
	return true
}

// UncoveredError says a certificate holds characters the embedded fonts
// cannot draw (Devanagari, Thai, Ethiopic...): Render refuses rather than
// print empty boxes where a name should be.
type UncoveredError struct{ Runes []rune }

func (e *UncoveredError) Error() string {
	return fmt.Sprintf("certpdf: no font for %q", string(e.Runes))
}

// texts lists everything the certificate prints.
func (c Certificate) texts() []string {
	out := []string{c.Title, c.Recipient, c.Achievement, c.Course, c.Issuer, c.IssuedOn, c.ExpiresOn, c.CredentialID, c.URL}
	for _, f := range c.Fields {
		out = append(out, f.Label, f.Value)
	}
	for _, sl := range c.Slots {
		out = append(out, sl.Caption)
	}
	return out
}

// Uncovered returns the distinct characters of c that no embedded font has.
func (c Certificate) Uncovered() []rune {
	var out []rune
	seen := map[rune]bool{}
	for _, s := range c.texts() {
		for _, r := range s {
			if r > ' ' && !seen[r] && !fonts[fontFor(r, false)].has(r) {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// run is a stretch of text drawn in one font.
type run struct {
	font int
	text string
}

// runs splits s (already in visual order) by font, the serif face first
// when serif.
func runs(s string, serif bool) []run {
	var out []run
	for _, r := range s {
		fi := fontFor(r, serif)
		if r == ' ' && len(out) > 0 {
			fi = out[len(out)-1].font // spaces stay in the run they are in
		}
		if len(out) > 0 && out[len(out)-1].font == fi {
			out[len(out)-1].text += string(r)
			continue
		}
		out = append(out, run{fi, string(r)})
	}
	return out
}

type rgb struct{ r, g, b int }

func color(hex string, def rgb) rgb {
	if len(hex) != 7 || hex[0] != '#' {
		return def
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return def
	}
	return rgb{int(v >> 16), int(v >> 8 & 0xff), int(v & 0xff)}
}

// page is a document being drawn.
type page struct {
	pdf   *fpdf.Fpdf
	added []bool // fonts added to this document
	serif bool   // texts are set in the serif face (title, name)
	dry   bool   // lay out without drawing (to measure)
}

const (
	pageW, pageH = 297.0, 210.0 // A4 landscape, mm
	margin       = 22.0         // text stays inside the frame
)

// setFont selects font fi at size pt, embedding it on first use.
func (p *page) setFont(fi int, size float64) {
	if !p.added[fi] {
		p.pdf.AddUTF8FontFromBytes(fonts[fi].family, "", fonts[fi].data)
		p.added[fi] = true
	}
	p.pdf.SetFont(fonts[fi].family, "", size)
}

// width is the drawn width of s at size pt, in mm.
func (p *page) width(rs []run, size float64) float64 {
	var w float64
	for _, r := range rs {
		p.setFont(r.font, size)
		w += p.pdf.GetStringWidth(r.text)
	}
	return w
}

// centred draws s centred on the page with its baseline at y, shrinking the
// size (down to minSize) until it fits between the margins. It returns the
// drawn width.
func (p *page) centred(s string, y, size, minSize float64, c rgb) float64 {
	return p.centredAt(s, pageW/2, y, pageW-2*margin, size, minSize, c)
}

// centredAt draws s centred on cx, shrunk to fit width w.
func (p *page) centredAt(s string, cx, y, w, size, minSize float64, c rgb) float64 {
	rs := runs(visual(s), p.serif)
	tw := p.width(rs, size)
	for tw > w && size > minSize {
		size = max(minSize, size*0.9)
		tw = p.width(rs, size)
	}
	if p.dry {
		return tw
	}
	p.pdf.SetTextColor(c.r, c.g, c.b)
	x := cx - tw/2
	for _, r := range rs {
		p.setFont(r.font, size)
		p.pdf.Text(x, y, r.text)
		x += p.pdf.GetStringWidth(r.text)
	}
	return tw
}

// lines draws s centred from baseline y: at size when it fits, else shrunk
// down to minSize, else wrapped (between words, or between characters in
// text without spaces) onto at most maxLines lines at minSize, each line
// shaped and reordered on its own. It returns the last line's baseline and
// the widest line's width.
func (p *page) lines(s string, y, size, minSize float64, maxLines int, c rgb) (last, width float64) {
	maxW := pageW - 2*margin
	fits := func(t string, sz float64) bool { return p.width(runs(visual(t), p.serif), sz) <= maxW }
	for size > minSize && !fits(s, size) {
		size = max(minSize, size*0.9)
	}
	var ls []string
	if fits(s, size) {
		ls = []string{s}
	} else {
		ls = wrap(s, func(t string) bool { return fits(t, size) })
	}
	if len(ls) > maxLines {
		ls = ls[:maxLines]
		ls[maxLines-1] += "…"
	}
	gap := size * 0.45 // mm between baselines (size is in points)
	for i, l := range ls {
		last = y + float64(i)*gap
		width = max(width, p.centredAt(l, pageW/2, last, maxW, size, size, c))
	}
	return last, width
}

// wrap splits s greedily into lines that fit.
func wrap(s string, fits func(string) bool) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		cand := w
		if line != "" {
			cand = line + " " + w
		}
		if fits(cand) {
			line = cand
			continue
		}
		if line != "" {
			out = append(out, line)
		}
		// A word too wide on its own (or CJK text without spaces) breaks
		// between characters.
		line = ""
		for _, r := range w {
			if line != "" && !fits(line+string(r)) {
				out = append(out, line)
				line = ""
			}
			line += string(r)
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// Render draws c, or returns an *UncoveredError when c holds characters no
// embedded font has. The result is deterministic for a given c (fixed
// metadata dates, no random IDs), which lets callers cache it.
func Render(c Certificate) ([]byte, error) {
	if u := c.Uncovered(); len(u) > 0 {
		return nil, &UncoveredError{u}
	}
	st := styleOf(c)
	p := newPage(c)
	pdf := p.pdf
	// The body is laid out twice: once without drawing to measure its
	// height, then drawn centred between the top of its area and the
	// slots or footer, so the page is filled as the web certificate's box
	// is, whatever the name's and fields' lengths.
	logo := imageOf(c.Logo, c.LogoType)
	p.dry = true
	height := p.body(c, logo, 0, st)
	p.dry = false
	top, bottom := st.top, pageH-46 // the footer below
	if len(c.Slots) > 0 {
		bottom = slotsTop - 4
	}
	y0 := top + max(0, (bottom-top-height)/2)

	st.frame(p, c, logo)
	p.body(c, logo, y0, st)
	p.slots(c.Slots, st)

	// A QR code of the verification page, bottom right inside the frame;
	// the footer stays clear of it.
	const qrSide = 24.0
	if code, err := qr.Encode(c.URL, qr.M); c.URL != "" && err == nil {
		pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(code.PNG()))
		pdf.ImageOptions("qr", pageW-20-qrSide, pageH-20-qrSide, qrSide, qrSide, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	}
	footerW := pageW - 2*(20+qrSide+4)
	footer := "Issued by " + c.Issuer + " · " + c.IssuedOn
	if c.ExpiresOn != "" {
		footer += " · Expires " + c.ExpiresOn
	}
	p.centredAt(footer, pageW/2, pageH-34, footerW, 10, 7, st.muted)
	p.centredAt("Credential ID "+c.CredentialID, pageW/2, pageH-28, footerW, 9, 6, st.muted)
	p.centredAt("Verify at "+c.URL, pageW/2, pageH-23, footerW, 9, 6, st.muted)

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("render certificate %s: %w", c.CredentialID, err)
	}
	return out.Bytes(), nil
}

// style is what a layout changes: colours, faces, sizes and where the body
// starts. The web certificate's CSS (issuance/public, _credential_design.html)
// mirrors each layout.
type style struct {
	layout                    string
	primary, secondary        rgb
	ink, muted                rgb
	top                       float64 // where the body's area starts, mm
	serifTitle, serifName     bool
	titleSize, nameSize       float64
	titleInBody, underlineAll bool // the title is part of the centred body; the name's rule spans it
}

func styleOf(c Certificate) style {
	st := style{layout: c.Layout, primary: color(c.Primary, rgb{0x1f, 0x3a, 0x5f}), secondary: color(c.Secondary, rgb{0xc9, 0xa2, 0x27}),
		ink: rgb{0x1d, 0x27, 0x33}, muted: rgb{0x5b, 0x68, 0x75}, top: 22, serifTitle: true, serifName: true,
		titleSize: 32, nameSize: 32, titleInBody: true, underlineAll: true}
	switch c.Layout {
	case "modern":
		// Sans throughout; the title sits in a band of the primary colour.
		st.serifTitle, st.serifName, st.titleInBody, st.top, st.nameSize = false, false, false, bandH+8, 34
	case "minimal":
		// No frame: a short accent rule over a small sans title, a large
		// serif name with a short rule under it.
		st.serifTitle, st.titleSize, st.nameSize, st.underlineAll, st.top = false, 20, 38, false, 20
	}
	return st
}

// bandH is the height of the modern layout's colour band, mm.
const bandH = 46.0

// frame draws what surrounds the body: the classic double border, the
// modern band with its title, or the minimal accent rule.
func (st style) frame(p *page, c Certificate, logo *image) {
	pdf := p.pdf
	switch st.layout {
	case "modern":
		pdf.SetFillColor(st.primary.r, st.primary.g, st.primary.b)
		pdf.Rect(0, 0, pageW, bandH, "F")
		pdf.SetFillColor(st.secondary.r, st.secondary.g, st.secondary.b)
		pdf.Rect(0, bandH, pageW, 2.5, "F")
		pdf.Rect(0, pageH-4, pageW, 4, "F")
		titleW := pageW - 2*margin
		if logo != nil {
			// The logo sits on a white tile at the band's left; the title
			// keeps clear of it on both sides, so it stays centred.
			pdf.SetFillColor(0xff, 0xff, 0xff)
			pdf.RoundedRect(margin, 8, 30, 30, 2, "1234", "F")
			p.placeImage("logo", logo, margin+15, 23, 26, 26)
			titleW = pageW - 2*(margin+34)
		}
		p.serif = false
		p.centredAt(titleOf(c), pageW/2, bandH/2+4, titleW, st.titleSize, 16, rgb{0xff, 0xff, 0xff})
	case "minimal":
		pdf.SetDrawColor(0xd9, 0xdd, 0xe2)
		pdf.SetLineWidth(0.3)
		pdf.Rect(10, 10, pageW-20, pageH-20, "D")
	default:
		// The frame: a wide border in the primary colour, a thin one inside.
		pdf.SetDrawColor(st.primary.r, st.primary.g, st.primary.b)
		pdf.SetLineWidth(4)
		pdf.Rect(8, 8, pageW-16, pageH-16, "D")
		pdf.SetDrawColor(st.secondary.r, st.secondary.g, st.secondary.b)
		pdf.SetLineWidth(0.8)
		pdf.Rect(14, 14, pageW-28, pageH-28, "D")
	}
}

// placeImage draws an image (registered under name on first use) centred
// on (cx, cy), fitted inside w×h; an unreadable image is left out.
func (p *page) placeImage(name string, img *image, cx, cy, w, h float64) {
	pdf := p.pdf
	info := pdf.GetImageInfo(name)
	if info == nil {
		info = pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: img.typ}, bytes.NewReader(img.data))
	}
	if !pdf.Ok() || info == nil || info.Height() <= 0 {
		pdf.ClearError()
		return
	}
	iw, ih := info.Width()/info.Height()*h, h
	if iw > w {
		iw, ih = w, w*info.Height()/info.Width()
	}
	pdf.ImageOptions(name, cx-iw/2, cy-ih/2, iw, ih, false, fpdf.ImageOptions{ImageType: img.typ}, 0, "")
}

// titleOf is the certificate's heading.
func titleOf(c Certificate) string {
	if strings.TrimSpace(c.Title) == "" {
		return "Certificate"
	}
	return c.Title
}

// slotsTop is where the slots' row starts, mm; the footer is below it.
const slotsTop = pageH - 72

// slots draws each placed image over a line with its caption, in its third
// of the page's width.
func (p *page) slots(ss []Slot, st style) {
	pdf := p.pdf
	for i, sl := range ss {
		cx := slotX(sl.Position)
		const w, h = 56.0, 16.0
		if img := imageOf(sl.Image, sl.Type); img != nil {
			name := fmt.Sprintf("slot%d", i)
			info := pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: img.typ}, bytes.NewReader(img.data))
			if pdf.Ok() && info != nil && info.Height() > 0 {
				iw, ih := info.Width()/info.Height()*h, h
				if iw > w {
					iw, ih = w, w*info.Height()/info.Width()
				}
				pdf.ImageOptions(name, cx-iw/2, slotsTop+h-ih, iw, ih, false, fpdf.ImageOptions{ImageType: img.typ}, 0, "")
			} else {
				pdf.ClearError() // an unreadable image is left out, not fatal
			}
		}
		pdf.SetDrawColor(st.muted.r, st.muted.g, st.muted.b)
		pdf.SetLineWidth(0.3)
		pdf.Line(cx-w/2, slotsTop+h+1.5, cx+w/2, slotsTop+h+1.5)
		p.serif = false
		p.centredAt(sl.Caption, cx, slotsTop+h+6.5, w, 9, 6, st.muted)
	}
}

// slotX is the centre of a slot's third of the width between the margins
// (the web certificate's three grid columns).
func slotX(pos string) float64 {
	third := (pageW - 2*margin) / 3
	switch pos {
	case "left":
		return margin + third/2
	case "right":
		return pageW - margin - third/2
	}
	return pageW / 2
}

// newPage starts c's one-page document.
func newPage(c Certificate) *page {
	pdf := fpdf.New("L", "mm", "A4", "")
	// Images and fonts in a fixed order (fpdf keeps them in maps): the same
	// certificate gives the same bytes, so it can be cached.
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(c.Created)
	pdf.SetModificationDate(c.Created)
	pdf.SetTitle(c.Recipient+" · "+c.Achievement, true)
	pdf.SetAuthor(c.Issuer, true)
	pdf.SetCreator("Laurel", true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddPage()
	return &page{pdf: pdf, added: make([]bool, len(fonts))}
}

// image is a picture ready for fpdf: its bytes and fpdf's type.
type image struct {
	data []byte
	typ  string
}

// imageOf is a picture as fpdf draws it: PNG and JPEG as they are, SVG
// drawn as a PNG (svgraster); nil when there is none or it cannot be drawn.
func imageOf(b []byte, typ string) *image {
	if len(b) == 0 {
		return nil
	}
	if typ == "image/svg+xml" {
		png, err := svgraster.PNG(b, 800)
		if err != nil {
			return nil // an undrawable image is left out, not fatal
		}
		return &image{png, "PNG"}
	}
	if t := logoType(typ); t != "" {
		return &image{b, t}
	}
	return nil
}

// body draws the logo, title, name, achievement and fields from y and
// returns the height they took.
func (p *page) body(c Certificate, logo *image, y float64, st style) float64 {
	pdf := p.pdf
	start := y
	if logo != nil && st.layout != "modern" { // modern draws it in its band
		info := pdf.GetImageInfo("logo")
		if info == nil {
			info = pdf.RegisterImageOptionsReader("logo", fpdf.ImageOptions{ImageType: logo.typ}, bytes.NewReader(logo.data))
		}
		if pdf.Ok() && info != nil {
			h := 22.0
			w := info.Width() / info.Height() * h
			if w > 90 {
				w, h = 90, 90*info.Height()/info.Width()
			}
			if !p.dry {
				pdf.ImageOptions("logo", (pageW-w)/2, y, w, h, false, fpdf.ImageOptions{ImageType: logo.typ}, 0, "")
			}
			y += h + 6
		} else {
			pdf.ClearError() // an unreadable logo is left out, not fatal
		}
	}
	if st.titleInBody {
		if st.layout == "minimal" && !p.dry {
			pdf.SetFillColor(st.secondary.r, st.secondary.g, st.secondary.b)
			pdf.Rect(pageW/2-15, y-3, 30, 1.2, "F")
		}
		p.serif = st.serifTitle
		p.centred(titleOf(c), y+5+st.titleSize*0.19, st.titleSize, 16, st.primary)
		y += (st.titleSize - 32) * 0.19 // the lines below were placed for a 32 pt title
	} else {
		y -= 20 // no title: the lead line comes first
	}
	p.serif = false
	p.centred("This certifies that", y+26, 13, 10, st.muted)
	p.serif = st.serifName
	nameY, w := p.lines(c.Recipient, y+44, st.nameSize, 14, 4, st.ink)
	p.serif = false
	if !p.dry {
		pdf.SetDrawColor(st.secondary.r, st.secondary.g, st.secondary.b)
		pdf.SetLineWidth(0.6)
		lw := min(pageW-2*margin, max(w+20, 90))
		if !st.underlineAll {
			lw = 30
		}
		pdf.Line((pageW-lw)/2, nameY+4, (pageW+lw)/2, nameY+4)
	}

	earned := "has earned " + c.Achievement
	if c.Course != "" && c.Course != c.Achievement {
		earned += " for completing " + c.Course
	}
	last, _ := p.lines(earned+".", nameY+16, 14, 11, 4, st.ink)

	// Printed attributes: label over value, side by side.
	if len(c.Fields) > 0 {
		fy := last + 16
		colW := (pageW - 2*margin) / float64(len(c.Fields))
		for i, f := range c.Fields {
			cx := margin + colW*(float64(i)+0.5)
			p.centredAt(f.Label, cx, fy, colW-4, 9, 6, st.muted)
			p.centredAt(f.Value, cx, fy+6, colW-4, 12, 6, st.ink)
		}
		last = fy + 6
	}
	return last + 2 - start
}

// logoType maps a MIME type to fpdf's image type ("" when it cannot draw it).
func logoType(mime string) string {
	switch mime {
	case "image/png":
		return "PNG"
	case "image/jpeg":
		return "JPG"
	}
	return ""
}
