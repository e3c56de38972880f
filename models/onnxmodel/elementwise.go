package onnxmodel

import (
	"encoding/binary"
	"math"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Elementwise is a node output that is a function of one input tensor,
// value by value, in the same shape: out[p] = F(in[p]), or for Min and
// Max against a constant that varies along one axis (per channel),
// out[p] = min/max(in[p], Const[axis index of p]). Only operators whose
// result is exact in float32, and so identical whether ONNX Runtime or Go
// computes it, are recognised: Relu, Clip, Min and Max against a constant,
// and Identity.
type Elementwise struct {
	Input string
	F     func(float32) float32
	// With F nil: Min (IsMin) or Max against Const of shape ConstDims,
	// broadcast against the input.
	Const     []float32
	ConstDims []int64
	IsMin     bool
}

// Bind returns the function of (flat position past the batch axis, value)
// that the node computes on an input of the given shape (batch first), or
// false when the constant does not broadcast along a single non-batch
// axis of that shape.
func (e Elementwise) Bind(shape []int64) (func(p int, x float32) float32, bool) {
	if e.F != nil {
		f := e.F
		return func(_ int, x float32) float32 { return f(x) }, true
	}
	if len(e.ConstDims) > len(shape) {
		return nil, false
	}
	// Right-align the constant's dims with the shape (numpy broadcasting);
	// at most one axis, not the batch, may exceed 1.
	off := len(shape) - len(e.ConstDims)
	axis := -1
	for k, d := range e.ConstDims {
		switch {
		case d == 1:
		case d == shape[off+k] && off+k > 0 && axis < 0:
			axis = off + k
		default:
			return nil, false
		}
	}
	vals := e.Const
	if axis < 0 {
		v := vals[0]
		if e.IsMin {
			return func(_ int, x float32) float32 { return min(x, v) }, true
		}
		return func(_ int, x float32) float32 { return max(x, v) }, true
	}
	inner := 1
	for _, d := range shape[axis+1:] {
		if d < 1 {
			return nil, false
		}
		inner *= int(d)
	}
	n := len(vals)
	if e.IsMin {
		return func(p int, x float32) float32 { return min(x, vals[(p/inner)%n]) }, true
	}
	return func(p int, x float32) float32 { return max(x, vals[(p/inner)%n]) }, true
}

// ElementwiseOutputs maps every float node output of m that is an
// Elementwise function of another tensor to its description. A layer
// that is such an output need not be exposed by the graph when its input
// is: its values at any positions follow from the input's at the same
// positions.
func ElementwiseOutputs(m *onnxpb.ModelProto) map[string]Elementwise {
	g := m.GetGraph()
	consts := graphConstants(g)
	scalar := func(name string) (float32, bool) {
		t, ok := consts[name]
		if !ok {
			return 0, false
		}
		return scalarFloat(t)
	}
	opset := Opset(m)
	out := map[string]Elementwise{}
	for _, n := range g.GetNode() {
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			continue
		}
		ins, outs := n.GetInput(), n.GetOutput()
		if len(outs) != 1 || len(ins) == 0 || ins[0] == "" {
			continue
		}
		var e Elementwise
		switch n.GetOpType() {
		case "Identity":
			if len(ins) == 1 {
				e = Elementwise{Input: ins[0], F: func(x float32) float32 { return x }}
			}
		case "Relu":
			if len(ins) == 1 {
				e = Elementwise{Input: ins[0], F: func(x float32) float32 { return max(x, 0) }}
			}
		case "Clip":
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			ok := true
			if opset < 11 {
				for _, a := range n.GetAttribute() {
					switch a.GetName() {
					case "min":
						lo = a.GetF()
					case "max":
						hi = a.GetF()
					}
				}
				ok = len(ins) == 1
			} else {
				if len(ins) > 1 && ins[1] != "" {
					lo, ok = scalar(ins[1])
				}
				if ok && len(ins) > 2 && ins[2] != "" {
					hi, ok = scalar(ins[2])
				}
				ok = ok && len(ins) <= 3
			}
			if ok {
				// ONNX Runtime's order: max with min first, then min with max.
				e = Elementwise{Input: ins[0], F: func(x float32) float32 { return min(max(x, lo), hi) }}
			}
		case "Min", "Max":
			if len(ins) != 2 {
				break
			}
			x, c := ins[0], ins[1]
			vals, dims, ok := floatConst(consts[c])
			if !ok {
				x, c = ins[1], ins[0]
				vals, dims, ok = floatConst(consts[c])
			}
			if _, xConst := consts[x]; !ok || xConst {
				break
			}
			e = Elementwise{Input: x, Const: vals, ConstDims: dims, IsMin: n.GetOpType() == "Min"}
		}
		if e.F != nil || e.Const != nil {
			out[outs[0]] = e
		}
	}
	return out
}

// graphConstants maps the name of every initializer of g, and of every
// Constant node's output, to its tensor.
func graphConstants(g *onnxpb.GraphProto) map[string]*onnxpb.TensorProto {
	consts := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		consts[t.GetName()] = t
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Constant" && n.GetDomain() == "" && len(n.GetOutput()) == 1 {
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && a.GetT() != nil {
					consts[n.GetOutput()[0]] = a.GetT()
				}
			}
		}
	}
	return consts
}

// scalarFloat is the value of a one-element float32 tensor.
func scalarFloat(t *onnxpb.TensorProto) (float32, bool) {
	v, _, ok := floatConst(t)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// maxConst bounds the constants read (a per-channel vector is small).
const maxConst = 1 << 16

// floatConst is the data and dims of a float32 tensor of up to maxConst
// values held in the model (not external data).
func floatConst(t *onnxpb.TensorProto) ([]float32, []int64, bool) {
	if t == nil || onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_FLOAT {
		return nil, nil, false
	}
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 1 || d > maxConst {
			return nil, nil, false
		}
		n *= d
		if n > maxConst {
			return nil, nil, false
		}
	}
	switch {
	case int64(len(t.GetFloatData())) == n:
		return t.GetFloatData(), t.GetDims(), true
	case int64(len(t.GetRawData())) == 4*n:
		raw := t.GetRawData()
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return v, t.GetDims(), true
	}
	return nil, nil, false
}
