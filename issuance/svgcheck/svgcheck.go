// Package svgcheck decides whether an uploaded SVG (a badge image, a
// design or organisation logo) is inert enough to keep and serve: Problem.
// It owns no table and knows nothing of credentials.
package svgcheck

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
)

// SVG images (badge images, design and organisation logos) are checked, not
// rasterised: Laurel keeps the uploaded file byte for byte (it bakes the
// signed credential into it, and recipients and wallets get a vector image)
// and has no SVG renderer. The check reads the file as browsers read
// image/svg+xml — an XML token stream with namespaces resolved, strict, no
// entities but XML's own — so a prefix, a namespace, odd case or an entity
// cannot hide what a text search would look for. It refuses anything that
// can run script or fetch from elsewhere:
//   - script, handler and foreignObject elements, and any XHTML element, in
//     any namespace or prefix (<svg:script> as <script>);
//   - event-handler attributes (on*), in any namespace;
//   - a href or xlink:href (or any *:href) that is not a same-document
//     #fragment or a data:image/png or data:image/jpeg URI, and an animation
//     (set, animate…) that targets an href or on* attribute;
//   - a javascript: (or vbscript:) URL in any attribute, CSS url(…) to
//     anything but #fragment or those data: images, and @import;
//   - a DOCTYPE with an internal subset (entity declarations), processing
//     instructions such as xml-stylesheet, and a second root element.
// Served images are also sandboxed (issuance/public.WriteImage): the check keeps
// them inert where a sandbox does not reach, e.g. an image saved and
// opened elsewhere.

// Problem returns why b is not an SVG Laurel accepts, or "" when it is
// one.
func Problem(b []byte) string {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	// No CharsetReader: a file declaring another encoding than UTF-8 is
	// refused rather than read differently from the browser.
	depth, roots := 0, 0
	var style []bool        // per open element: is it a <style>
	var css strings.Builder // the text of the innermost <style>, whole (CDATA and comments split it)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "it cannot be read as XML (" + shortXMLError(err) + "); export it again as a plain SVG"
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return "it has more than one root element"
				}
				if t.Name.Local != "svg" {
					return "its root element is <" + t.Name.Local + ">, not <svg>"
				}
			}
			if p := svgElementProblem(t); p != "" {
				return p
			}
			depth++
			style = append(style, strings.EqualFold(t.Name.Local, "style"))
			css.Reset()
		case xml.EndElement:
			depth--
			if style[len(style)-1] {
				if p := cssProblem(css.String()); p != "" {
					return "its <style> " + p
				}
			}
			style = style[:len(style)-1]
			css.Reset()
		case xml.CharData:
			if len(style) > 0 && style[len(style)-1] {
				css.Write(t)
			}
		case xml.ProcInst:
			if t.Target != "xml" {
				return "it has a <?" + t.Target + "?> processing instruction (a style sheet or other file it would load)"
			}
		case xml.Directive:
			s := strings.TrimSpace(string(t))
			if !strings.HasPrefix(strings.ToUpper(s), "DOCTYPE") || strings.Contains(s, "[") {
				return "it declares entities or other markup in a DOCTYPE; export it again as a plain SVG"
			}
		}
	}
	if roots == 0 {
		return "it has no <svg> element"
	}
	return ""
}

// svgForbidden are element names (lower-case local names, any namespace)
// that run script or embed another document.
var svgForbidden = map[string]bool{"script": true, "handler": true, "listener": true, "foreignobject": true,
	"iframe": true, "embed": true, "object": true, "frame": true, "frameset": true, "applet": true, "base": true}

// svgAnimations can set another attribute's value (attributeName).
var svgAnimations = map[string]bool{"set": true, "animate": true, "animatecolor": true, "animatemotion": true, "animatetransform": true}

const xhtmlNS = "http://www.w3.org/1999/xhtml"

func svgElementProblem(t xml.StartElement) string {
	local := strings.ToLower(t.Name.Local)
	if svgForbidden[local] {
		return "it has a <" + t.Name.Local + "> element"
	}
	if t.Name.Space == xhtmlNS {
		return "it has an HTML <" + t.Name.Local + "> element"
	}
	for _, a := range t.Attr {
		name := strings.ToLower(a.Name.Local)
		switch {
		case a.Name.Space == "xmlns" || (a.Name.Space == "" && name == "xmlns"):
			continue // a namespace declaration, not a reference
		case strings.HasPrefix(name, "on"):
			return "its <" + t.Name.Local + "> has an event handler (" + a.Name.Local + ")"
		case name == "href" || name == "src":
			if !localURL(a.Value) {
				return "its <" + t.Name.Local + "> refers to another file or URL (" + a.Name.Local + "); only #fragments and embedded PNG or JPEG images are allowed"
			}
		case svgAnimations[local] && name == "attributename":
			target := strings.ToLower(a.Value)
			if i := strings.LastIndexByte(target, ':'); i >= 0 {
				target = target[i+1:]
			}
			if target == "href" || strings.HasPrefix(target, "on") {
				return "its <" + t.Name.Local + "> animates " + a.Value
			}
		}
		if scriptURL(a.Value) {
			return "its <" + t.Name.Local + "> has a script URL in " + a.Name.Local
		}
		if strings.Contains(strings.ToLower(a.Value), "url(") || strings.Contains(a.Value, "@") {
			if p := cssProblem(a.Value); p != "" {
				return "its <" + t.Name.Local + "> " + a.Name.Local + " " + p
			}
		}
	}
	return ""
}

// squeeze drops what browsers ignore inside a URL (ASCII whitespace and
// controls) and lower-cases it, so "java\tscript:" reads as "javascript:".
func squeeze(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s))
}

func scriptURL(v string) bool {
	s := squeeze(v)
	return strings.Contains(s, "javascript:") || strings.Contains(s, "vbscript:") || strings.Contains(s, "livescript:")
}

// localURL reports whether a reference stays inside the image: a
// same-document #fragment, or an embedded PNG or JPEG.
func localURL(v string) bool {
	s := squeeze(v)
	return strings.HasPrefix(s, "#") || strings.HasPrefix(s, "data:image/png;") || strings.HasPrefix(s, "data:image/png,") ||
		strings.HasPrefix(s, "data:image/jpeg;") || strings.HasPrefix(s, "data:image/jpeg,")
}

var cssURL = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*))\s*\)`)

// cssProblem returns what in CSS text loads from elsewhere, or "".
func cssProblem(css string) string {
	if strings.Contains(css, `\`) {
		return "uses CSS escapes, which could hide a URL"
	}
	if strings.Contains(strings.ToLower(css), "@import") {
		return "imports another style sheet"
	}
	for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
		if u := m[1] + m[2] + m[3]; !localURL(u) {
			return "refers to another file or URL (url(…)); only #fragments and embedded PNG or JPEG images are allowed"
		}
	}
	if strings.Contains(strings.ToLower(css), "url(") && cssURL.FindAllStringSubmatchIndex(css, -1) == nil {
		return "has a url( that cannot be read"
	}
	return ""
}

// shortXMLError is the parser's complaint without its "XML syntax error"
// prefix.
func shortXMLError(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Msg
	}
	return "not XML"
}
