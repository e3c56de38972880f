package preprocess

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

func TestCropRect(t *testing.T) {
	// 400×300, shorter side 300 → 256 (224/0.875), crop 224: in source
	// pixels the crop is 224·300/256 = 262.5 wide, centred.
	s := models.Spec{InputSize: 224, CropFraction: 0.875}
	got := CropRect(image.Rect(0, 0, 400, 300), s)
	if got != image.Rect(69, 19, 331, 281) {
		t.Errorf("keep-aspect crop %v", got)
	}
	s.Stretch, s.CropFraction = true, 0.5
	if got := CropRect(image.Rect(0, 0, 400, 300), s); got != image.Rect(100, 75, 300, 225) {
		t.Errorf("stretch crop %v, want (100,75)-(300,225)", got)
	}
}

// A grey PNG comes out as three equal channels; the layout puts channel
// planes first (NCHW) or last (NHWC); BGR swaps R and B; normalisation is
// (pixel − offset) × scale.
func TestLayoutsAndNormalisation(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 2, 2))
	g.SetGray(0, 0, color.Gray{Y: 100})
	g.SetGray(1, 0, color.Gray{Y: 200})
	g.SetGray(0, 1, color.Gray{Y: 0})
	g.SetGray(1, 1, color.Gray{Y: 50})
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	spec := models.Spec{InputSize: 2, CropFraction: 1, Offset: []float64{100}, Scale: []float64{0.5}, Channels: 3, ChannelOrder: "RGB", Layout: models.NHWC, Pixel: models.PixelFloat}
	dst := make([]float32, Values(spec))
	Float32(dst, img, spec, nil)
	// (pixel − 100) × 0.5 for pixels 100, 200, 0, 50, each ×3 channels.
	want := []float32{0, 0, 0, 50, 50, 50, -50, -50, -50, -25, -25, -25}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Fatalf("NHWC %v, want %v", dst, want)
		}
	}
	spec.Layout = models.NCHW
	Float32(dst, img, spec, nil)
	want = []float32{0, 50, -50, -25, 0, 50, -50, -25, 0, 50, -50, -25}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Fatalf("NCHW %v, want %v", dst, want)
		}
	}
	c := image.NewRGBA(image.Rect(0, 0, 1, 1))
	c.Set(0, 0, color.RGBA{10, 20, 30, 255})
	u8 := models.Spec{InputSize: 1, CropFraction: 1, Channels: 3, ChannelOrder: "BGR", Layout: models.NHWC, Pixel: models.PixelUint8}
	out := make([]uint8, 3)
	Uint8(out, c, u8, nil)
	if out[0] != 30 || out[1] != 20 || out[2] != 10 {
		t.Errorf("BGR %v, want [30 20 10]", out)
	}
}

func TestDecodeRejectsText(t *testing.T) {
	if _, err := Decode(bytes.NewReader([]byte("hello"))); err == nil {
		t.Error("text decoded as an image")
	}
}
