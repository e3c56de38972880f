package onnxmodel

import (
	"bytes"
	"math"
	"os"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// untrainedFixture is a small network with every kind of weight Untrained
// handles: a grouped Conv with a bias, a BatchNormalization, a Gemm with
// transB=1, a MatMul followed by a bias Add, a Conv weight computed by
// ConstantOfShape (as in the "light" model-zoo architectures) and a clip
// constant that must stay. Every weight starts at 0.5.
func untrainedFixture() *Builder {
	b := NewBuilder(13).Input("x", onnxpb.TensorProto_FLOAT, -1, 32, 8, 8).Output("y")
	full := func(v float32, dims ...int64) []float32 {
		n := int(dimProduct(dims, 0, len(dims)))
		out := make([]float32, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	// Conv 32→64, group 2: W is 64×16×3×3, fan_in = 16·3·3 = 144.
	b.Initializer("conv_w", []int64{64, 16, 3, 3}, full(0.5, 64, 16, 3, 3))
	b.Initializer("conv_b", []int64{64}, full(0.5, 64))
	b.Node("Conv", []string{"x", "conv_w", "conv_b"}, []string{"c1"}, AttrInts("kernel_shape", 3, 3), AttrInt("group", 2))
	for _, p := range []string{"bn_s", "bn_b", "bn_m", "bn_v"} {
		b.Initializer(p, []int64{64}, full(0.5, 64))
	}
	b.Node("BatchNormalization", []string{"c1", "bn_s", "bn_b", "bn_m", "bn_v"}, []string{"bn"})
	b.Initializer("clip_max", nil, []float32{6})
	b.Initializer("clip_min", nil, []float32{0})
	b.Node("Clip", []string{"bn", "clip_min", "clip_max"}, []string{"relu6"})
	// A second Conv 64→8, 1×1, its weight made by ConstantOfShape:
	// fan_in = 64.
	shape := &onnxpb.TensorProto{Name: proto.String("c2_shape"), Dims: []int64{4}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
		Int64Data: []int64{8, 64, 1, 1}}
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, shape)
	b.Node("ConstantOfShape", []string{"c2_shape"}, []string{"c2_w"}, &onnxpb.AttributeProto{Name: proto.String("value"),
		Type: onnxpb.AttributeProto_TENSOR.Enum(), T: &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{0.02}}})
	b.Node("Conv", []string{"relu6", "c2_w"}, []string{"c2"}, AttrInts("kernel_shape", 1, 1))
	b.Node("GlobalAveragePool", []string{"c2"}, []string{"gap"})
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("flat_shape"), Dims: []int64{2},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{-1, 8}})
	b.Node("Reshape", []string{"gap", "flat_shape"}, []string{"flat"})
	// Gemm with transB=1: B is N×K = 4096×8, fan_in = K = 8.
	b.Initializer("gemm_w", []int64{4096, 8}, full(0.5, 4096, 8))
	b.Initializer("gemm_b", []int64{4096}, full(0.5, 4096))
	b.Node("Gemm", []string{"flat", "gemm_w", "gemm_b"}, []string{"fc1"}, AttrInt("transB", 1))
	// MatMul: B is K×N = 4096×10, fan_in = 4096; then its bias.
	b.Initializer("mm_w", []int64{4096, 10}, full(0.5, 4096, 10))
	b.Initializer("mm_b", []int64{10}, full(0.5, 10))
	b.Node("MatMul", []string{"fc1", "mm_w"}, []string{"mm"})
	b.Node("Add", []string{"mm", "mm_b"}, []string{"y"})
	return b
}

func initializerValues(t *testing.T, m *onnxpb.ModelProto, name string) ([]int64, []float32) {
	t.Helper()
	for _, x := range m.GetGraph().GetInitializer() {
		if x.GetName() == name {
			return x.GetDims(), floats(x)
		}
	}
	t.Fatalf("no initializer %s", name)
	return nil, nil
}

