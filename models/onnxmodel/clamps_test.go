package onnxmodel_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// foldedGraph is SetOutputs(b, outputs, fold) unmarshalled.
func foldedGraph(t *testing.T, b *Builder, outputs []string, fold bool) *onnxpb.GraphProto {
	t.Helper()
	data, err := SetOutputs(b.M, outputs, fold)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m.Graph
}

// ops lists the graph's nodes as "Op(first input)->output".
func ops(g *onnxpb.GraphProto) string {
	var s []string
	for _, n := range g.GetNode() {
		s = append(s, n.GetOpType()+"("+n.GetInput()[0]+")->"+n.GetOutput()[0])
	}
	return strings.Join(s, " ")
}

// constOf is the data and dims of the initializer named by input k of
// the node producing out.
func constOf(t *testing.T, g *onnxpb.GraphProto, out string, k int) ([]float32, []int64) {
	t.Helper()
	for _, n := range g.GetNode() {
		if n.GetOutput()[0] != out {
			continue
		}
		for _, init := range g.GetInitializer() {
			if init.GetName() == n.GetInput()[k] {
				return init.GetFloatData(), init.GetDims()
			}
		}
	}
	t.Fatalf("no initializer for input %d of %s in %s", k, out, ops(g))
	return nil, nil
}

