package svgraster_test

import (
	"bytes"
	"errors"
	"image/png"
	"testing"

	"github.com/laurel-edu/laurel/issuance/svgraster"
)

// A wide logo keeps its aspect ratio at the asked size, draws its shapes
// where the SVG puts them and leaves the rest transparent.
func TestPNGDrawsShapesAtSize(t *testing.T) {
	for _, svg := range []string{
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50"><rect x="0" y="0" width="50" height="50" fill="#ff0000"/><circle cx="75" cy="25" r="20" fill="#0000ff"/></svg>`,
		// Only width and height, with a namespace prefix on the elements.
		`<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="100" height="50"><svg:rect x="0" y="0" width="50" height="50" fill="#ff0000"/><svg:circle cx="75" cy="25" r="20" fill="#0000ff"/></svg:svg>`,
	} {
		out, err := svgraster.PNG([]byte(svg), 200)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 100 {
			t.Fatalf("size %v, want 200×100", b)
		}
		rgba := func(x, y int) [4]uint32 {
			r, g, b, a := img.At(x, y).RGBA()
			return [4]uint32{r >> 8, g >> 8, b >> 8, a >> 8}
		}
		if c := rgba(50, 50); c != [4]uint32{255, 0, 0, 255} {
			t.Errorf("%.40s…: square's middle %v, want red", svg, c)
		}
		if c := rgba(150, 50); c != [4]uint32{0, 0, 255, 255} {
			t.Errorf("%.40s…: circle's middle %v, want blue", svg, c)
		}
		if c := rgba(198, 2); c[3] != 0 {
			t.Errorf("%.40s…: corner outside the circle %v, want transparent", svg, c)
		}
	}
}

func TestPNGRefusesSizelessSVG(t *testing.T) {
	if _, err := svgraster.PNG([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"/></svg>`), 100); !errors.Is(err, svgraster.ErrEmpty) {
		t.Fatalf("err = %v, want ErrEmpty", err)
	}
	if _, err := svgraster.PNG([]byte(`not svg`), 100); err == nil {
		t.Fatal("no error for a non-SVG")
	}
}
