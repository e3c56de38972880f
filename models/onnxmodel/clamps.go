package onnxmodel

import (
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// foldClamps replaces, in the graph of m, chains of clamping nodes (Relu,
// Clip with constant bounds, Min and Max against a constant, scalar or
// per channel) that nothing else reads inside by as few nodes as clip
// them once, and moves them in front of a zero Pad between them and the
// convolution they feed. Clamping twice is clamping once: for the bounds
// [l1, h1] then [l2, h2], if they overlap (everywhere, per channel),
//
//	clip(clip(x, l1, h1), l2, h2) = clip(x, max(l1, l2), min(h1, h2))
//
// for every x but NaN, and clip(pad(x)) = pad(clip(x)) when the clip keeps
// a zero; each result is x or a bound, so the folded graph computes the
// same values exactly (a zero may change sign). ONNX Runtime fuses one
// activation, and a Pad, into the convolution next to it and keeps its
// blocked (NCHWc) layout across them, but not a chain: each node it
// cannot fuse costs a pass over the tensor and, for Min, Max and Pad, two
// layout copies. Quantisation-aware exports are full of such chains
// (MobileNetV2 from tf2onnx: Conv, Relu, Clip, Min per channel, Clip,
// Relu, Clip before the next Conv, and Clip, Clip, Pad, Clip before a
// strided one): there the forward pass takes 0.6–0.7× the time
// (BenchmarkFoldedClamps in models/ort).
//
// Only chains that end in convolutions are folded (intoConv): a tensor
// that the graph outputs or that another node reads (an exposed layer,
// its pooling) ends a chain unfolded, so every fetched tensor is computed
// in the same layout as before. Models of opset below 11 (Clip's bounds
// as attributes), with subgraphs, or chains whose element type is not
// known to be float32 are left as they are.
func foldClamps(m *onnxpb.ModelProto) {
	g := m.GetGraph()
	if g == nil || Opset(m) < 11 {
		return
	}
	consts := graphConstants(g)
	readers := map[string]int{}
	readBy := map[string][]*onnxpb.NodeProto{}
	taken := map[string]bool{} // every tensor and node name: new ones must be fresh
	for _, t := range g.GetInitializer() {
		taken[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		taken[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		taken[n.GetName()] = true
		for _, o := range n.GetOutput() {
			taken[o] = true
		}
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil || len(a.GetGraphs()) > 0 {
				return // a body may read any outer tensor by name
			}
		}
		for _, in := range n.GetInput() {
			if in != "" {
				readers[in]++
				readBy[in] = append(readBy[in], n)
			}
		}
	}
	for _, o := range g.GetOutput() {
		readers[o.GetName()] += 2 // never inside a chain
	}
	nodes := g.GetNode()
	clamps := make([]clampNode, len(nodes))
	producer := map[string]int{}
	for i, n := range nodes {
		clamps[i] = asClamp(n, consts)
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	// Walk each chain from its last node back to its first, merging the
	// bounds as long as they overlap.
	drop := make([]bool, len(nodes))
	replace := map[int][]*onnxpb.NodeProto{}
	var added []*onnxpb.TensorProto
	for i := len(nodes) - 1; i >= 0; i-- {
		c := clamps[i]
		if !c.ok || drop[i] || !intoConv(nodes[i].GetOutput()[0], readBy, readers) {
			continue
		}
		lo, hi, f32 := c.lo, c.hi, c.f32
		in := c.input
		var chain []int
		pad := -1 // a zero Pad the chain moves in front of
		for {
			// Nodes come in topological order and chains are walked from
			// the last, so a producer read only here is in no chain yet.
			j, ok := producer[in]
			if !ok || readers[in] != 1 {
				break
			}
			p := clamps[j]
			if !p.ok {
				// clip(pad(x)) = pad(clip(x)) when the clip keeps the
				// padding's zeros (and a bound per channel is not
				// padded): the Pad then meets the Conv, which ONNX
				// Runtime fuses it into.
				if pad >= 0 || !holdsZero(lo, hi) || !zeroPad(nodes[j], consts, lo, hi) {
					break
				}
				pad, in = j, nodes[j].GetInput()[0]
				continue
			}
			// p runs first: clip(clip(x, p), [lo, hi])
			nlo, ok1 := merge(p.lo, lo, func(a, b float32) float32 { return max(a, b) })
			nhi, ok2 := merge(p.hi, hi, func(a, b float32) float32 { return min(a, b) })
			if !ok1 || !ok2 || !below(nlo, nhi) {
				break
			}
			lo, hi, f32 = nlo, nhi, f32 || p.f32
			chain = append(chain, j)
			in = p.input
		}
		if len(chain) == 0 && pad < 0 || !f32 {
			continue
		}
		out := nodes[i].GetOutput()[0]
		last := out // the clamp's output: before the Pad when it moves
		if pad >= 0 {
			last = out + "/cortexbench_unpadded"
		}
		fresh := !taken[last] || last == out
		// clip(x, lo, hi) = min(max(x, lo), hi), as ONNX Runtime computes
		// Clip: a bound per channel needs Max or Min, a scalar one Clip
		// (which ONNX Runtime fuses into a convolution before it).
		type step struct {
			op string
			bs []bound
		}
		inf := float32(math.Inf(1))
		var steps []step
		switch {
		case !lo.vec() && !hi.vec():
			steps = []step{{"Clip", []bound{lo, hi}}}
		case !hi.vec(): // lo per channel
			steps = []step{{"Max", []bound{lo}}}
			if !hi.inf(1) {
				steps = append(steps, step{"Clip", []bound{scalar(-inf), hi}})
			}
		case !lo.vec(): // hi per channel
			if !lo.inf(-1) {
				steps = []step{{"Clip", []bound{lo, scalar(inf)}}}
			}
			steps = append(steps, step{"Min", []bound{hi}})
		default:
			steps = []step{{"Max", []bound{lo}}, {"Min", []bound{hi}}}
		}
		var ns []*onnxpb.NodeProto
		var inits []*onnxpb.TensorProto
		name := func(s string) string {
			fresh = fresh && !taken[s]
			return s
		}
		x := in
		for k, st := range steps {
			o := last
			if k < len(steps)-1 {
				o = name(fmt.Sprintf("%s/cortexbench_clamp_%d", out, k))
			}
			ins := []string{x}
			for b, bd := range st.bs {
				c := name(fmt.Sprintf("%s/cortexbench_%s_%d", o, st.op, b))
				inits = append(inits, bd.tensor(c))
				ins = append(ins, c)
			}
			ns = append(ns, &onnxpb.NodeProto{OpType: proto.String(st.op), Name: proto.String(name(o + "/cortexbench_" + st.op)), Input: ins, Output: []string{o}})
			x = o
		}
		if !fresh { // a name the model already uses: leave this chain
			continue
		}
		added = append(added, inits...)
		if pad >= 0 {
			pn := proto.Clone(nodes[pad]).(*onnxpb.NodeProto)
			pn.Input[0], pn.Output[0] = last, out
			ns = append(ns, pn)
			drop[pad] = true
		}
		replace[i] = ns
		for _, j := range chain {
			drop[j] = true
		}
	}
	if len(replace) == 0 {
		return
	}
	gone := map[string]bool{}
	kept := make([]*onnxpb.NodeProto, 0, len(nodes))
	for i, n := range nodes {
		switch {
		case drop[i]:
			gone[n.GetOutput()[0]] = true
		case replace[i] != nil:
			kept = append(kept, replace[i]...)
		default:
			kept = append(kept, n)
		}
	}
	g.Node = kept
	g.Initializer = append(g.Initializer, added...)
	var vi []*onnxpb.ValueInfoProto
	for _, v := range g.GetValueInfo() {
		if !gone[v.GetName()] {
			vi = append(vi, v)
		}
	}
	g.ValueInfo = vi
}

// intoConv reports whether tensor t is read only as the data of
// convolutions, directly or through constant-mode Pad nodes read only so.
// A folded chain lets ONNX Runtime keep its blocked layout further, and
// where the next node is a pooling or a reduction, that layout sums in
// another order (MobileNetV2's last GlobalAveragePool: the outputs
// differed in the last bits). A convolution's arithmetic does not depend
// on the layout of its input, and Pad only copies.
func intoConv(t string, readBy map[string][]*onnxpb.NodeProto, readers map[string]int) bool {
	rs := readBy[t]
	if len(rs) == 0 || readers[t] != len(rs) { // a graph output counts as a reader
		return false
	}
	for _, r := range rs {
		if d := r.GetDomain(); d != "" && d != "ai.onnx" {
			return false
		}
		ins := r.GetInput()
		if slices.Index(ins, t) != 0 || slices.Contains(ins[1:], t) {
			return false
		}
		switch r.GetOpType() {
		case "Conv":
		case "Pad":
			for _, a := range r.GetAttribute() {
				if a.GetName() == "mode" && string(a.GetS()) != "constant" {
					return false
				}
			}
			if len(r.GetOutput()) != 1 || !intoConv(r.GetOutput()[0], readBy, readers) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// holdsZero reports lo ≤ 0 ≤ hi everywhere: clipping keeps a zero.
func holdsZero(lo, hi bound) bool {
	return !slices.ContainsFunc(lo.vals, func(v float32) bool { return !(v <= 0) }) &&
		!slices.ContainsFunc(hi.vals, func(v float32) bool { return !(v >= 0) })
}

// zeroPad reports whether n pads with zeros (opset 11 or later: mode
// constant, no constant value or a zero one, no axes) along no axis where
// the bounds lo or hi vary (they broadcast against the data right-aligned,
// as numpy's rules say).
func zeroPad(n *onnxpb.NodeProto, consts map[string]*onnxpb.TensorProto, lo, hi bound) bool {
	ins := n.GetInput()
	if n.GetOpType() != "Pad" || (n.GetDomain() != "" && n.GetDomain() != "ai.onnx") || len(n.GetOutput()) != 1 ||
		len(ins) < 2 || len(ins) > 3 || ins[0] == "" {
		return false
	}
	for _, a := range n.GetAttribute() {
		if a.GetName() != "mode" || string(a.GetS()) != "constant" {
			return false
		}
	}
	if len(ins) == 3 && ins[2] != "" {
		if v, ok := scalarFloat(consts[ins[2]]); !ok || v != 0 {
			return false
		}
	}
	if !lo.vec() && !hi.vec() {
		return true
	}
	t := consts[ins[1]]
	v, ok := values(t)
	if !ok || onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_INT64 || len(v)%2 != 0 {
		return false
	}
	pads := asInts(v)
	r := len(pads) / 2
	for _, b := range []bound{lo, hi} {
		if !b.vec() {
			continue
		}
		if len(b.dims) > r {
			return false
		}
		for k, d := range b.dims {
			if ax := r - len(b.dims) + k; d > 1 && (pads[ax] != 0 || pads[ax+r] != 0) {
				return false
			}
		}
	}
	return true
}

// bound is a constant lower or upper bound: one value (dims nil), or a
// float32 tensor broadcast against the data (Min and Max per channel).
type bound struct {
	vals []float32
	dims []int64
}

func scalar(v float32) bound { return bound{vals: []float32{v}} }

func (b bound) vec() bool { return b.dims != nil }

// inf reports whether b is +Inf (sign 1) or -Inf (sign -1) everywhere.
func (b bound) inf(sign int) bool {
	for _, v := range b.vals {
		if !math.IsInf(float64(v), sign) {
			return false
		}
	}
	return true
}

// merge combines two bounds value by value with f (max for lower bounds,
// min for upper ones); false when both are tensors of different dims.
func merge(a, b bound, f func(x, y float32) float32) (bound, bool) {
	if a.vec() && b.vec() && !slices.Equal(a.dims, b.dims) {
		return bound{}, false
	}
	if !a.vec() {
		a, b = b, a
	}
	out := bound{vals: make([]float32, len(a.vals)), dims: a.dims}
	for k, v := range a.vals {
		out.vals[k] = f(v, b.vals[k%len(b.vals)])
	}
	return out, true
}

// below reports lo ≤ hi everywhere (lo and hi from merge of the same dims
// or scalars).
func below(lo, hi bound) bool {
	n := max(len(lo.vals), len(hi.vals))
	for k := range n {
		if !(lo.vals[k%len(lo.vals)] <= hi.vals[k%len(hi.vals)]) {
			return false
		}
	}
	return true
}

// tensor is b as a float32 initializer (rank 0 for one value).
func (b bound) tensor(name string) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{
		Name:      proto.String(name),
		DataType:  proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims:      slices.Clone(b.dims),
		FloatData: slices.Clone(b.vals),
	}
}

// clampNode is a node that clips its one data input to [lo, hi]; f32 when
// a float32 constant of the node fixes the element type.
type clampNode struct {
	ok     bool
	input  string
	lo, hi bound
	f32    bool
}

// asClamp recognises a clamping node of an opset-11-or-later graph.
func asClamp(n *onnxpb.NodeProto, consts map[string]*onnxpb.TensorProto) clampNode {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return clampNode{}
	}
	ins, outs := n.GetInput(), n.GetOutput()
	if len(outs) != 1 || outs[0] == "" || len(ins) == 0 || ins[0] == "" || len(n.GetAttribute()) > 0 {
		return clampNode{}
	}
	inf := float32(math.Inf(1))
	switch n.GetOpType() {
	case "Relu":
		if len(ins) == 1 {
			return clampNode{ok: true, input: ins[0], lo: scalar(0), hi: scalar(inf)}
		}
	case "Clip":
		if len(ins) > 3 {
			return clampNode{}
		}
		c := clampNode{ok: true, input: ins[0], lo: scalar(-inf), hi: scalar(inf)}
		for k, b := range []*bound{&c.lo, &c.hi} {
			if len(ins) <= k+1 || ins[k+1] == "" {
				continue
			}
			v, ok := scalarFloat(consts[ins[k+1]])
			if !ok || v != v {
				return clampNode{}
			}
			*b, c.f32 = scalar(v), true
		}
		if !below(c.lo, c.hi) { // ONNX gives max everywhere then
			return clampNode{}
		}
		return c
	case "Min", "Max":
		if len(ins) != 2 {
			return clampNode{}
		}
		x, k := ins[0], ins[1]
		if _, isConst := consts[x]; isConst {
			x, k = k, x
		}
		if _, xConst := consts[x]; xConst {
			return clampNode{}
		}
		vals, dims, ok := floatConst(consts[k])
		if !ok || slices.ContainsFunc(vals, func(v float32) bool { return v != v }) {
			return clampNode{}
		}
		b := scalar(vals[0]) // rank 0
		if len(dims) > 0 {
			b = bound{vals: vals, dims: dims}
		}
		if n.GetOpType() == "Min" {
			return clampNode{ok: true, input: x, lo: scalar(-inf), hi: b, f32: true}
		}
		return clampNode{ok: true, input: x, lo: b, hi: scalar(inf), f32: true}
	}
	return clampNode{}
}
