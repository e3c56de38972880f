package onnxmodel_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

func tinyCNN() *Builder { return onnxtest.TinyCNN() }

// chainModel is conv → Clip (bounds as inputs) → Min (per-channel
// constant), a fuzzing seed for ElementwiseOutputs.
func chainModel() *Builder {
	b := NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 4, 4).Output("min")
	b.Initializer("w", []int64{2, 3, 1, 1}, []float32{1, 2, 3, 4, 5, 6})
	b.Initializer("lo", nil, []float32{-1})
	b.Initializer("hi", nil, []float32{6})
	b.Initializer("c", []int64{1, 2, 1, 1}, []float32{2, 3})
	b.Node("Conv", []string{"image", "w"}, []string{"conv"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Clip", []string{"conv", "lo", "hi"}, []string{"clip"})
	b.Node("Min", []string{"clip", "c"}, []string{"min"})
	return b
}

func TestValidateGood(t *testing.T) {
	c, err := Validate(tinyCNN().Bytes(), DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Layout != models.NCHW || c.Channels != 3 || c.Parameters != 54 || c.Opset != 13 {
		t.Errorf("layout %s channels %d params %d opset %d", c.Layout, c.Channels, c.Parameters, c.Opset)
	}
	layers, err := Layers(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"L000.Conv", "L001.Relu", "L002.MaxPool"}
	for i, l := range layers {
		if l.ID != want[i] {
			t.Errorf("layer %d: %s, want %s", i, l.ID, want[i])
		}
	}
	if !layers[2].IsOutput || layers[0].IsOutput || layers[2].Depth != 1 || layers[0].Depth != 1.0/3 {
		t.Errorf("outputs/depth wrong: %+v", layers)
	}
}

// Each bad model is refused with a ValidationError naming the problem.
func TestValidateRefusals(t *testing.T) {
	for _, tc := range onnxtest.BadModels() {
		t.Run(tc.Name, func(t *testing.T) {
			c, err := Validate(tc.Data, DefaultConfig(), nil)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			var ve *models.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, models.ErrInvalidModel) || !errors.Is(err, tc.Kind) {
				t.Fatalf("err %v (%T) does not wrap %v", err, err, tc.Kind)
			}
			if !strings.Contains(err.Error(), tc.Msg) {
				t.Errorf("message %q does not mention %q", err, tc.Msg)
			}
			t.Log(err)
		})
	}
}

// All problems of a model are reported together.
func TestValidateCollectsAll(t *testing.T) {
	b := tinyCNN()
	n := b.Node("FancyOp", []string{"pool"}, []string{"fancy"})
	n.Domain = proto.String("com.example")
	w := b.M.Graph.Initializer[0]
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	b.Input("second", onnxpb.TensorProto_FLOAT, 1, 3, 8, 8)
	_, err := Validate(b.Bytes(), DefaultConfig(), nil)
	for _, kind := range []error{models.ErrCustomOperator, models.ErrExternalData, models.ErrInput} {
		if !errors.Is(err, kind) {
			t.Errorf("%v: missing %v", err, kind)
		}
	}
}

func TestValidateSizeLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxFileBytes = 100
	dir := t.TempDir()
	p := filepath.Join(dir, "big.onnx")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0}, 101), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ValidateFile(p, cfg, nil)
	if !errors.Is(err, models.ErrTooLarge) || !strings.Contains(err.Error(), "limit of 100") {
		t.Fatalf("err = %v", err)
	}
}

// Unknown (newer-than-schema) fields survive a round trip.
func TestRoundTripUnknownFields(t *testing.T) {
	data := tinyCNN().Bytes()
	// Field 1000, varint 42: not in ONNX 1.12's ModelProto.
	data = append(data, 0xc0, 0x3e, 42)
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("unknown field dropped on parse")
	}
	out, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Errorf("round trip changed the bytes: %d → %d", len(data), len(out))
	}
}

func TestSpecCheck(t *testing.T) {
	c, err := Validate(tinyCNN().Bytes(), DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := SpecFor(c)
	if err := CheckSpec(c, spec); err != nil {
		t.Fatalf("spec from the model refused: %v", err)
	}
	bad := spec
	bad.Layout, bad.InputSize, bad.Pixel = models.NHWC, 224, models.PixelUint8
	err = CheckSpec(c, bad)
	if !errors.Is(err, models.ErrSpec) || !strings.Contains(err.Error(), "layout") || !strings.Contains(err.Error(), "size") || !strings.Contains(err.Error(), "pixel") {
		t.Errorf("err = %v", err)
	}
}

// FuzzValidate: validation never panics, and anything it accepts has one
// rank-4 image input and survives a marshal/parse round trip.
func FuzzValidate(f *testing.F) {
	f.Add(tinyCNN().Bytes())
	f.Add(chainModel().Bytes())
	f.Add([]byte("not a model"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Validate(data, DefaultConfig(), nil)
		if err != nil {
			if !errors.Is(err, models.ErrInvalidModel) {
				t.Fatalf("refusal %v does not wrap ErrInvalidModel", err)
			}
			return
		}
		if len(c.Input.Shape) != 4 || (c.Channels != 1 && c.Channels != 3) {
			t.Fatalf("accepted input %v with %d channels", c.Input, c.Channels)
		}
		layers, err := Layers(c.Model)
		if err != nil {
			t.Logf("layers: %v", err)
		}
		// Elementwise recognition reads constants out of the model: it must
		// not panic whatever they hold, nor its functions on any shape.
		ew := ElementwiseOutputs(c.Model)
		for _, l := range layers {
			if e, ok := ew[l.Tensor]; ok {
				if fn, ok := e.Bind(l.Shape); ok && l.Features() > 0 {
					fn(0, 1)
					fn(int(l.Features()-1), -1)
				}
			}
		}
		out, err := proto.Marshal(c.Model)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		shape []int64
		max   int64
		ceil  bool
		want  int64
	}{
		{[]int64{-1, 32, 112, 112}, 4096, true, 32 * 11 * 11}, // g = 11, kernel 11
		{[]int64{-1, 320, 7, 7}, 4096, true, 320 * 3 * 3},     // g = 3, kernel 3, ceil → 3×3
		{[]int64{-1, 320, 7, 7}, 4096, false, 320 * 2 * 2},    // floor → 2×2
		{[]int64{-1, 1280, 7, 7}, 1024, true, 1280},           // channels alone exceed the budget
		{[]int64{-1, 4096}, 1024, true, 4096},                 // not rank 4: unchanged
		{[]int64{-1, 16, 8, 8}, 4096, true, 1024},             // small enough: unchanged
	} {
		p := Plan(models.Layer{Shape: tc.shape}, tc.max, tc.ceil)
		if got := (models.Layer{Shape: p.Shape}).Features(); got != tc.want {
			t.Errorf("%v ≤ %d (ceil %v): %d values (%v, kernel %v), want %d", tc.shape, tc.max, tc.ceil, got, p.Shape, p.Kernel, tc.want)
		}
	}
}
