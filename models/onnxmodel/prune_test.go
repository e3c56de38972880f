package onnxmodel_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// graphNames lists the graph's nodes (by first output), initializers and
// inputs of a marshalled model.
func graphNames(t *testing.T, data []byte) (nodes, inits, inputs []string) {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.GetNode() {
		nodes = append(nodes, n.GetOutput()[0])
	}
	for _, i := range m.Graph.GetInitializer() {
		inits = append(inits, i.GetName())
	}
	for _, i := range m.Graph.GetInput() {
		inputs = append(inputs, i.GetName())
	}
	return nodes, inits, inputs
}

// A model with an inner layer as its only output keeps just the nodes
// that layer depends on, and the initializers they read: ONNX Runtime
// runs every node of the graph it is given, whatever is fetched.
func TestSetOutputsPrunes(t *testing.T) {
	m := chainModel().M // image → Conv(w) → Clip(lo, hi) → Min(c)
	for _, tc := range []struct {
		outputs           []string
		nodes, inits, ins []string
	}{
		{[]string{"conv"}, []string{"conv"}, []string{"w"}, []string{"image"}},
		{[]string{"clip"}, []string{"conv", "clip"}, []string{"w", "lo", "hi"}, []string{"image"}},
		{[]string{"clip", "conv"}, []string{"conv", "clip"}, []string{"w", "lo", "hi"}, []string{"image"}},
		{[]string{"min"}, []string{"conv", "clip", "min"}, []string{"w", "lo", "hi", "c"}, []string{"image"}},
	} {
		data, err := SetOutputs(m, tc.outputs, false)
		if err != nil {
			t.Fatal(err)
		}
		nodes, inits, ins := graphNames(t, data)
		if !slices.Equal(nodes, tc.nodes) || !slices.Equal(inits, tc.inits) || !slices.Equal(ins, tc.ins) {
			t.Errorf("outputs %v: nodes %v initializers %v inputs %v, want %v %v %v", tc.outputs, nodes, inits, ins, tc.nodes, tc.inits, tc.ins)
		}
	}
	if len(m.Graph.Node) != 3 || len(m.Graph.Initializer) != 4 {
		t.Errorf("the model itself was changed: %d nodes, %d initializers", len(m.Graph.Node), len(m.Graph.Initializer))
	}

	// PooledOutputs prunes the same way, its AveragePool kept.
	b := NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output("out")
	b.Initializer("w", []int64{4, 3, 1, 1}, make([]float32, 12))
	b.Initializer("w2", []int64{4, 4, 1, 1}, make([]float32, 16))
	b.Node("Conv", []string{"image", "w"}, []string{"conv"}, AttrInts("kernel_shape", 1, 1))
	b.Node("Conv", []string{"conv", "w2"}, []string{"out"}, AttrInts("kernel_shape", 1, 1))
	data, plans, err := PooledOutputs(b.M, []models.Layer{{Tensor: "conv", Shape: []int64{-1, 4, 8, 8}}}, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	nodes, inits, _ := graphNames(t, data)
	if !slices.Equal(nodes, []string{"conv", plans[0].Output}) || !slices.Equal(inits, []string{"w"}) {
		t.Errorf("pooled inner layer: nodes %v initializers %v, want [conv %s] [w]", nodes, inits, plans[0].Output)
	}
}

// Before IR version 4 initializers were listed as graph inputs too: an
// initializer dropped goes from the inputs with it, or ONNX Runtime would
// ask for it to be fed.
func TestPruneDropsInitializerInputs(t *testing.T) {
	b := chainModel()
	b.M.IrVersion = proto.Int64(3)
	for _, name := range []string{"w", "lo", "hi", "c"} {
		b.Input(name, onnxpb.TensorProto_FLOAT)
	}
	data, err := SetOutputs(b.M, []string{"conv"}, false)
	if err != nil {
		t.Fatal(err)
	}
	_, inits, ins := graphNames(t, data)
	if !slices.Equal(inits, []string{"w"}) || !slices.Equal(ins, []string{"image", "w"}) {
		t.Errorf("initializers %v inputs %v, want [w] [image w]", inits, ins)
	}
}

// A graph with a subgraph (If, Loop, Scan: their bodies may read outer
// tensors by name) is left whole, and so is a node listed before its
// producer's consumers in file order (the walk goes by name, not order).
func TestPruneSubgraphsAndOrder(t *testing.T) {
	b := chainModel()
	b.Node("If", []string{"cond"}, []string{"branch"}, &onnxpb.AttributeProto{
		Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: &onnxpb.GraphProto{Name: proto.String("then")}})
	data, err := SetOutputs(b.M, []string{"conv"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if nodes, _, _ := graphNames(t, data); len(nodes) != 4 {
		t.Errorf("graph with a subgraph pruned to %v, want all 4 nodes", nodes)
	}

	r := chainModel()
	n := r.M.Graph.Node
	r.M.Graph.Node = []*onnxpb.NodeProto{n[2], n[0], n[1]} // Min, Conv, Clip
	data, err = SetOutputs(r.M, []string{"clip"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if nodes, _, _ := graphNames(t, data); !slices.Equal(nodes, []string{"conv", "clip"}) {
		t.Errorf("unsorted graph: nodes %v, want [conv clip]", nodes)
	}
}
