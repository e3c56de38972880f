package onnxmodel

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Static size checks on a decoded model, before any runtime sees it:
// every stored tensor's declared size, every declared shape, and the
// outputs of the operators that make a tensor whose size is read from a
// constant (ConstantOfShape, Expand, Tile, Range, Reshape, Resize,
// Upsample, Pad, OneHot, RandomNormal, RandomUniform). A runtime that
// folds constants would materialise such a tensor while loading the
// model, and every inference would allocate it: a 669-byte model can ask
// for 128M floats.

// maxConstValues bounds the constants read as shapes.
const maxConstValues = 64

type sizeCheck struct {
	cfg    Config
	consts map[string][]float64 // small numeric constants by tensor name
	dims   map[string][]int64   // declared dims of stored tensors
	add    func(string, ...any)
	// elements of the stored and generated constants, bounded by
	// MaxElements, and whether that was reported
	total     float64
	totalTold bool
}

func checkSizes(m *onnxpb.ModelProto, cfg Config, add func(string, ...any)) {
	s := &sizeCheck{cfg: cfg, consts: map[string][]float64{}, dims: map[string][]int64{}, add: add}
	for _, t := range m.GetGraph().GetInitializer() {
		s.total += float64(elements(t.GetDims(), math.MaxInt64))
	}
	walkTensors(m, func(t *onnxpb.TensorProto) {
		for _, d := range t.GetDims() {
			if d < 0 {
				add("tensor %q declares a negative dimension (%v): re-export the model", t.GetName(), t.GetDims())
				return
			}
		}
		if n := elements(t.GetDims(), cfg.MaxElements); n > cfg.MaxElements {
			add("tensor %q declares %s elements (dims %v), over the limit of %d: re-export the model %s", t.GetName(), count(t.GetDims()), t.GetDims(), cfg.MaxElements, raise)
		}
	})
	image := map[string]bool{}
	for _, in := range ImageInputs(m.GetGraph()) {
		image[in.GetName()] = true // bounded by MaxSide and MaxBatch
	}
	var graphs func(g *onnxpb.GraphProto, depth int)
	graphs = func(g *onnxpb.GraphProto, depth int) {
		if g == nil || depth > cfg.MaxDepth {
			return
		}
		for _, list := range [][]*onnxpb.ValueInfoProto{g.GetInput(), g.GetOutput(), g.GetValueInfo()} {
			for _, v := range list {
				if image[v.GetName()] && depth == 0 {
					continue
				}
				t, ok := TensorOf(v)
				if ok && elements(t.Shape, cfg.MaxElements) > cfg.MaxElements {
					add("%q declares shape %v, %s elements, over the limit of %d: declare the real shape (or a dynamic dimension) %s", t.Name, t.Shape, count(t.Shape), cfg.MaxElements, raise)
				}
			}
		}
		for _, t := range g.GetInitializer() {
			s.constant(t.GetName(), t)
		}
		s.nodes(g)
		for _, n := range g.GetNode() {
			for _, a := range n.GetAttribute() {
				graphs(a.GetG(), depth+1)
				for _, sg := range a.GetGraphs() {
					graphs(sg, depth+1)
				}
			}
		}
	}
	graphs(m.GetGraph(), 0)
}

// count formats a product of dims, exactly below 10^15.
func count(dims []int64) string {
	p := 1.0
	for _, d := range dims {
		if d > 0 {
			p *= float64(d)
		}
	}
	return fmtCount(p)
}

func fmtCount(p float64) string {
	if p < 1e15 {
		return fmt.Sprintf("%.0f", p)
	}
	return fmt.Sprintf("%.3g", p)
}

// constant records a stored tensor's dims and, when small and numeric,
// its values.
func (s *sizeCheck) constant(name string, t *onnxpb.TensorProto) {
	s.dims[name] = t.GetDims()
	if v, ok := values(t); ok {
		s.consts[name] = v
	}
}

