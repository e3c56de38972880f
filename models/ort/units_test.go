package ort

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/activations"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// collect keeps every row handed out, per layer, in stimulus order.
type collect map[string][][]float32

func (c collect) Consume(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
	for _, r := range rows {
		c[l.ID] = append(c[l.ID], slices.Clone(r))
	}
	return nil
}

// unitsAgree runs e (with Options.Units) and full (every layer whole) over
// stim and checks that every value e hands out is, exactly, the value
// ONNX Runtime computed for that layer at that unit.
func unitsAgree(t *testing.T, e, full *Extractor, stim models.Stimuli) {
	t.Helper()
	got, want := collect{}, collect{}
	if err := e.Run(context.Background(), stim, got, nil); err != nil {
		t.Fatal(err)
	}
	if err := full.Run(context.Background(), stim, want, nil); err != nil {
		t.Fatal(err)
	}
	units := e.Units()
	for i, l := range e.Layers() {
		if len(got[l.ID]) != stim.Len() {
			t.Fatalf("%s: %d rows, want %d", l.ID, len(got[l.ID]), stim.Len())
		}
		for s, row := range got[l.ID] {
			w := want[l.ID][s]
			if units[i] == nil {
				if !slices.Equal(row, w) {
					t.Fatalf("%s stimulus %d: whole layer differs from ONNX Runtime's", l.ID, s)
				}
				continue
			}
			if len(row) != len(units[i]) {
				t.Fatalf("%s: %d values for %d units", l.ID, len(row), len(units[i]))
			}
			for q, u := range units[i] {
				if row[q] != w[u] {
					t.Fatalf("%s stimulus %d unit %d: got %v, ONNX Runtime computed %v", l.ID, s, u, row[q], w[u])
				}
			}
		}
	}
}

