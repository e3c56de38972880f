package onnxmodel

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Parse decodes an ONNX file. Unknown (newer) fields are kept, so Marshal
// gives them back.
func Parse(data []byte) (*onnxpb.ModelProto, error) {
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode ONNX protobuf: %w", err)
	}
	return m, nil
}

// ElemTypeName is the ONNX name of an element type: "float", "uint8", ...
func ElemTypeName(t int32) string {
	names := map[onnxpb.TensorProto_DataType]string{
		onnxpb.TensorProto_FLOAT: "float", onnxpb.TensorProto_UINT8: "uint8", onnxpb.TensorProto_INT8: "int8",
		onnxpb.TensorProto_UINT16: "uint16", onnxpb.TensorProto_INT16: "int16", onnxpb.TensorProto_INT32: "int32",
		onnxpb.TensorProto_INT64: "int64", onnxpb.TensorProto_STRING: "string", onnxpb.TensorProto_BOOL: "bool",
		onnxpb.TensorProto_FLOAT16: "float16", onnxpb.TensorProto_DOUBLE: "double", onnxpb.TensorProto_UINT32: "uint32",
		onnxpb.TensorProto_UINT64: "uint64", onnxpb.TensorProto_BFLOAT16: "bfloat16",
	}
	if n, ok := names[onnxpb.TensorProto_DataType(t)]; ok {
		return n
	}
	return fmt.Sprintf("type%d", t)
}

// TensorOf describes a value info: name, element type, dims (-1 unknown).
// ok is false when it is not a tensor.
func TensorOf(v *onnxpb.ValueInfoProto) (t models.Tensor, ok bool) {
	t.Name = v.GetName()
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return t, false
	}
	t.Type = ElemTypeName(tt.GetElemType())
	if tt.Shape == nil {
		return t, true
	}
	t.Shape = make([]int64, len(tt.Shape.Dim))
	for i, d := range tt.Shape.Dim {
		t.Shape[i] = -1
		if dv, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			t.Shape[i] = dv.DimValue
		}
	}
	return t, true
}

// ImageInputs returns the graph inputs that are not initializers.
func ImageInputs(g *onnxpb.GraphProto) []*onnxpb.ValueInfoProto {
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, t := range g.GetSparseInitializer() {
		inits[t.GetValues().GetName()] = true
	}
	var out []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if !inits[in.GetName()] {
			out = append(out, in)
		}
	}
	return out
}

// Parameters is the number of values in the initializers.
func Parameters(g *onnxpb.GraphProto) int64 {
	var n int64
	count := func(dims []int64) {
		p := int64(1)
		for _, d := range dims {
			p *= d
		}
		n += p
	}
	for _, t := range g.GetInitializer() {
		count(t.GetDims())
	}
	for _, t := range g.GetSparseInitializer() {
		count(t.GetDims())
	}
	return n
}

// Opset is the model's version of the default (ai.onnx) domain.
func Opset(m *onnxpb.ModelProto) int64 {
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

// Expose returns a copy of m, marshalled, whose graph outputs are its own
// outputs plus the named tensors (node outputs), in that order, without a
// type so that ONNX Runtime infers it. Names already outputs are not
// repeated.
func Expose(m *onnxpb.ModelProto, tensors []string) ([]byte, error) {
	c := proto.Clone(m).(*onnxpb.ModelProto)
	have := map[string]bool{}
	for _, o := range c.Graph.GetOutput() {
		have[o.GetName()] = true
	}
	for _, t := range tensors {
		if have[t] {
			continue
		}
		have[t] = true
		c.Graph.Output = append(c.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(t)})
	}
	data, err := proto.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("marshal model with exposed outputs: %w", err)
	}
	return data, nil
}

// SetOutputs returns m marshalled with exactly the named graph outputs
// (untyped unless already an output), and with chains of clamping nodes
// folded into one when fold is set (foldClamps: the same values).
func SetOutputs(m *onnxpb.ModelProto, tensors []string, fold bool) ([]byte, error) {
	c := proto.Clone(m).(*onnxpb.ModelProto)
	old := map[string]*onnxpb.ValueInfoProto{}
	for _, o := range c.Graph.GetOutput() {
		old[o.GetName()] = o
	}
	c.Graph.Output = nil
	for _, t := range tensors {
		if o, ok := old[t]; ok {
			c.Graph.Output = append(c.Graph.Output, o)
			continue
		}
		c.Graph.Output = append(c.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(t)})
	}
	pruneToOutputs(c.Graph)
	if fold {
		foldClamps(c)
	}
	data, err := proto.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("marshal model with chosen outputs: %w", err)
	}
	return data, nil
}

// pruneToOutputs drops the nodes of g that no graph output depends on,
// and the initializers only they read, so that ONNX Runtime computes an
// inner layer without the rest of the network (it runs every node of a
// graph, whatever is fetched). The nodes kept stay in file order. A graph
// with subgraphs (If, Loop, Scan), whose bodies may read outer tensors by
// name, is left whole.
func pruneToOutputs(g *onnxpb.GraphProto) {
	nodes := g.GetNode()
	producer := map[string]int{}
	for i, n := range nodes {
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil || len(a.GetGraphs()) > 0 {
				return
			}
		}
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	need := map[string]bool{}
	var todo []string
	for _, o := range g.GetOutput() {
		need[o.GetName()] = true
		todo = append(todo, o.GetName())
	}
	keep := make([]bool, len(nodes))
	for len(todo) > 0 {
		t := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		i, ok := producer[t]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		for _, in := range nodes[i].GetInput() {
			if in != "" && !need[in] {
				need[in] = true
				todo = append(todo, in)
			}
		}
	}
	kept := make([]*onnxpb.NodeProto, 0, len(nodes))
	for i, n := range nodes {
		if keep[i] {
			kept = append(kept, n)
		}
	}
	g.Node = kept
	var inits []*onnxpb.TensorProto
	dropped := map[string]bool{}
	for _, t := range g.GetInitializer() {
		if need[t.GetName()] {
			inits = append(inits, t)
		} else {
			dropped[t.GetName()] = true
		}
	}
	g.Initializer = inits
	var sparse []*onnxpb.SparseTensorProto
	for _, t := range g.GetSparseInitializer() {
		if name := t.GetValues().GetName(); need[name] {
			sparse = append(sparse, t)
		} else {
			dropped[name] = true
		}
	}
	g.SparseInitializer = sparse
	// Before IR 4 initializers are graph inputs too: drop those with them,
	// or they would become inputs to feed. The model's own inputs stay.
	var ins []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if !dropped[in.GetName()] {
			ins = append(ins, in)
		}
	}
	g.Input = ins
}