// values reads up to maxConstValues numbers of a stored tensor.
func values(t *onnxpb.TensorProto) ([]float64, bool) {
	if elements(t.GetDims(), maxConstValues) > maxConstValues {
		return nil, false
	}
	n := int(elements(t.GetDims(), maxConstValues))
	raw := t.GetRawData()
	var out []float64
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_INT64:
		if len(raw) > 0 {
			for i := 0; i+8 <= len(raw) && i/8 < n; i += 8 {
				out = append(out, float64(int64(binary.LittleEndian.Uint64(raw[i:]))))
			}
		}
		for _, x := range t.GetInt64Data() {
			out = append(out, float64(x))
		}
	case onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT16, onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_UINT16:
		if len(raw) > 0 && onnxpb.TensorProto_DataType(t.GetDataType()) == onnxpb.TensorProto_INT32 {
			for i := 0; i+4 <= len(raw) && i/4 < n; i += 4 {
				out = append(out, float64(int32(binary.LittleEndian.Uint32(raw[i:]))))
			}
		}
		for _, x := range t.GetInt32Data() {
			out = append(out, float64(x))
		}
	case onnxpb.TensorProto_FLOAT:
		if len(raw) > 0 {
			for i := 0; i+4 <= len(raw) && i/4 < n; i += 4 {
				out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
			}
		}
		for _, x := range t.GetFloatData() {
			out = append(out, float64(x))
		}
	case onnxpb.TensorProto_DOUBLE:
		if len(raw) > 0 {
			for i := 0; i+8 <= len(raw) && i/8 < n; i += 8 {
				out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
			}
		}
		out = append(out, t.GetDoubleData()...)
	default:
		return nil, false
	}
	if len(out) != n {
		return nil, false
	}
	return out, true
}

// nodes goes through g's nodes in topological order, propagating small
// constants through the shape arithmetic exporters emit (Identity, Cast,
// Concat, Unsqueeze, Squeeze, Mul, Add) and checking the size-making
// operators.
func (s *sizeCheck) nodes(g *onnxpb.GraphProto) {
	order, err := TopoOrder(g)
	if err != nil {
		return // ONNX Runtime refuses the cycle
	}
	for _, i := range order {
		n := g.GetNode()[i]
		in := func(k int) ([]float64, bool) {
			if k >= len(n.GetInput()) {
				return nil, false
			}
			v, ok := s.consts[n.GetInput()[k]]
			return v, ok
		}
		out := ""
		if len(n.GetOutput()) > 0 {
			out = n.GetOutput()[0]
		}
		switch n.GetOpType() {
		case "Constant":
			for _, a := range n.GetAttribute() {
				switch a.GetName() {
				case "value":
					if a.GetT() != nil {
						s.constant(out, a.GetT())
					}
				case "value_ints":
					if len(a.GetInts()) <= maxConstValues {
						s.consts[out] = asFloats(a.GetInts())
					}
				case "value_int":
					s.consts[out] = []float64{float64(a.GetI())}
				case "value_float":
					s.consts[out] = []float64{float64(a.GetF())}
				}
			}
		case "Identity", "Cast", "Unsqueeze", "Squeeze", "Flatten":
			if v, ok := in(0); ok {
				s.consts[out] = v
			}
		case "Concat":
			var all []float64
			ok := len(n.GetInput()) > 0
			for k := range n.GetInput() {
				v, vok := in(k)
				ok = ok && vok
				all = append(all, v...)
			}
			if ok && len(all) <= maxConstValues {
				s.consts[out] = all
			}
		case "Mul", "Add":
			a, aok := in(0)
			b, bok := in(1)
			if aok && bok && (len(a) == len(b) || len(a) == 1 || len(b) == 1) {
				r := make([]float64, max(len(a), len(b)))
				for k := range r {
					x, y := a[min(k, len(a)-1)], b[min(k, len(b)-1)]
					if n.GetOpType() == "Mul" {
						r[k] = x * y
					} else {
						r[k] = x + y
					}
				}
				s.consts[out] = r
			}
		case "ConstantOfShape", "Expand":
			if v, ok := in(1 - btoi(n.GetOpType() == "ConstantOfShape")); ok {
				s.generates(n, product(v), fmt.Sprintf("shape %v", asInts(v)))
			}
		case "Reshape":
			if v, ok := in(1); ok {
				s.generates(n, product(v), fmt.Sprintf("shape %v", asInts(v)))
			}
		case "Tile":
			if v, ok := in(1); ok {
				s.generates(n, product(v)*s.known(n, 0), fmt.Sprintf("repeats %v", asInts(v)))
			}
		case "Range":
			a, aok := in(0)
			b, bok := in(1)
			d, dok := in(2)
			if aok && bok && dok && len(a) == 1 && len(b) == 1 && len(d) == 1 {
				r := math.Ceil((b[0] - a[0]) / d[0])
				if math.IsNaN(r) {
					r = math.Inf(1)
				}
				s.generates(n, math.Max(r, 0), fmt.Sprintf("start %g, limit %g, delta %g", a[0], b[0], d[0]))
			}
		case "Resize", "Upsample":
			if v, ok := in(3); ok && len(v) > 0 && n.GetOpType() == "Resize" {
				s.generates(n, product(v), fmt.Sprintf("sizes %v", asInts(v)))
			} else if v, ok := in(2 - btoi(n.GetOpType() == "Upsample")); ok {
				s.generates(n, product(v)*s.known(n, 0), fmt.Sprintf("scales %v", v))
			}
		case "Pad":
			pads, ok := in(1)
			for _, a := range n.GetAttribute() {
				if a.GetName() == "pads" {
					pads, ok = asFloats(a.GetInts()), true
				}
			}
			if ok && len(pads)%2 == 0 {
				p := 1.0
				r := len(pads) / 2
				for k := range r {
					p *= 1 + math.Max(pads[k], 0) + math.Max(pads[k+r], 0)
				}
				s.generates(n, p*s.known(n, 0), fmt.Sprintf("pads %v", asInts(pads)))
			}
		case "OneHot":
			if v, ok := in(1); ok && len(v) == 1 {
				s.generates(n, v[0], fmt.Sprintf("depth %g", v[0]))
			}
		case "RandomNormal", "RandomUniform":
			for _, a := range n.GetAttribute() {
				if a.GetName() == "shape" {
					v := asFloats(a.GetInts())
					s.generates(n, product(v), fmt.Sprintf("shape %v", a.GetInts()))
				}
			}
		}
	}
}