// block is MobileNetV2's inverted-residual tail as tf2onnx exports its
// quantisation-aware version: Conv, Relu, Clip [0, 6], Min per channel,
// Clip [0, 6.5], Relu, Clip [−1, 10], then the projecting Conv.
func block(opset int64) *Builder {
	b := NewBuilder(opset).Input("image", onnxpb.TensorProto_FLOAT, -1, 2, 4, 4).Output("c2")
	b.Initializer("w1", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4})
	b.Initializer("w2", []int64{2, 2, 1, 1}, []float32{1, -1, 2, 1})
	b.Initializer("zero", nil, []float32{0})
	b.Initializer("six", nil, []float32{6})
	b.Initializer("b", nil, []float32{6.5})
	b.Initializer("lo2", nil, []float32{-1})
	b.Initializer("hi2", nil, []float32{10})
	b.Initializer("cpc", []int64{1, 2, 1, 1}, []float32{5, 7})
	b.Node("Conv", []string{"image", "w1"}, []string{"c1"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Relu", []string{"c1"}, []string{"r1"})
	b.Node("Clip", []string{"r1", "zero", "six"}, []string{"k1"})
	b.Node("Min", []string{"k1", "cpc"}, []string{"m1"})
	b.Node("Clip", []string{"m1", "zero", "b"}, []string{"k2"})
	b.Node("Relu", []string{"k2"}, []string{"r2"})
	b.Node("Clip", []string{"r2", "lo2", "hi2"}, []string{"k3"})
	b.Node("Conv", []string{"k3", "w2"}, []string{"c2"}, AttrInts("kernel_shape", 1, 1))
	return b
}

// The six clamping nodes between two convolutions become a Clip that ONNX
// Runtime fuses into the first and one Min per channel whose bounds are
// the tightest of the chain's, channel by channel; the tensor the second
// convolution reads keeps its name.
func TestFoldClampsChain(t *testing.T) {
	b := block(13)
	g := foldedGraph(t, b, []string{"c2"}, true)
	want := "Conv(image)->c1 Clip(c1)->k3/cortexbench_clamp_0 Min(k3/cortexbench_clamp_0)->k3 Conv(k3)->c2"
	if got := ops(g); got != want {
		t.Fatalf("folded graph %s, want %s", got, want)
	}
	lo, _ := constOf(t, g, "k3/cortexbench_clamp_0", 1)
	hi, _ := constOf(t, g, "k3/cortexbench_clamp_0", 2)
	if len(lo) != 1 || lo[0] != 0 || len(hi) != 1 || !math.IsInf(float64(hi[0]), 1) {
		t.Errorf("Clip bounds %v %v, want [0] [+Inf]", lo, hi)
	}
	// channel 0: min(6, 5, 6.5, 10) = 5; channel 1: min(6, 7, 6.5, 10) = 6
	c, dims := constOf(t, g, "k3", 1)
	if !slices.Equal(c, []float32{5, 6}) || !slices.Equal(dims, []int64{1, 2, 1, 1}) {
		t.Errorf("Min bound %v dims %v, want [5 6] [1 2 1 1]", c, dims)
	}
	if len(b.M.Graph.Node) != 8 {
		t.Errorf("the model itself was changed: %d nodes", len(b.M.Graph.Node))
	}
	// Without fold the graph is as given.
	if got := ops(foldedGraph(t, b, []string{"c2"}, false)); strings.Contains(got, "cortexbench") || strings.Count(got, "Clip") != 3 {
		t.Errorf("unfolded graph %s", got)
	}
}

// A tensor the graph outputs (an exposed layer) ends a chain, and a chain
// that ends there is not folded: ONNX Runtime could then compute the
// layer's pooling in another layout.
func TestFoldClampsStopsAtOutputs(t *testing.T) {
	g := foldedGraph(t, block(13), []string{"c2", "m1"}, true)
	want := "Conv(image)->c1 Relu(c1)->r1 Clip(r1)->k1 Min(k1)->m1 Clip(m1)->k3 Conv(k3)->c2"
	if got := ops(g); got != want {
		t.Fatalf("folded graph %s, want %s", got, want)
	}
	lo, _ := constOf(t, g, "k3", 1)
	hi, _ := constOf(t, g, "k3", 2)
	if !slices.Equal(lo, []float32{0}) || !slices.Equal(hi, []float32{6.5}) {
		t.Errorf("Clip bounds %v %v, want [0] [6.5]", lo, hi)
	}
}

// Chains that do not end in a convolution, that do not overlap, that
// cannot be typed, or in an old opset are left alone.
func TestFoldClampsLeavesAlone(t *testing.T) {
	gap := NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 2, 4, 4).Output("gap")
	gap.Initializer("w", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4})
	gap.Initializer("lo", nil, []float32{-1})
	gap.Initializer("hi", nil, []float32{6})
	gap.Node("Conv", []string{"image", "w"}, []string{"c"}, AttrInts("kernel_shape", 1, 1))
	gap.Node("Clip", []string{"c", "lo", "hi"}, []string{"k1"})
	gap.Node("Relu", []string{"k1"}, []string{"k2"})
	gap.Node("GlobalAveragePool", []string{"k2"}, []string{"gap"})

	apart := NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 2, 4, 4).Output("c2")
	apart.Initializer("w", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4})
	apart.Initializer("a", nil, []float32{0})
	apart.Initializer("b", nil, []float32{1})
	apart.Initializer("c", nil, []float32{2})
	apart.Initializer("d", nil, []float32{3})
	apart.Node("Clip", []string{"image", "a", "b"}, []string{"k1"})
	apart.Node("Clip", []string{"k1", "c", "d"}, []string{"k2"}) // [0, 1] then [2, 3]: always 2
	apart.Node("Conv", []string{"k2", "w"}, []string{"c2"}, AttrInts("kernel_shape", 1, 1))

	relus := NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 2, 4, 4).Output("c2")
	relus.Initializer("w", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4})
	relus.Node("Relu", []string{"image"}, []string{"r1"})
	relus.Node("Relu", []string{"r1"}, []string{"r2"}) // no float32 constant: the type is not known
	relus.Node("Conv", []string{"r2", "w"}, []string{"c2"}, AttrInts("kernel_shape", 1, 1))

	clash := block(13) // the first Conv's output named as the fold would name its Clip's
	for _, n := range clash.M.Graph.Node {
		for k, s := range n.Input {
			if s == "c1" {
				n.Input[k] = "k3/cortexbench_clamp_0"
			}
		}
		if n.Output[0] == "c1" {
			n.Output[0] = "k3/cortexbench_clamp_0"
		}
	}

	for name, tc := range map[string]struct {
		b   *Builder
		out string
	}{"into a pooling": {gap, "gap"}, "bounds apart": {apart, "c2"}, "untyped": {relus, "c2"}, "opset 10": {block(10), "c2"}, "name taken": {clash, "c2"}} {
		want := ops(foldedGraph(t, tc.b, []string{tc.out}, false))
		if got := ops(foldedGraph(t, tc.b, []string{tc.out}, true)); got != want {
			t.Errorf("%s: folded to %s, want it as given: %s", name, got, want)
		}
	}
}

