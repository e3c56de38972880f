package preprocess

import (
	"image"
	"image/color"
	"math"

	"golang.org/x/image/draw"
)

// Grey is the screen an image smaller than the model's field of view is
// shown on: Brain-Score's place_on_screen (brainscore_vision/
// benchmark_helpers/screen.py, ImageConverter.apply_ratio) pastes the image
// on PIL's background_color='gray', which PIL's colour table defines as
// #808080, that is (128, 128, 128).
var Grey = color.RGBA{R: 128, G: 128, B: 128, A: 255}

// Place puts img, which spans degrees of visual angle, on the screen of a
// model whose field of view is fov degrees, before the model's own
// preprocessing (issue 16), as Brain-Score's place_on_screen does. With
// r = degrees/fov:
//   - r < 1 (the image is smaller than the field of view): the image is
//     scaled by r, keeping its aspect, and pasted centred on a Grey canvas
//     of the image's own size;
//   - r > 1 (larger): the central 1/r of each side is cropped and scaled
//     back to the image's own size (a zoom in);
//   - r = 1, or degrees 0 (not stated): img itself is returned, untouched
//     (no copy, no resampling), so unplaced stimuli are bit-identical to
//     those of before.
//
// The placed image has img's size, with its origin at (0, 0), and is
// opaque where img is. Sizes and offsets are rounded half to even, as
// numpy's round in Brain-Score's code; resampling is bilinear
// (golang.org/x/image/draw.BiLinear, as the rest of this package).
//
// Brain-Score does the same geometry without resampling here: it pastes the
// unscaled image on a canvas fov/degrees times larger (or crops without
// scaling back) and leaves the resize to the model's preprocessing. That
// canvas grows with the square of fov/degrees (64× the pixels at 1° in an
// 8° field of view); this one keeps the image's size, at the cost of one
// more bilinear resampling, so the pixels agree with Brain-Score's to
// resampling precision, not bit for bit.
//
// degrees and fov must be finite and ≥ 0 with fov > 0 (the manifest and
// spec parsers check it); anything else returns img unchanged.
func Place(img image.Image, degrees, fov float64) image.Image {
	if !(degrees > 0) || !(fov > 0) || degrees == fov || math.IsInf(degrees, 0) || math.IsInf(fov, 0) {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return img
	}
	r := degrees / fov
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if r < 1 {
		draw.Draw(dst, dst.Bounds(), &image.Uniform{C: Grey}, image.Point{}, draw.Src)
		sw, sh := side(r*float64(w)), side(r*float64(h))
		x0, y0 := half(w-sw), half(h-sh)
		draw.BiLinear.Scale(dst, image.Rect(x0, y0, x0+sw, y0+sh), img, b, draw.Src, nil)
		return dst
	}
	cw, ch := side(float64(w)/r), side(float64(h)/r)
	x0, y0 := b.Min.X+half(w-cw), b.Min.Y+half(h-ch)
	draw.BiLinear.Scale(dst, dst.Bounds(), img, image.Rect(x0, y0, x0+cw, y0+ch), draw.Src, nil)
	return dst
}

// side rounds a length in pixels half to even, at least 1.
func side(x float64) int { return max(1, int(math.RoundToEven(x))) }

// half is round(d/2) half to even: the offset that centres a length d
// pixels shorter.
func half(d int) int { return int(math.RoundToEven(float64(d) / 2)) }
