package onnxmodel

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

func floats(t *onnxpb.TensorProto) []float32 {
	if fd := t.GetFloatData(); len(fd) > 0 {
		return slices.Clone(fd)
	}
	raw := t.GetRawData()
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

func TestShuffleWeightsPermutesEveryTensor(t *testing.T) {
	path := "../../../shared/models/mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_float32.onnx"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("shared models not available: %v", err)
	}
	out, n, err := ShuffleWeights(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := ShuffleWeights(data, 1)
	if !bytes.Equal(out, again) {
		t.Fatal("the same seed gave different bytes")
	}
	if n < 50 {
		t.Fatalf("shuffled %d tensors, want every weight tensor (MobileNetV2 has over 50)", n)
	}
	orig, _ := Parse(data)
	shuf, _ := Parse(out)
	changed := 0
	for i, a := range orig.GetGraph().GetInitializer() {
		b := shuf.GetGraph().GetInitializer()[i]
		if a.GetName() != b.GetName() || !slices.Equal(a.GetDims(), b.GetDims()) {
			t.Fatalf("initializer %d: name or shape changed", i)
		}
		x, y := floats(a), floats(b)
		if a.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
			if !slices.Equal(x, y) && len(a.GetRawData()) > 0 {
				t.Fatalf("non-float initializer %s changed", a.GetName())
			}
			continue
		}
		// A permutation: the same multiset of values.
		sx, sy := slices.Clone(x), slices.Clone(y)
		slices.Sort(sx)
		slices.Sort(sy)
		if !slices.Equal(sx, sy) {
			t.Fatalf("initializer %s: values are not a permutation of the original", a.GetName())
		}
		if !slices.Equal(x, y) {
			changed++
		}
	}
	if changed < 50 {
		t.Fatalf("only %d float initializers changed", changed)
	}
}
