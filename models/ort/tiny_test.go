package ort

import (
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

type images []image.Image

func (s images) Len() int                                            { return len(s) }
func (s images) Image(_ context.Context, i int) (image.Image, error) { return s[i], nil }

func grey(px [][]uint8) image.Image {
	img := image.NewGray(image.Rect(0, 0, len(px[0]), len(px)))
	for y, row := range px {
		for x, v := range row {
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return img
}

// A conv → relu → maxpool network built here, with every layer checked
// against values computed by hand.
func TestTinyCNNByHand(t *testing.T) {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 1, 3, 3).Output("pool")
	b.Initializer("w", []int64{1, 1, 2, 2}, []float32{1, -1, -1, 0.5})
	b.Initializer("b", []int64{1}, []float32{-5})
	b.Node("Conv", []string{"image", "w", "b"}, []string{"conv"}, onnxmodel.AttrInts("kernel_shape", 2, 2))
	b.Node("Relu", []string{"conv"}, []string{"relu"})
	b.Node("MaxPool", []string{"relu"}, []string{"pool"}, onnxmodel.AttrInts("kernel_shape", 2, 2))
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runtime(t)
	c := loadModel(t, path)
	layers, err := r.Inspect(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 3 || layers[0].ID != "L000.Conv" || layers[2].ID != "L002.MaxPool" || !layers[2].IsOutput {
		t.Fatalf("layers %+v", layers)
	}
	// Identity geometry and normalisation: a 3×3 grey image is the input.
	spec := models.Spec{InputSize: 3, CropFraction: 1, Scale: []float64{1}, Offset: []float64{0}, Channels: 1, ChannelOrder: "RGB", Layout: models.NCHW, Pixel: models.PixelFloat}
	stim := images{
		grey([][]uint8{{10, 0, 30}, {0, 50, 0}, {70, 0, 20}}),
		grey([][]uint8{{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}),
	}
	// By hand, kernel [[1,-1],[-1,0.5]], bias -5, on image 0:
	//   conv(0,0) = 10 − 0 − 0 + 0.5·50 − 5 = 30
	//   conv(0,1) = 0 − 30 − 50 + 0.5·0 − 5 = −85
	//   conv(1,0) = 0 − 50 − 70 + 0.5·0 − 5 = −125
	//   conv(1,1) = 50 − 0 − 0 + 0.5·20 − 5 = 55
	//   relu = [30 0 0 55]; maxpool 2×2 = 55.
	// Image 1 (zeros): conv = −5 everywhere, relu and pool 0.
	want := map[string][][]float32{
		"L000.Conv":    {{30, -85, -125, 55}, {-5, -5, -5, -5}},
		"L001.Relu":    {{30, 0, 0, 55}, {0, 0, 0, 0}},
		"L002.MaxPool": {{55}, {0}},
	}
	// Batch size 1 and two output sets: the consumer of one batch runs
	// while the next is computed, and must still see the right values.
	for _, o := range []Options{{}, {Overlap: true}} {
		rr := &Runtime{cfg: r.cfg}
		rr.cfg.BatchSize = 1
		e, err := rr.NewExtractor(c, spec, layers, o)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][][]float32{}
		err = e.Run(context.Background(), stim, models.ConsumerFunc(func(_ context.Context, l models.Layer, first int, rows [][]float32) error {
			for _, row := range rows {
				got[l.ID] = append(got[l.ID], append([]float32(nil), row...))
			}
			return nil
		}), nil)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		const tol = 1e-5
		for id, w := range want {
			for i := range w {
				if len(got[id]) <= i || len(got[id][i]) != len(w[i]) {
					t.Fatalf("%+v %s stimulus %d: got %v, want %v", o, id, i, got[id], w[i])
				}
				for j := range w[i] {
					if math.Abs(float64(got[id][i][j]-w[i][j])) > tol {
						t.Errorf("%+v %s stimulus %d value %d: %v, want %v", o, id, i, j, got[id][i][j], w[i][j])
					}
				}
			}
		}
	}
}

// A missing library is a clear error naming the fix.
func TestMissingLibrary(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LibraryPath = filepath.Join(t.TempDir(), "nope.so")
	err := cfg.Validate()
	if err == nil || !errorsIs(err, ErrNoLibrary) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{"./scripts/setup.sh", "--onnxruntime-lib"} {
		if !contains(err.Error(), s) {
			t.Errorf("%q does not mention %s", err, s)
		}
	}
}

// A model that passes the static checks but that ONNX Runtime cannot load
// (Relu given two inputs) is refused as ErrRuntime.
func TestValidateRuntimeRefusal(t *testing.T) {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output("y")
	b.Node("Relu", []string{"image", "image"}, []string{"y"})
	_, err := onnxmodel.Validate(b.Bytes(), onnxmodel.DefaultConfig(), runtime(t))
	if !errorsIs(err, models.ErrRuntime) || !contains(err.Error(), "ONNX Runtime cannot load") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}