// padded is Conv, Clip [0, 6], Pad (zeros, spatial only), Clip [cl, ch],
// then a strided Conv, as tf2onnx writes MobileNetV2's stride-2 blocks.
func padded(cl, ch float32, pads []int64) *Builder {
	b := NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 2, 4, 4).Output("c2")
	b.Initializer("w", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4})
	b.Initializer("zero", nil, []float32{0})
	b.Initializer("six", nil, []float32{6})
	b.Initializer("cl", nil, []float32{cl})
	b.Initializer("ch", nil, []float32{ch})
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, &onnxpb.TensorProto{
		Name: proto.String("pads"), Dims: []int64{int64(len(pads))}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: pads})
	b.Node("Conv", []string{"image", "w"}, []string{"c1"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Clip", []string{"c1", "zero", "six"}, []string{"k1"})
	b.Node("Pad", []string{"k1", "pads"}, []string{"p"})
	b.Node("Clip", []string{"p", "cl", "ch"}, []string{"k2"})
	b.Node("Conv", []string{"k2", "w"}, []string{"c2"}, AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2))
	return b
}

// A clip that keeps zeros moves in front of a zero Pad and merges with
// the clip there, so that the Pad meets the convolution; one that would
// change the padding's zeros stays behind it.
func TestFoldClampsAcrossPad(t *testing.T) {
	spatial := []int64{0, 0, 0, 0, 0, 0, 1, 1}
	g := foldedGraph(t, padded(-1, 5, spatial), []string{"c2"}, true)
	want := "Conv(image)->c1 Clip(c1)->k2/cortexbench_unpadded Pad(k2/cortexbench_unpadded)->k2 Conv(k2)->c2"
	if got := ops(g); got != want {
		t.Fatalf("folded graph %s, want %s", got, want)
	}
	lo, _ := constOf(t, g, "k2/cortexbench_unpadded", 1)
	hi, _ := constOf(t, g, "k2/cortexbench_unpadded", 2)
	if !slices.Equal(lo, []float32{0}) || !slices.Equal(hi, []float32{5}) {
		t.Errorf("Clip bounds %v %v, want [0] [5]", lo, hi)
	}
	keepsPad := padded(1, 5, spatial) // clip(0) = 1: the padding would change
	if got, want := ops(foldedGraph(t, keepsPad, []string{"c2"}, true)), ops(foldedGraph(t, keepsPad, []string{"c2"}, false)); got != want {
		t.Errorf("clip [1, 5] behind a Pad: folded to %s, want %s", got, want)
	}
}

// A per-channel bound moves in front of a Pad only when the Pad leaves
// the channel axis alone.
func TestFoldClampsPerChannelPad(t *testing.T) {
	for _, tc := range []struct {
		pads []int64
		move bool
	}{{[]int64{0, 0, 0, 0, 0, 0, 1, 1}, true}, {[]int64{0, 1, 0, 0, 0, 0, 0, 0}, false}} {
		b := padded(-1, 5, tc.pads)
		b.Initializer("cpc", []int64{1, 2, 1, 1}, []float32{3, 4})
		for _, n := range b.M.Graph.Node {
			if n.GetOutput()[0] == "k2" { // Clip [−1, 5] → Min per channel
				n.OpType, n.Input = proto.String("Min"), []string{"p", "cpc"}
			}
		}
		got := ops(foldedGraph(t, b, []string{"c2"}, true))
		if moved := strings.Contains(got, "Pad(k2/cortexbench_unpadded)->k2"); moved != tc.move {
			t.Errorf("pads %v: folded graph %s; moved in front of the Pad: %t, want %t", tc.pads, got, moved, tc.move)
		}
	}
}
