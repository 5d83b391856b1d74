package svgcheck_test

import (
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/issuance/svgcheck"
)

// TestSVGCheck: the probes' hostile SVGs (script and event handlers under
// any prefix or namespace, foreignObject, external references, javascript:
// URLs, entities, style sheets) are refused by the XML check, and ordinary
// SVGs — Inkscape's metadata, gradients, embedded PNGs, a baked credential —
// pass.
func TestSVGCheck(t *testing.T) {
	const ns = `xmlns="http://www.w3.org/2000/svg"`
	const xl = `xmlns:xlink="http://www.w3.org/1999/xlink"`
	ok := []struct{ name, svg string }{
		{"plain", `<svg ` + ns + ` viewBox="0 0 10 10"><circle r="4" cx="5" cy="5"/></svg>`},
		{"no namespace", `<svg width="10" height="10"><rect width="10" height="10"/></svg>`},
		{"xml declaration and doctype", `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg ` + ns + `><!-- drawn by hand --><rect width="1" height="1"/></svg>`},
		{"gradient by fragment", `<svg ` + ns + ` ` + xl + `><defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
<rect fill="url(#g)" style="fill:url('#g');stroke:#000" width="10" height="10"/><use xlink:href="#g"/><use href=" #g"/></svg>`},
		{"embedded png and jpeg", `<svg ` + ns + ` ` + xl + `><image xlink:href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/><image href="data:image/jpeg;base64,/9j/4AAQ" width="1" height="1"/></svg>`},
		{"inkscape metadata", `<svg ` + ns + ` xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:cc="http://creativecommons.org/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/" sodipodi:docname="badge.svg" inkscape:version="1.3">
<sodipodi:namedview id="nv" inkscape:zoom="1"/><metadata><rdf:RDF><cc:Work rdf:about=""><dc:format>image/svg+xml</dc:format><dc:creator>someone@example.edu</dc:creator></cc:Work></rdf:RDF></metadata>
<g inkscape:label="Layer 1" inkscape:groupmode="layer"><path d="M0 0h1v1z" style="opacity:1;fill:#1f3a5f"/></g></svg>`},
		{"prefixed svg root", `<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:rect width="1" height="1"/></svg:svg>`},
		{"style sheet with fragment", `<svg ` + ns + `><style>.a{fill:url(#g)} .b{stroke:red}</style><rect class="a" width="1" height="1"/></svg>`},
		{"animation of a colour", `<svg ` + ns + `><rect width="1" height="1"><animate attributeName="fill" values="red;blue" dur="1s"/></rect></svg>`},
		{"baked credential", `<svg ` + ns + ` xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"><openbadges:credential><![CDATA[{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:uuid:1"}]]></openbadges:credential><rect width="1" height="1"/></svg>`},
	}
	for _, tc := range ok {
		if p := svgcheck.Problem([]byte(tc.svg)); p != "" {
			t.Errorf("%s: refused (%s), want accepted", tc.name, p)
		}
	}
	bad := []struct{ name, svg, want string }{
		{"script", `<svg ` + ns + `><script>alert(1)</script></svg>`, "<script>"},
		{"script without namespace", `<svg><script>alert(1)</script></svg>`, "<script>"},
		{"svg:script prefix", `<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script></svg:svg>`, "<script>"},
		{"other prefix for svg", `<svg ` + ns + ` xmlns:x="http://www.w3.org/2000/svg"><x:script>alert(1)</x:script></svg>`, "<script>"},
		{"html script", `<svg ` + ns + ` xmlns:h="http://www.w3.org/1999/xhtml"><h:script>alert(1)</h:script></svg>`, "<script>"},
		{"script upper case", `<svg ` + ns + `><SCRIPT>alert(1)</SCRIPT></svg>`, "<SCRIPT>"},
		{"script cdata", `<svg ` + ns + `><script type="text/ecmascript"><![CDATA[alert(1)]]></script></svg>`, "<script>"},
		{"handler", `<svg ` + ns + ` xmlns:ev="http://www.w3.org/2001/xml-events"><handler ev:event="load">alert(1)</handler></svg>`, "<handler>"},
		{"onload", `<svg ` + ns + ` onload="alert(1)"></svg>`, "onload"},
		{"onclick on a child", `<svg ` + ns + `><rect width="1" height="1" onclick="alert(1)"/></svg>`, "onclick"},
		{"on* upper case", `<svg ` + ns + `><rect ONMOUSEOVER="alert(1)"/></svg>`, "ONMOUSEOVER"},
		{"namespaced onload", `<svg ` + ns + ` xmlns:svg="http://www.w3.org/2000/svg" svg:onload="alert(1)"></svg>`, "onload"},
		{"foreignObject", `<svg ` + ns + `><foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject></svg>`, "<foreignObject>"},
		{"svg:foreignObject", `<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:foreignObject/></svg:svg>`, "<foreignObject>"},
		{"html iframe", `<svg ` + ns + `><iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example"/></svg>`, "<iframe>"},
		{"html element", `<svg ` + ns + `><p xmlns="http://www.w3.org/1999/xhtml">x</p></svg>`, "HTML <p>"},
		{"external image", `<svg ` + ns + ` ` + xl + `><image xlink:href="https://evil.example/track.png"/></svg>`, "refers to another file"},
		{"external use", `<svg ` + ns + `><use href="https://evil.example/sprite.svg#a"/></svg>`, "refers to another file"},
		{"relative reference", `<svg ` + ns + `><image href="logo.png"/></svg>`, "refers to another file"},
		{"protocol-relative", `<svg ` + ns + `><image href="//evil.example/x.png"/></svg>`, "refers to another file"},
		{"svg data uri", `<svg ` + ns + `><image href="data:image/svg+xml;base64,PHN2Zz4="/></svg>`, "refers to another file"},
		{"html data uri", `<svg ` + ns + ` ` + xl + `><a xlink:href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"><rect/></a></svg>`, "refers to another file"},
		{"javascript link", `<svg ` + ns + ` ` + xl + `><a xlink:href="javascript:alert(1)"><rect/></a></svg>`, "refers to another file"},
		{"javascript obfuscated", `<svg ` + ns + `><a href=" JaVa&#x09;Script:alert(1)"><rect/></a></svg>`, "refers to another file"},
		{"other xlink prefix", `<svg ` + ns + ` xmlns:l="http://www.w3.org/1999/xlink"><a l:href="javascript:alert(1)"><rect/></a></svg>`, "refers to another file"},
		{"javascript in another attribute", `<svg ` + ns + `><rect width="1" height="1" filter="javascript:alert(1)"/></svg>`, "script URL"},
		{"set href", `<svg ` + ns + ` ` + xl + `><a><set attributeName="xlink:href" to="javascript:alert(1)"/><rect/></a></svg>`, "animates"},
		{"animate href", `<svg ` + ns + `><a><animate attributeName="href" values="https://evil.example"/><rect/></a></svg>`, "animates"},
		{"set onclick", `<svg ` + ns + `><rect><set attributeName="onclick" to="x"/></rect></svg>`, "animates"},
		{"css url", `<svg ` + ns + `><rect style="fill:url(https://evil.example/x#g)"/></svg>`, "url("},
		{"presentation url", `<svg ` + ns + `><rect fill="url('https://evil.example/x#g')"/></svg>`, "url("},
		{"style element url", `<svg ` + ns + `><style>rect{background:url("https://evil.example/x.png")}</style></svg>`, "<style>"},
		{"style import", `<svg ` + ns + `><style>@import "https://evil.example/x.css";</style></svg>`, "imports"},
		{"style import split by cdata", `<svg ` + ns + `><style>@imp<![CDATA[ort]]> "https://evil.example/x.css";</style></svg>`, "imports"},
		{"style url split by comment", `<svg ` + ns + `><style>a{fill:ur<!-- -->l(https://evil.example/x)}</style></svg>`, "<style>"},
		{"css escape", `<svg ` + ns + `><style>a{fill:\75 rl(https://evil.example/x)}</style></svg>`, "escapes"},
		{"xml-stylesheet", `<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/x.xsl" type="text/xsl"?><svg ` + ns + `/>`, "xml-stylesheet"},
		{"entity declaration", `<!DOCTYPE svg [<!ENTITY x "&#60;script&#62;alert(1)&#60;/script&#62;">]><svg ` + ns + `>&x;</svg>`, "DOCTYPE"},
		{"unknown entity", `<svg ` + ns + `>&x;</svg>`, "cannot be read as XML"},
		{"not well-formed", `<svg ` + ns + `><rect></svg>`, "cannot be read as XML"},
		{"two roots", `<svg ` + ns + `/><svg ` + ns + `><script>alert(1)</script></svg>`, "more than one root"},
		{"html root", `<html><svg ` + ns + `/></html>`, "root element is <html>"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><svg ` + ns + `/>`, "cannot be read as XML"},
	}
	for _, tc := range bad {
		p := svgcheck.Problem([]byte(tc.svg))
		if p == "" || !strings.Contains(p, tc.want) {
			t.Errorf("%s: %q, want refused naming %q", tc.name, p, tc.want)
		}
	}
}
