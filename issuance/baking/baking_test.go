package baking_test

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance/baking"
)

// The credential text holds what could break a naive baker: non-ASCII,
// a CDATA terminator, markup and a NUL-free but multi-line body.
const cred = `{"@context":["https://www.w3.org/ns/credentials/v2"],"name":"Zoë 王 ]]> </openbadges:credential> <x>","proof":{"proofValue":"z3abc"}}
`

func mustPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	img.Set(2, 3, color.NRGBA{10, 200, 30, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type chunk struct {
	typ  string
	data []byte
}

// chunks parses a PNG independently of the baker and checks every CRC.
func chunks(t *testing.T, b []byte) []chunk {
	t.Helper()
	var out []chunk
	for pos := 8; pos < len(b); {
		n := int(binary.BigEndian.Uint32(b[pos:]))
		typ, data := string(b[pos+4:pos+8]), b[pos+8:pos+8+n]
		crc := binary.BigEndian.Uint32(b[pos+8+n:])
		if crc != crc32.ChecksumIEEE(b[pos+4:pos+8+n]) {
			t.Fatalf("chunk %s: bad CRC", typ)
		}
		out = append(out, chunk{typ, data})
		pos += 12 + n
	}
	return out
}

func TestPNG(t *testing.T) {
	orig := mustPNG(t)
	baked, err := baking.PNG(orig, cred)
	if err != nil {
		t.Fatal(err)
	}
	cs := chunks(t, baked)
	if cs[0].typ != "IHDR" || cs[1].typ != "iTXt" {
		t.Fatalf("chunk order %s %s, want IHDR iTXt", cs[0].typ, cs[1].typ)
	}
	want := "openbadgecredential\x00\x00\x00\x00\x00" + cred
	if string(cs[1].data) != want {
		t.Fatalf("iTXt data %q, want %q", cs[1].data, want)
	}
	// Still an image, pixel for pixel.
	a, _ := png.Decode(bytes.NewReader(orig))
	b, err := png.Decode(bytes.NewReader(baked))
	if err != nil {
		t.Fatalf("baked PNG does not decode: %v", err)
	}
	if a.At(2, 3) != b.At(2, 3) || a.Bounds() != b.Bounds() {
		t.Fatal("pixels changed")
	}
	// Baking again replaces the credential: one chunk, the new text.
	again, err := baking.PNG(baked, "second")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, c := range chunks(t, again) {
		if c.typ == "iTXt" {
			n++
			if !strings.HasSuffix(string(c.data), "\x00second") {
				t.Fatalf("re-baked text %q", c.data)
			}
		}
	}
	if n != 1 || len(again) != len(orig)+12+len(want)-len(cred)+len("second") {
		t.Fatalf("%d iTXt chunks, %d bytes", n, len(again))
	}
}

func TestPNGRefusesMalformed(t *testing.T) {
	good := mustPNG(t)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"not png":        []byte("GIF89a..."),
		"truncated":      good[:len(good)-5],
		"huge length":    append(append([]byte{}, good[:8]...), 0x7f, 0xff, 0xff, 0xff, 'I', 'H', 'D', 'R'),
		"no IHDR first":  append(append([]byte{}, good[:8]...), good[33:]...),
		"signature only": good[:8],
	} {
		if _, err := baking.PNG(b, cred); err != baking.ErrNotPNG {
			t.Errorf("%s: err = %v, want ErrNotPNG", name, err)
		}
	}
}

// TestPNGExiftool reads the baked chunk back with exiftool, a reader that
// shares no code with ours (Debian's libimage-exiftool-perl; make deps
// installs it).
func TestPNGExiftool(t *testing.T) {
	exiftool := testenv.Tool(t, "exiftool")
	baked, err := baking.PNG(mustPNG(t), cred)
	if err != nil {
		t.Fatal(err)
	}
	if got := ExiftoolCredential(t, exiftool, baked); got != cred {
		t.Fatalf("exiftool read %q, want %q", got, cred)
	}
}

// ExiftoolCredential returns the openbadgecredential text exiftool finds in png.
func ExiftoolCredential(t *testing.T, exiftool string, png []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "baked.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exiftool, "-b", "-PNG:Openbadgecredential", f).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	return string(out)
}

func TestSVG(t *testing.T) {
	for name, svg := range map[string]string{
		"plain":         `<?xml version="1.0"?><!-- a comment --><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4"/></svg>`,
		"quoted >":      `<svg xmlns="http://www.w3.org/2000/svg" data-x="a>b"><rect width="1" height="1"/></svg>`,
		"ob2 prefix":    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"><rect/></svg>`,
		"already baked": `<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"><openbadges:credential><![CDATA[old]]></openbadges:credential><rect/></svg>`,
	} {
		t.Run(name, func(t *testing.T) {
			baked, err := baking.SVG([]byte(svg), cred)
			if err != nil {
				t.Fatal(err)
			}
			// encoding/xml resolves namespaces and CDATA independently of us.
			dec := xml.NewDecoder(bytes.NewReader(baked))
			var found []string
			depth := 0
			for {
				tok, err := dec.Token()
				if err != nil {
					break
				}
				switch e := tok.(type) {
				case xml.StartElement:
					depth++
					if e.Name.Space == baking.Namespace && e.Name.Local == "credential" {
						if depth != 2 {
							t.Fatalf("credential element at depth %d, want directly under <svg>", depth)
						}
						var s struct {
							Text string `xml:",chardata"`
						}
						if err := dec.DecodeElement(&s, &e); err != nil {
							t.Fatal(err)
						}
						depth--
						found = append(found, s.Text)
					}
				case xml.EndElement:
					depth--
				}
			}
			if len(found) != 1 || found[0] != cred {
				t.Fatalf("found %q in %s", found, baked)
			}
		})
	}
	for _, bad := range []string{"", "<html></html>", `<svg/>`, `<svg xmlns="x"`} {
		if _, err := baking.SVG([]byte(bad), cred); err != baking.ErrNotSVG {
			t.Errorf("%q: err = %v, want ErrNotSVG", bad, err)
		}
	}
}
