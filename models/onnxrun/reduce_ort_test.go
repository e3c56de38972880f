package onnxrun

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/reference"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
)

type imageList []image.Image

func (l imageList) Len() int                                            { return len(l) }
func (l imageList) Image(_ context.Context, i int) (image.Image, error) { return l[i], nil }

func randomImage(rng *rand.Rand) image.Image {
	m := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for p := range 256 {
		m.Set(p%16, p/16, color.RGBA{uint8(rng.UintN(256)), uint8(rng.UintN(256)), uint8(rng.UintN(256)), 255})
	}
	return m
}

// tinyModel loads the tiny CNN (conv 2×6×6 → relu → maxpool) through ONNX
// Runtime; the test is skipped when the runtime is not installed.
func tinyModel(t *testing.T) *Model {
	t.Helper()
	lib := os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join("..", "..", ort.DefaultLibraryPath)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime not installed (run ./scripts/setup.sh): %v", err)
	}
	rt, err := OpenRuntime(lib)
	if err != nil {
		t.Fatal(err)
	}
	c, err := onnxmodel.Validate(onnxtest.TinyCNN().Bytes(), onnxmodel.DefaultConfig(), rt)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := models.ParseSpec("size=8,crop=1,scale=0.0039,offset=0,layout=NCHW")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(rt, c, Info{Name: "tiny", Spec: spec}, DefaultPoolTo)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type collect map[string]linalg.Matrix[float32]

func (c collect) Consume(_ context.Context, l models.Layer, first int, rows [][]float32) error {
	x, ok := c[l.ID]
	if !ok {
		x = linalg.NewMatrix[float32](first+len(rows), len(rows[0]))
	}
	if x.Rows < first+len(rows) {
		y := linalg.NewMatrix[float32](first+len(rows), x.Cols)
		copy(y.Data, x.Data)
		x = y
	}
	for i, r := range rows {
		copy(x.Row(first+i), r)
	}
	c[l.ID] = x
	return nil
}

// Issue 16: under pca:K a layer's activations on the benchmark's images
// are their projection on the K components fitted on the reference set's
// activations (the same layer, extracted alone): the reference rows are
// fitted, the benchmark's rows projected, never the other way round.
// FitPCA itself is checked against sklearn in scoring/reduce.
func TestPCAProjectsBenchmarkOnReferenceComponents(t *testing.T) {
	ctx := context.Background()
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	for _, d := range []string{reference.CowleyImages, reference.AlgonautsStimuli} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for i := range 14 {
		f, _ := zw.Create(fmt.Sprintf("img%02d.jpg", i))
		if err := jpeg.Encode(f, randomImage(rng), nil); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	os.WriteFile(filepath.Join(dir, reference.CowleyImages, "images_1.zip"), zb.Bytes(), 0o644)
	var fb bytes.Buffer
	jpeg.Encode(&fb, randomImage(rng), nil)
	os.WriteFile(filepath.Join(dir, reference.AlgonautsStimuli, "image_01.jpg"), fb.Bytes(), 0o644)
	pool, err := reference.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const k = 4
	if err := m.SetReduction(Reduction{Kind: ReducePCA, K: k}, PCASettings{Pool: pool, Images: 12, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	red, err := m.ReductionFor(ctx, models.UsedImages{Benchmark: "tiny.IT", Stimuli: 6})
	if err != nil || !strings.HasPrefix(red, "pca:4@") || !strings.HasSuffix(red, m.ref.Name()) {
		t.Fatalf("reduction %q, %v", red, err)
	}
	stim := imageList{}
	for range 6 {
		stim = append(stim, randomImage(rng))
	}
	var layers []models.Layer
	for _, l := range m.Layers() {
		if !l.IsOutput && l.PerStimulus {
			layers = append(layers, l)
		}
	}
	got := collect{}
	if err := m.Extract(ctx, stim, layers, got, nil); err != nil {
		t.Fatal(err)
	}
	// The same features extracted apart, then fitted and projected here.
	opts := ort.Options{PoolTo: PCAPoolTo}
	ref, bench := collect{}, collect{}
	for _, c := range []struct {
		s   models.Stimuli
		dst collect
	}{{m.ref, ref}, {stim, bench}} {
		ex, err := m.rt.NewExtractor(m.checked, m.info.Spec, layers, opts)
		if err != nil {
			t.Fatal(err)
		}
		err = ex.Run(ctx, c.s, c.dst, nil)
		ex.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range layers {
		x := got[l.ID]
		if x.Rows != 6 || x.Cols != k || m.Features(l) != k {
			t.Fatalf("%s: %d×%d activations (Features %d), want 6×%d", l.ID, x.Rows, x.Cols, m.Features(l), k)
		}
		p, err := reduce.FitPCA(ref[l.ID], k)
		if err != nil {
			t.Fatal(err)
		}
		want := linalg.NewMatrix[float32](6, k)
		p.Transform(want, bench[l.ID])
		for i, v := range want.Data {
			if math.Abs(float64(v-x.Data[i])) > 1e-4*(1+math.Abs(float64(v))) {
				t.Fatalf("%s: projection %d is %g, want %g (fitted on the reference rows alone)", l.ID, i, x.Data[i], v)
			}
		}
	}
}