func meanStd(v []float32) (float64, float64) {
	var s, ss float64
	for _, x := range v {
		s += float64(x)
	}
	mean := s / float64(len(v))
	for _, x := range v {
		ss += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// TestUntrainedHeNormal checks the re-initialisation rule tensor by
// tensor: shapes kept, He-normal weights with std √(2/fan_in) (fan_in
// from each operator's weight layout), zero biases, identity
// BatchNormalization, a ConstantOfShape weight made an initializer, other
// constants untouched; and the same seed gives the same bytes.
func TestUntrainedHeNormal(t *testing.T) {
	data := untrainedFixture().Bytes()
	out, rep, err := Untrained(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Reinit{Weights: 4, Biases: 3, BatchNorms: 1, Materialised: 1}); rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	m, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := Parse(data)
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "ConstantOfShape" {
			t.Errorf("the ConstantOfShape node of a weight is still there: %s", n.GetOutput())
		}
	}
	// Weights: std √(2/fan_in). The sample std of N normal draws has a
	// relative standard error of about 1/√(2N) (≤ 0.6% for N ≥ 1·10⁴ here;
	// 8% for the 512 values of c2_w): tolerances are ~5 of those.
	for _, c := range []struct {
		name  string
		dims  []int64
		fanIn float64
		tol   float64
	}{
		{"conv_w", []int64{64, 16, 3, 3}, 16 * 3 * 3, 0.03},
		{"c2_w", []int64{8, 64, 1, 1}, 64, 0.25},
		{"gemm_w", []int64{4096, 8}, 8, 0.03},
		{"mm_w", []int64{4096, 10}, 4096, 0.03},
	} {
		dims, v := initializerValues(t, m, c.name)
		if !slices.Equal(dims, c.dims) || int64(len(v)) != dimProduct(c.dims, 0, len(c.dims)) {
			t.Errorf("%s: dims %v with %d values, want %v", c.name, dims, len(v), c.dims)
			continue
		}
		mean, std := meanStd(v)
		want := math.Sqrt(2 / c.fanIn)
		if math.Abs(std/want-1) > c.tol || math.Abs(mean) > 5*want/math.Sqrt(float64(len(v))) {
			t.Errorf("%s: mean %.4g std %.4g, want mean 0 and std √(2/%g) = %.4g (relative tolerance %g)", c.name, mean, std, c.fanIn, want, c.tol)
		}
	}
	for name, want := range map[string]float32{"conv_b": 0, "gemm_b": 0, "mm_b": 0, "bn_s": 1, "bn_b": 0, "bn_m": 0, "bn_v": 1, "clip_max": 6, "clip_min": 0} {
		dims, v := initializerValues(t, m, name)
		odims, _ := initializerValues(t, orig, name)
		if !slices.Equal(dims, odims) {
			t.Errorf("%s: dims %v, were %v", name, dims, odims)
		}
		for i, x := range v {
			if x != want {
				t.Errorf("%s[%d] = %g, want %g", name, i, x, want)
				break
			}
		}
	}
	again, _, _ := Untrained(data, 1)
	if !bytes.Equal(out, again) {
		t.Error("the same seed gave different bytes")
	}
	other, _, _ := Untrained(data, 2)
	if bytes.Equal(out, other) {
		t.Error("seeds 1 and 2 gave the same bytes")
	}
	if _, _, err := Untrained(NewBuilder(13).Input("x", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output("y").Bytes(), 1); err == nil {
		t.Error("a model without weights: no error")
	}
}

// TestUntrainedMobileNetV2 re-initialises the shared MobileNetV2 (52
// Conv layers with their biases, and the classifier's MatMul + Add): the
// weights of a 1×1 convolution have the He std of their fan-in, and the
// file keeps every initializer's name and shape.
func TestUntrainedMobileNetV2(t *testing.T) {
	data, err := os.ReadFile("../../../shared/models/mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_float32.onnx")
	if err != nil {
		t.Skipf("shared models not available: %v", err)
	}
	out, rep, err := Untrained(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Weights != 53 || rep.Biases != 53 || rep.Materialised != 0 {
		t.Errorf("report %+v, want 53 weights (52 Conv, 1 MatMul) and 53 biases", rep)
	}
	orig, _ := Parse(data)
	m, _ := Parse(out)
	a, b := orig.GetGraph().GetInitializer(), m.GetGraph().GetInitializer()
	if len(a) != len(b) {
		t.Fatalf("%d initializers, were %d", len(b), len(a))
	}
	checked := 0
	for i := range a {
		if a[i].GetName() != b[i].GetName() || !slices.Equal(a[i].GetDims(), b[i].GetDims()) {
			t.Fatalf("initializer %d: name or shape changed", i)
		}
		d := b[i].GetDims()
		// The largest 1×1 convolution weights (e.g. 1280×320×1×1).
		if len(d) == 4 && d[2] == 1 && d[3] == 1 && d[0]*d[1] >= 100000 {
			_, std := meanStd(floats(b[i]))
			if want := math.Sqrt(2 / float64(d[1])); math.Abs(std/want-1) > 0.03 {
				t.Errorf("%s %v: std %.4g, want √(2/%d) = %.4g", b[i].GetName(), d, std, d[1], want)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no large 1×1 convolution weight found to check")
	}
}
