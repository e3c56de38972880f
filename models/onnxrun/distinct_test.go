package onnxrun

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

// pick is the images of a list at the given places, in that order.
type pick struct {
	all  imageList
	keep []int
}

func (p pick) Len() int { return len(p.keep) }
func (p pick) Image(ctx context.Context, i int) (image.Image, error) {
	return p.all.Image(ctx, p.keep[i])
}

// The runner runs a set's distinct images only (scoring/runner,
// Env.distinctImages) and copies an image's rows to each place it takes;
// that keeps every score bit for bit only if a pass computes each image's
// values alone, whatever else is in its batch and wherever it sits there.
// MobileNetV2, layers at several depths and the output, pooled (the
// default) and raw: 21 images (batches of 16, so a full and a short one)
// against a reordered subset of 13 of them, where every image sits at
// another place, most in another batch.
func TestDistinctImagesSameBits(t *testing.T) {
	file := mobileNetV2File(t)
	tiny := tinyModel(t) // skips without ONNX Runtime
	rng := rand.New(rand.NewPCG(11, 12))
	var imgs imageList
	for range 21 {
		imgs = append(imgs, randomImage(rng))
	}
	keep := []int{18, 5, 0, 20, 9, 3, 16, 10, 1, 7, 12, 19, 2}
	for _, poolTo := range []int64{DefaultPoolTo, 0} {
		m, err := Load(tiny.rt, Info{Path: file, Name: "mobilenet_v2", Spec: models.MobileNetV2Float}, poolTo)
		if err != nil {
			t.Fatal(err)
		}
		all := m.Layers()
		layers := []models.Layer{all[3], all[57], all[121], all[200]}
		if poolTo == 0 {
			layers = layers[2:]
		}
		for _, l := range all {
			if l.IsOutput {
				layers = append(layers, l)
			}
		}
		whole, part := collect{}, collect{}
		if err := m.Extract(t.Context(), imgs, layers, whole, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Extract(t.Context(), pick{all: imgs, keep: keep}, layers, part, nil); err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			w, p := whole[l.ID], part[l.ID]
			if w.Rows != len(imgs) || p.Rows != len(keep) || w.Cols != p.Cols {
				t.Fatalf("pool %d, %s: %d×%d and %d×%d", poolTo, l.ID, w.Rows, w.Cols, p.Rows, p.Cols)
			}
			for k, i := range keep {
				for j, v := range w.Row(i) {
					if math.Float32bits(p.Row(k)[j]) != math.Float32bits(v) {
						t.Fatalf("pool %d, %s: image %d's value %d is %v run among other images, %v in the whole set (bit for bit)", poolTo, l.ID, i, j, p.Row(k)[j], v)
					}
				}
			}
		}
	}
}
