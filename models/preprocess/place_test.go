package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"
)

// solid is a w×h image of one colour, its origin at (x0, y0).
func solid(x0, y0, w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(x0, y0, x0+w, y0+h))
	for y := y0; y < y0+h; y++ {
		for x := x0; x < x0+w; x++ {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// Not stated, or the field of view itself: the very same image comes back
// (no copy, no resampling), which keeps every unplaced stimulus as it was.
func TestPlaceIdentity(t *testing.T) {
	img := solid(0, 0, 7, 5, color.RGBA{10, 20, 30, 255})
	for _, c := range [][2]float64{{0, 8}, {8, 8}, {10, 10}, {-1, 8}, {4, 0}, {math.NaN(), 8}, {math.Inf(1), 8}} {
		if got := Place(img, c[0], c[1]); got != image.Image(img) {
			t.Errorf("degrees %g, fov %g: a new image, want img itself", c[0], c[1])
		}
	}
}

// r < 1: the image is scaled by r keeping its aspect and centred on grey;
// every pixel outside the pasted box is exactly Grey, every one inside is
// the image's colour (a solid image resamples to itself).
func TestPlaceShrinksOnGrey(t *testing.T) {
	red := color.RGBA{200, 10, 10, 255}
	for _, c := range []struct {
		w, h     int
		deg, fov float64
		box      image.Rectangle
	}{
		{40, 30, 4, 8, image.Rect(10, 8, 30, 23)},  // 20×15 at (10, round(7.5)=8): half to even
		{42, 30, 2, 8, image.Rect(16, 11, 26, 19)}, // round(10.5)=10 as numpy (half to even), not 11; round(7.5)=8
		{40, 30, 5, 8, image.Rect(8, 6, 33, 25)},   // 25×round(18.75)=19, offsets round(7.5)=8, round(5.5)=6
		{41, 41, 2, 8, image.Rect(16, 16, 26, 26)}, // round(10.25)=10, offset round(15.5)=16
		{64, 16, 1, 8, image.Rect(28, 7, 36, 9)},   // 8×2
		{10, 10, 0.1, 179, image.Rect(4, 4, 5, 5)}, // at least one pixel
		{300, 200, 6, 10, image.Rect(60, 40, 240, 160)},
	} {
		t.Run(fmt.Sprintf("%dx%d_%g_%g", c.w, c.h, c.deg, c.fov), func(t *testing.T) {
			img := solid(3, -2, c.w, c.h, red) // the origin need not be (0,0)
			got := Place(img, c.deg, c.fov)
			if got.Bounds() != image.Rect(0, 0, c.w, c.h) {
				t.Fatalf("bounds %v, want the image's size %dx%d at the origin", got.Bounds(), c.w, c.h)
			}
			for y := 0; y < c.h; y++ {
				for x := 0; x < c.w; x++ {
					want := Grey
					if image.Pt(x, y).In(c.box) {
						want = red
					}
					if g := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA); g != want {
						t.Fatalf("pixel (%d,%d) = %v, want %v (box %v)", x, y, g, want, c.box)
					}
				}
			}
		})
	}
}

// r > 1: the central 1/r of the image fills the whole output. A frame of
// one colour around a centre of another: cropping to the centre leaves no
// trace of the frame.
func TestPlaceCropsAndZooms(t *testing.T) {
	frame, centre := color.RGBA{0, 0, 255, 255}, color.RGBA{0, 255, 0, 255}
	img := solid(0, 0, 40, 30, frame)
	// 16° shown in an 8° field: the central 20×15, at (10, 8) (round(7.5)=8).
	for y := 8; y < 23; y++ {
		for x := 10; x < 30; x++ {
			img.SetRGBA(x, y, centre)
		}
	}
	got := Place(img, 16, 8)
	if got.Bounds() != image.Rect(0, 0, 40, 30) {
		t.Fatalf("bounds %v", got.Bounds())
	}
	for y := range 30 {
		for x := range 40 {
			if g := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA); g != centre {
				t.Fatalf("pixel (%d,%d) = %v: the crop is not the centre 20×15", x, y, g)
			}
		}
	}
	// A larger crop reaches the frame at the edges and keeps the centre.
	got = Place(img, 10, 8)
	if g := color.RGBAModel.Convert(got.At(0, 0)).(color.RGBA); g != frame {
		t.Errorf("10° in 8°: corner %v, want the frame %v", g, frame)
	}
	if g := color.RGBAModel.Convert(got.At(20, 15)).(color.RGBA); g != centre {
		t.Errorf("10° in 8°: centre %v, want %v", g, centre)
	}
}

// Against numpy/PIL (testdata/gen_place.py): the placed fixture agrees with
// PIL's to resampling precision — two bilinear implementations round
// their intermediate values differently (PIL to 8 bits between its two
// passes) — while the grey outside the pasted box is exact.
func TestPlaceMatchesPIL(t *testing.T) {
	src, err := DecodeFile("testdata/place_src.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]int{{4, 8}, {2, 8}, {5, 8}, {6, 10}, {12, 8}, {16, 8}} {
		want, err := DecodeFile(fmt.Sprintf("testdata/place_%d_%d.png", c[0], c[1]))
		if err != nil {
			t.Fatal(err)
		}
		got := Place(src, float64(c[0]), float64(c[1]))
		if got.Bounds() != want.Bounds() {
			t.Fatalf("%d° in %d°: bounds %v, PIL %v", c[0], c[1], got.Bounds(), want.Bounds())
		}
		var maxd, sum float64
		n := 0
		b := want.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA)
				w := color.RGBAModel.Convert(want.At(x, y)).(color.RGBA)
				if w == Grey && g != Grey && c[0] < c[1] {
					// Grey in PIL's output is either the screen or an
					// image pixel that happens to be grey: the fixture
					// has none, so it must be the screen, exactly.
					t.Errorf("%d° in %d°: (%d,%d) = %v, PIL has the grey screen", c[0], c[1], x, y, g)
				}
				for _, d := range []float64{float64(g.R) - float64(w.R), float64(g.G) - float64(w.G), float64(g.B) - float64(w.B)} {
					maxd = math.Max(maxd, math.Abs(d))
					sum += math.Abs(d)
					n++
				}
			}
		}
		t.Logf("%d° in %d°: max |Go − PIL| %g, mean %.3f (of 255)", c[0], c[1], maxd, sum/float64(n))
		if maxd > 2 || sum/float64(n) > 0.3 {
			t.Errorf("%d° in %d°: max |Go − PIL| %g, mean %.3f: not the same placement", c[0], c[1], maxd, sum/float64(n))
		}
	}
}
