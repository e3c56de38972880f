// Package preprocess turns images into model input tensors as a
// models.Spec declares: decode (JPEG or PNG; grey becomes RGB), resize the
// shorter side and keep the central square (golang.org/x/image/draw,
// bilinear), order the channels, normalise, and lay the values out NCHW or
// NHWC as float32 or uint8.
package preprocess

import (
	"fmt"
	"image"
	_ "image/jpeg" // register JPEG with image.Decode
	_ "image/png"  // register PNG with image.Decode
	"io"
	"math"
	"os"
	"slices"

	"golang.org/x/image/draw"

	"github.com/cortexbench/cortexbench/models"
)

// Decode decodes a JPEG or PNG image.
func Decode(r io.Reader) (image.Image, error) {
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("decode image (JPEG or PNG expected): %w", err)
	}
	return img, nil
}

// DecodeFile decodes the JPEG or PNG image at path.
func DecodeFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	img, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// CropRect is the region of an image that becomes the model input, in
// source pixels. Without s.Stretch: the shorter side scaled to s.Resize()
// and the central s.InputSize square kept; resizing just that region
// straight to InputSize×InputSize is the same geometry in one resampling
// step. With s.Stretch: the central s.CropFraction of each side.
func CropRect(bounds image.Rectangle, s models.Spec) image.Rectangle {
	w, h := float64(bounds.Dx()), float64(bounds.Dy())
	var sw, sh float64
	if s.Stretch {
		sw, sh = w*s.CropFraction, h*s.CropFraction
	} else {
		k := float64(s.Resize()) / math.Min(w, h) // source → resized
		side := float64(s.InputSize) / k          // crop side in source pixels
		sw, sh = math.Min(side, w), math.Min(side, h)
	}
	x0 := float64(bounds.Min.X) + (w-sw)/2
	y0 := float64(bounds.Min.Y) + (h-sh)/2
	r := image.Rect(int(math.Round(x0)), int(math.Round(y0)), int(math.Round(x0+sw)), int(math.Round(y0+sh)))
	if r.Dx() < 1 || r.Dy() < 1 {
		r = image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Min.Y+1).Intersect(bounds)
	}
	return r
}

// Geometry resizes and centre-crops img to s.InputSize×s.InputSize RGBA.
// dst is reused when it has the right size.
func Geometry(dst *image.RGBA, img image.Image, s models.Spec) *image.RGBA {
	n := s.InputSize
	if dst == nil || dst.Bounds() != image.Rect(0, 0, n, n) {
		dst = image.NewRGBA(image.Rect(0, 0, n, n))
	}
	draw.BiLinear.Scale(dst, dst.Bounds(), img, CropRect(img.Bounds(), s), draw.Src, nil)
	return dst
}

// Values returns the number of tensor values per image.
func Values(s models.Spec) int { return s.InputSize * s.InputSize * s.Channels }

// Float32 writes img's tensor (Values(s) floats, layout s.Layout, without
// the batch axis) into dst. scratch may be nil.
func Float32(dst []float32, img image.Image, s models.Spec, scratch *image.RGBA) *image.RGBA {
	rgba := Geometry(scratch, img, s)
	Float32Pixels(dst, rgba.Pix, rgba.Stride, 4, s)
	return rgba
}

// Float32Pixels writes the tensor of an s.InputSize² image given as pixels
// (R, G, B at pix[y*stride+x*step:], as Geometry's RGBA or RGB's packed
// form) into dst: Float32 after the geometry, value for value.
func Float32Pixels(dst []float32, pix []uint8, stride, step int, s models.Spec) {
	sub, mul := s.Affine()
	fill(pix, stride, step, s, func(i, c int, v uint8) { dst[i] = float32((float64(v) - sub[c]) * mul[c]) })
}

// Uint8 writes img's raw-pixel tensor into dst (Values(s) bytes).
func Uint8(dst []uint8, img image.Image, s models.Spec, scratch *image.RGBA) *image.RGBA {
	rgba := Geometry(scratch, img, s)
	Uint8Pixels(dst, rgba.Pix, rgba.Stride, 4, s)
	return rgba
}

// Uint8Pixels is Uint8 after the geometry, as Float32Pixels.
func Uint8Pixels(dst []uint8, pix []uint8, stride, step int, s models.Spec) {
	fill(pix, stride, step, s, func(i, c int, v uint8) { dst[i] = v })
}

// RGB packs the colour of an n×n RGBA (Geometry's result) into dst as
// n·n·3 bytes, R, G, B per pixel, row after row: everything Float32 and
// Uint8 read of it (alpha is not used). dst is reused when large enough.
func RGB(dst []uint8, rgba *image.RGBA) []uint8 {
	b := rgba.Bounds()
	w, h := b.Dx(), b.Dy()
	dst = slices.Grow(dst[:0], w*h*3)[:w*h*3]
	for y := range h {
		row := rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*w]
		out := dst[y*w*3 : (y+1)*w*3]
		for x := range w {
			copy(out[3*x:3*x+3], row[4*x:4*x+3])
		}
	}
	return dst
}

func fill(pix []uint8, stride, step int, s models.Spec, set func(i, c int, v uint8)) {
	n, ch := s.InputSize, s.Channels
	bgr := s.ChannelOrder == "BGR"
	for y := range n {
		row := pix[y*stride:]
		for x := range n {
			p := row[step*x : step*x+3]
			var px [3]uint8
			if ch == 1 {
				// ITU-R BT.601 luma, as image/color.GrayModel.
				px[0] = uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
			} else if bgr {
				px = [3]uint8{p[2], p[1], p[0]}
			} else {
				px = [3]uint8{p[0], p[1], p[2]}
			}
			for c := range ch {
				var i int
				if s.Layout == models.NCHW {
					i = c*n*n + y*n + x
				} else {
					i = (y*n+x)*ch + c
				}
				set(i, c, px[c])
			}
		}
	}
}