// known is the element count of a node input when it is a stored tensor,
// else 1.
func (s *sizeCheck) known(n *onnxpb.NodeProto, k int) float64 {
	if k < len(n.GetInput()) {
		if d, ok := s.dims[n.GetInput()[k]]; ok {
			return float64(elements(d, math.MaxInt64))
		}
	}
	return 1
}

func (s *sizeCheck) generates(n *onnxpb.NodeProto, elems float64, from string) {
	if math.IsNaN(elems) {
		elems = math.Inf(1)
	}
	if elems <= float64(s.cfg.MaxGeneratedElements) {
		if n.GetOpType() != "Reshape" { // a Reshape makes no new values
			s.total += elems
		}
		if s.total > float64(s.cfg.MaxElements) && !s.totalTold {
			s.totalTold = true
			s.add("the model's constants, stored and made from constant shapes, have %s elements together (the last: node %q, %s, %s), over the limit of %d: fix the exported shapes %s",
				fmtCount(s.total), n.GetName(), n.GetOpType(), from, s.cfg.MaxElements, raise)
		}
		return
	}
	s.add("node %q (%s) would make a tensor of %s elements from its constant %s, over the limit of %d: a network that scores images does not build tensors that large; fix the exported shape %s",
		n.GetName(), n.GetOpType(), fmtCount(elems), from, s.cfg.MaxGeneratedElements, raise)
}

// product of the positive values (0 and -1 are "copy" and "infer" in a
// Reshape shape).
func product(v []float64) float64 {
	p := 1.0
	for _, x := range v {
		if x > 0 {
			p *= x
		}
	}
	return p
}

func asFloats(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func asInts(v []float64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
