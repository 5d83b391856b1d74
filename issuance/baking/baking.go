// Package baking embeds ("bakes") an Open Badges 3.0 credential into a badge
// image, as the specification's "Baked Badge" section defines: a PNG iTXt
// chunk with keyword openbadgecredential, or an <openbadges:credential>
// element in an SVG. Laurel bakes the JSON form of the credential with its
// embedded proof (the spec's "embedded proof" case), so the baked text is
// byte for byte what /c/:id.json serves. It owns no table.
package baking

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
)

// Keyword is the PNG iTXt keyword of an Open Badges 3.0 credential.
const Keyword = "openbadgecredential"

// Namespace is the XML namespace of the SVG <openbadges:credential> element.
const Namespace = "https://purl.imsglobal.org/ob/v3p0"

var pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// ErrNotPNG and ErrNotSVG say the image is not one the function can bake.
var (
	ErrNotPNG = errors.New("baking: not a well-formed PNG image")
	ErrNotSVG = errors.New("baking: not an SVG image with an <svg> root element")
)

// PNG returns png with text in an uncompressed iTXt chunk (keyword
// openbadgecredential, no language tag or translated keyword) right after
// IHDR. An openbadgecredential chunk already in the image is dropped, so the
// result holds exactly one. Errors: ErrNotPNG when png's signature, chunk
// lengths or IHDR placement are wrong.
func PNG(png []byte, text string) ([]byte, error) {
	if !bytes.HasPrefix(png, pngSignature) {
		return nil, ErrNotPNG
	}
	out := make([]byte, 0, len(png)+len(text)+64)
	out = append(out, pngSignature...)
	pos, first := len(pngSignature), true
	for pos < len(png) {
		if len(png)-pos < 12 {
			return nil, ErrNotPNG
		}
		n := int(binary.BigEndian.Uint32(png[pos:]))
		if n < 0 || n > len(png)-pos-12 {
			return nil, ErrNotPNG
		}
		typ := string(png[pos+4 : pos+8])
		chunk := png[pos : pos+12+n]
		pos += 12 + n
		if first != (typ == "IHDR") {
			return nil, ErrNotPNG // IHDR must come first, and only once
		}
		if typ == "iTXt" && isCredentialChunk(chunk[8:8+n]) {
			continue
		}
		out = append(out, chunk...)
		if first {
			out = appendITXt(out, text)
			first = false
		}
		if typ == "IEND" {
			return out, nil
		}
	}
	return nil, ErrNotPNG // no IEND
}

// isCredentialChunk reports whether iTXt data starts with our keyword.
func isCredentialChunk(data []byte) bool {
	return bytes.HasPrefix(data, []byte(Keyword+"\x00"))
}

// appendITXt appends an iTXt chunk (PNG spec 11.3.4.5): keyword, NUL,
// compression flag 0, compression method 0, empty language tag, NUL, empty
// translated keyword, NUL, then the UTF-8 text.
func appendITXt(b []byte, text string) []byte {
	data := make([]byte, 0, len(Keyword)+5+len(text))
	data = append(data, Keyword...)
	data = append(data, 0, 0, 0, 0, 0)
	data = append(data, text...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, "iTXt"...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// svgOpen matches the start of the root element's start tag; svgAttrs the
// rest of that tag (quoted attribute values may hold '>').
var (
	svgOpen  = regexp.MustCompile(`<svg[\s>/]`)
	svgAttrs = regexp.MustCompile(`^(?:[^>"']|"[^"]*"|'[^']*')*`)
	oldBaked = regexp.MustCompile(`(?s)<openbadges:credential(?:\s[^>]*)?(?:/>|>.*?</openbadges:credential\s*>)`)
	nsDecl   = regexp.MustCompile(`\sxmlns:openbadges\s*=\s*("[^"]*"|'[^']*')`)
)

// SVG returns svg with the openbadges namespace declared on its root element
// and, directly after the root's start tag, an <openbadges:credential>
// element holding credentialJSON in a CDATA section ("]]>" in the text is
// split across two sections, so any text survives). A credential element
// already in the image is replaced. Errors: ErrNotSVG when no <svg> start
// tag with content is found.
func SVG(svg []byte, credentialJSON string) ([]byte, error) {
	svg = oldBaked.ReplaceAll(svg, nil)
	loc := svgOpen.FindIndex(svg)
	if loc == nil {
		return nil, ErrNotSVG
	}
	attrsStart := loc[0] + len("<svg")
	attrs := svgAttrs.Find(svg[attrsStart:])
	end := attrsStart + len(attrs) // index of the tag's '>'
	if end >= len(svg) || svg[end] != '>' || bytes.HasSuffix(bytes.TrimSpace(attrs), []byte("/")) {
		return nil, ErrNotSVG
	}
	var out bytes.Buffer
	out.Grow(len(svg) + len(credentialJSON) + 128)
	out.Write(svg[:end])
	elem := "<openbadges:credential>"
	if m := nsDecl.FindSubmatch(attrs); m == nil {
		fmt.Fprintf(&out, ` xmlns:openbadges="%s"`, Namespace)
	} else if string(m[1][1:len(m[1])-1]) != Namespace {
		// The image binds the prefix to another namespace (Open Badges 2.0's):
		// rebind it on our element alone.
		elem = `<openbadges:credential xmlns:openbadges="` + Namespace + `">`
	}
	out.WriteString(">" + elem + "<![CDATA[")
	out.Write(bytes.ReplaceAll([]byte(credentialJSON), []byte("]]>"), []byte("]]]]><![CDATA[>")))
	out.WriteString("]]></openbadges:credential>")
	out.Write(svg[end+1:])
	return out.Bytes(), nil
}