// TestUnitsMobileNetV2 extracts all 245 layers of MobileNetV2 with 1024
// units per wide layer: the clipping, ReLU and per-channel minimum layers
// (173 of them) are computed from the layers they follow, and every value
// must equal ONNX Runtime's for that layer.
func TestUnitsMobileNetV2(t *testing.T) {
	shared := sharedDir(t)
	stim := algonauts(t, shared)[:6]
	r := runtime(t)
	c, layers := mobileNetV2(t, shared)
	chosen := perStimulus(layers)
	choose := activations.SubsampleUnits(1024, 1)
	opts := Options{Units: choose, UnitsKey: "sample1024-seed1", Overlap: true}
	e, err := r.NewExtractor(c, models.MobileNetV2Float, chosen, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	full, err := r.NewExtractor(c, models.MobileNetV2Float, chosen, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if e.Exposed() > 80 {
		t.Errorf("%d of %d layers exposed: elementwise layers should be derived", e.Exposed(), len(chosen))
	}
	units := e.Units()
	wide := 0
	for i, l := range chosen {
		if l.Features() > 1024 {
			wide++
			if len(units[i]) != 1024 || e.Widths()[i] != 1024 {
				t.Errorf("%s (%d values): %d units, width %d", l.ID, l.Features(), len(units[i]), e.Widths()[i])
			}
		} else if units[i] != nil {
			t.Errorf("%s (%d values) is subsampled", l.ID, l.Features())
		}
	}
	if wide < 150 {
		t.Fatalf("only %d layers wider than 1024", wide)
	}
	t.Logf("%d layers, %d exposed, %d subsampled, batch %d", len(chosen), e.Exposed(), wide, e.BatchSize())
	unitsAgree(t, e, full, stim)
	if opts.Reduction() == (Options{}).Reduction() {
		t.Error("cache keys do not tell the two apart")
	}
}

// TestUnitsChains builds Conv → Clip (scalar bounds as inputs) → Relu →
// Min (per-channel constant) → Max (scalar constant first) → Conv, and
// one Clip of the old (attribute) form, and checks the derived layers,
// whole and subsampled, against ONNX Runtime, for both graph forms.
func TestUnitsChains(t *testing.T) {
	r := runtime(t)
	for _, opset := range []int64{13, 9} {
		b := onnxmodel.NewBuilder(opset).Input("image", onnxpb.TensorProto_FLOAT, -1, 1, 6, 6).Output("out")
		b.Initializer("w", []int64{3, 1, 3, 3}, []float32{1, -1, 0.5, 0, 2, -1, 1, 1, -0.5, -1, 0.25, 1, 0, -2, 1, 0.5, 1, -1, 0.3, 0.7, -0.2, 1, -1, 0.1, 0, 2, -3})
		b.Initializer("lo", nil, []float32{-40})
		b.Initializer("hi", nil, []float32{90})
		b.Initializer("chmin", []int64{1, 3, 1, 1}, []float32{10, 50, -5})
		b.Initializer("floor", []int64{1}, []float32{2})
		b.Initializer("w2", []int64{1, 3, 1, 1}, []float32{1, -1, 2})
		b.Node("Conv", []string{"image", "w"}, []string{"conv"}, onnxmodel.AttrInts("kernel_shape", 3, 3))
		if opset >= 11 {
			b.Node("Clip", []string{"conv", "lo", "hi"}, []string{"clip"})
		} else {
			b.Node("Clip", []string{"conv"}, []string{"clip"}, attrFloat("min", -40), attrFloat("max", 90))
		}
		b.Node("Relu", []string{"clip"}, []string{"relu"})
		b.Node("Min", []string{"relu", "chmin"}, []string{"min"})
		b.Node("Max", []string{"floor", "min"}, []string{"max"})
		b.Node("Conv", []string{"max", "w2"}, []string{"out"}, onnxmodel.AttrInts("kernel_shape", 1, 1))
		path := filepath.Join(t.TempDir(), "chain.onnx")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		c := loadModel(t, path)
		layers, err := r.Inspect(c.Model)
		if err != nil {
			t.Fatal(err)
		}
		spec := models.Spec{InputSize: 6, CropFraction: 1, Scale: []float64{1}, Offset: []float64{-100}, Channels: 1, ChannelOrder: "RGB", Layout: models.NCHW, Pixel: models.PixelFloat}
		var stim images
		for k := range 5 {
			px := make([][]uint8, 6)
			for y := range px {
				px[y] = make([]uint8, 6)
				for x := range px[y] {
					px[y][x] = uint8((37*k + 11*y*y + 29*x + 7*x*y) % 256)
				}
			}
			stim = append(stim, grey(px))
		}
		full, err := r.NewExtractor(c, spec, layers, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, every := range []int{0, 3} {
			choose := func(l models.Layer) []int {
				if every == 0 {
					return nil
				}
				var u []int
				for p := 1; p < int(l.Features()); p += every {
					u = append(u, p)
				}
				return u
			}
			rr := &Runtime{cfg: r.cfg}
			rr.cfg.BatchSize = 2
			e, err := rr.NewExtractor(c, spec, layers, Options{Units: choose, UnitsKey: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if e.Exposed() != 2 {
				t.Errorf("opset %d: %d tensors exposed, want 2 (the convolutions)", opset, e.Exposed())
			}
			unitsAgree(t, e, full, stim)
			e.Close()
		}
		full.Close()
	}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &v}
}

// TestUnitsQuantized: the uint8 MobileNetV1 (fixed batch 1, integer
// tensors between quantize and dequantize nodes) and the int8 MobileNetV2
// with Units: every value still equals ONNX Runtime's.
func TestUnitsQuantized(t *testing.T) {
	shared := sharedDir(t)
	stim := algonauts(t, shared)[:2]
	r := runtime(t)
	for _, c := range []struct {
		file string
		spec models.Spec
	}{
		{filepath.Join("mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_uint8.onnx"), models.MobileNetV1Uint8},
		{filepath.Join("mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_int8.onnx"), models.MobileNetV2Uint8},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			unitsMatchFull(t, r, filepath.Join(shared, "models", c.file), c.spec, activations.SubsampleUnits(256, 5), stim)
		})
	}
}

// TestUnitsArchitectures runs every architecture in the shared models
// folder with 512 units per wide layer and checks every value handed out
// against ONNX Runtime's own output of that layer (ReLU after additions,
// concatenations, clipping in other graphs' forms).
func TestUnitsArchitectures(t *testing.T) {
	shared := sharedDir(t)
	stim := algonauts(t, shared)[:2]
	paths, _ := filepath.Glob(filepath.Join(shared, "models", "architectures", "*.onnx"))
	if len(paths) == 0 {
		t.Skip("no architectures")
	}
	r := runtime(t)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			unitsMatchFull(t, r, p, models.ImageNetNCHW, activations.SubsampleUnits(512, 3), stim)
		})
	}
}

// unitsMatchFull extracts every per-stimulus layer of the model at path
// with the given Units and whole, and checks them against each other.
func unitsMatchFull(t *testing.T, r *Runtime, path string, spec models.Spec, units func(models.Layer) []int, stim models.Stimuli) {
	t.Helper()
	c := loadModel(t, path)
	layers, err := r.Inspect(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	chosen := perStimulus(layers)
	e, err := r.NewExtractor(c, spec, chosen, Options{Units: units, UnitsKey: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	full, err := r.NewExtractor(c, spec, chosen, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	t.Logf("%d layers, %d exposed", len(chosen), e.Exposed())
	unitsAgree(t, e, full, stim)
}
