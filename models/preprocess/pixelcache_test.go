package preprocess

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

// synth is a keyed stimulus set of generated images of assorted sizes,
// colour models and transparency, counting its decodings.
type synth struct {
	imgs    []image.Image
	decoded int
}

func (s *synth) Len() int { return len(s.imgs) }
func (s *synth) Image(_ context.Context, i int) (image.Image, error) {
	s.decoded++
	return s.imgs[i], nil
}
func (s *synth) Key() string { return "synthetic-set-1" }

func newSynth() *synth {
	var imgs []image.Image
	for k, size := range [][2]int{{300, 200}, {97, 131}, {224, 224}, {50, 400}, {640, 480}} {
		switch k % 3 {
		case 0:
			m := image.NewRGBA(image.Rect(0, 0, size[0], size[1]))
			for y := range size[1] {
				for x := range size[0] {
					m.Set(x, y, color.RGBA{uint8(x*7 + k), uint8(y * 3), uint8(x*y + 11), 255})
				}
			}
			imgs = append(imgs, m)
		case 1:
			m := image.NewGray(image.Rect(0, 0, size[0], size[1]))
			for y := range size[1] {
				for x := range size[0] {
					m.SetGray(x, y, color.Gray{uint8(x ^ y)})
				}
			}
			imgs = append(imgs, m)
		default:
			m := image.NewNRGBA(image.Rect(0, 0, size[0], size[1]))
			for y := range size[1] {
				for x := range size[0] {
					m.Set(x, y, color.NRGBA{uint8(x), uint8(255 - y), uint8(x + y), uint8(128 + x%128)})
				}
			}
			imgs = append(imgs, m)
		}
	}
	return &synth{imgs: imgs}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// tensorsVia fills every image's float32 and uint8 tensors through l.
func tensorsVia(t *testing.T, l *Loader, stim *synth, s models.Spec) ([][]float32, [][]uint8) {
	t.Helper()
	var fs [][]float32
	var us [][]uint8
	for i := range stim.Len() {
		pix, stride, step, err := l.Pixels(context.Background(), stim, stim.Key(), i, s)
		if err != nil {
			t.Fatal(err)
		}
		f := make([]float32, Values(s))
		Float32Pixels(f, pix, stride, step, s)
		u := make([]uint8, Values(s))
		Uint8Pixels(u, pix, stride, step, s)
		fs, us = append(fs, f), append(us, u)
	}
	return fs, us
}

// fresh is the tensors of a fresh decoding, through Float32 and Uint8 as
// before the cache existed.
func fresh(stim *synth, s models.Spec) ([][]float32, [][]uint8) {
	var fs [][]float32
	var us [][]uint8
	for _, img := range stim.imgs {
		f := make([]float32, Values(s))
		Float32(f, img, s, nil)
		u := make([]uint8, Values(s))
		Uint8(u, img, s, nil)
		fs, us = append(fs, f), append(us, u)
	}
	return fs, us
}

func sameBits(t *testing.T, what string, gotF, wantF [][]float32, gotU, wantU [][]uint8) {
	t.Helper()
	for i := range wantF {
		for j := range wantF[i] {
			if math.Float32bits(gotF[i][j]) != math.Float32bits(wantF[i][j]) {
				t.Fatalf("%s: image %d value %d: %v, fresh decoding gives %v", what, i, j, gotF[i][j], wantF[i][j])
			}
		}
		if !bytes.Equal(gotU[i], wantU[i]) {
			t.Fatalf("%s: image %d: uint8 tensor differs from a fresh decoding", what, i)
		}
	}
}

// The first model of a run writes each image's pixels, the second reads
// them back without decoding, and both get, bit for bit, the tensors of a
// fresh decoding, for every layout, channel order and count, and pixel
// type sharing the geometry.
func TestPixelCacheBitIdentical(t *testing.T) {
	c, err := OpenPixelCache(filepath.Join(t.TempDir(), "pixels"), 0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := models.MobileNetV2Float
	variants := []models.Spec{base, models.MobileNetV2Uint8}
	bgr := base
	bgr.ChannelOrder, bgr.Layout, bgr.Offset, bgr.Scale = "BGR", models.NCHW, nil, nil
	bgr.Mean, bgr.Std = []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225}
	grey := base
	grey.Channels = 1
	variants = append(variants, bgr, grey)
	for _, s := range variants {
		if GeometryKey(s) != GeometryKey(base) {
			t.Fatalf("spec %s: geometry key %s differs from %s", s, GeometryKey(s), GeometryKey(base))
		}
	}
	c.Use(base)
	c.Use(base)
	stim := newSynth()
	writer := &Loader{Cache: c}
	for k, s := range variants {
		wantF, wantU := fresh(stim, s)
		stim.decoded = 0
		l := writer
		if k > 0 {
			l = &Loader{Cache: c} // a later model of the run
		}
		gotF, gotU := tensorsVia(t, l, stim, s)
		sameBits(t, s.String(), gotF, wantF, gotU, wantU)
		if k == 0 && stim.decoded != stim.Len() {
			t.Errorf("first model decoded %d of %d images", stim.decoded, stim.Len())
		}
		if k > 0 && stim.decoded != 0 {
			t.Errorf("%s: decoded %d images again, want 0 (all in the cache)", s, stim.decoded)
		}
	}
	st := c.Stats()
	if st.Written != int64(stim.Len()) || st.Misses != int64(stim.Len()) || st.Hits != int64(3*stim.Len()) || st.Corrupt != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.DecodeSeconds <= 0 || st.Bytes <= int64(stim.Len()*224*224*3) {
		t.Errorf("stats %+v: no decoding time or too few bytes", st)
	}
	// Another geometry (size 128) is not in the cache.
	other := models.MobileNetV1Float
	if GeometryKey(other) == GeometryKey(base) {
		t.Fatal("size 128 has the geometry key of size 224")
	}
	c.Use(other)
	stim.decoded = 0
	wantF, wantU := fresh(stim, other)
	gotF, gotU := tensorsVia(t, &Loader{Cache: c}, stim, other)
	sameBits(t, "size 128", gotF, wantF, gotU, wantU)
	if stim.decoded != stim.Len() {
		t.Errorf("size 128 decoded %d images, want %d", stim.decoded, stim.Len())
	}
	if c.Stats().Written != st.Written {
		t.Error("a geometry used by one model only was written")
	}
}

// A damaged record (one flipped byte anywhere, a truncated or a
// lengthened file) is detected, removed and the image decoded again: the
// tensor is that of a fresh decoding.
func TestPixelCacheCorruptRecord(t *testing.T) {
	c, err := OpenPixelCache(filepath.Join(t.TempDir(), "pixels"), 0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := models.MobileNetV2Float
	c.Use(s)
	c.Use(s)
	stim := newSynth()
	stim.imgs = stim.imgs[:1]
	wantF, wantU := fresh(stim, s)
	rec := c.path(recordID(GeometryKey(s), stim.Key(), 0))
	size := len(pixelMagic) + 32 + 4 + 224*224*3 + 32
	damages := map[string]func(b []byte) []byte{
		"flipped magic byte":    func(b []byte) []byte { b[0] ^= 1; return b },
		"flipped key byte":      func(b []byte) []byte { b[len(pixelMagic)+5] ^= 0x80; return b },
		"flipped size byte":     func(b []byte) []byte { b[len(pixelMagic)+32] ^= 4; return b },
		"flipped pixel byte":    func(b []byte) []byte { b[len(pixelMagic)+36+12345] ^= 0x10; return b },
		"flipped checksum byte": func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b },
		"truncated":             func(b []byte) []byte { return b[:len(b)-100] },
		"lengthened":            func(b []byte) []byte { return append(b, 0) },
	}
	for name, damage := range damages {
		stim.decoded = 0
		before := c.Stats()
		if _, _, _, err := (&Loader{Cache: c}).Pixels(context.Background(), stim, stim.Key(), 0, s); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(rec)
		if err != nil {
			t.Fatalf("%s: record not written: %v", name, err)
		}
		if len(b) != size {
			t.Fatalf("record of %d bytes, want %d", len(b), size)
		}
		if err := os.WriteFile(rec, damage(b), 0o644); err != nil {
			t.Fatal(err)
		}
		stim.decoded = 0
		gotF, gotU := tensorsVia(t, &Loader{Cache: c}, stim, s)
		sameBits(t, name, gotF, wantF, gotU, wantU)
		st := c.Stats()
		if stim.decoded != 1 || st.Corrupt != before.Corrupt+1 {
			t.Errorf("%s: decoded %d, corrupt %d→%d: the damage was not detected", name, stim.decoded, before.Corrupt, st.Corrupt)
		}
		// The bad record was replaced by a good one.
		stim.decoded = 0
		tensorsVia(t, &Loader{Cache: c}, stim, s)
		if stim.decoded != 0 {
			t.Errorf("%s: the record was not written again", name)
		}
	}
}

// The run's folder is removed by Close; a folder a killed run left behind
// (lock free) is removed when the next cache opens, a live run's is not;
// past its limit the cache writes no more and images are decoded, still
// right.
func TestPixelCacheLifecycleAndLimit(t *testing.T) {
	root := filepath.Join(t.TempDir(), "pixels")
	live, err := OpenPixelCache(root, 0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "run-999999-killed")
	if err := os.MkdirAll(filepath.Join(stale, "ab"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lock", "ab/cdef"} {
		if err := os.WriteFile(filepath.Join(stale, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := models.MobileNetV2Float
	one := int64(len(pixelMagic) + 32 + 4 + 224*224*3 + 32)
	c, err := OpenPixelCache(root, 2*one+1, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale run's folder is still there (%v)", err)
	}
	if _, err := os.Stat(live.Dir()); err != nil {
		t.Errorf("the live run's folder was removed: %v", err)
	}
	if !strings.HasPrefix(filepath.Base(c.Dir()), runPrefix) || filepath.Dir(c.Dir()) != root {
		t.Errorf("run folder %s", c.Dir())
	}
	c.Use(s)
	c.Use(s)
	stim := newSynth()
	wantF, wantU := fresh(stim, s)
	gotF, gotU := tensorsVia(t, &Loader{Cache: c}, stim, s)
	sameBits(t, "writer", gotF, wantF, gotU, wantU)
	if st := c.Stats(); st.Written != 2 || st.Bytes > 2*one+1 {
		t.Errorf("limit of 2 records: %+v", st)
	}
	stim.decoded = 0
	gotF, gotU = tensorsVia(t, &Loader{Cache: c}, stim, s)
	sameBits(t, "reader", gotF, wantF, gotU, wantU)
	if stim.decoded != stim.Len()-2 {
		t.Errorf("reader decoded %d images, want %d (2 cached)", stim.decoded, stim.Len()-2)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("Close left %s (%v)", c.Dir(), err)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("%d entries left in %s", len(entries), root)
	}
}
