package onnxmodel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Reinit counts what Untrained re-initialised.
type Reinit struct {
	// Weights are the Conv, Gemm and MatMul weight tensors drawn anew,
	// Biases those operators' biases set to zero (a Conv's or Gemm's bias
	// input, or the constant added right after a MatMul), BatchNorms the
	// BatchNormalization nodes set to the identity.
	Weights, Biases, BatchNorms int
	// Materialised are weights the file computed with ConstantOfShape (an
	// architecture shipped without its weights) that became initializers.
	Materialised int
}

// Untrained returns a copy of an ONNX model with its architecture
// re-initialised as if never trained, the same input and seed always
// giving the same bytes:
//
//   - the weights of Conv, Gemm and MatMul are drawn from a normal
//     distribution with mean 0 and standard deviation √(2/fan_in) (He et
//     al. 2015, "Kaiming normal", fan-in mode, for ReLU networks), fan_in
//     read from the weight's shape: C/group·kH·kW for a Conv weight of
//     shape M×C/group×kH×kW (the product of every dimension but the
//     first), K for a Gemm weight of K×N (N×K when transB=1) and for a
//     MatMul weight of …×K×N;
//   - their biases are zero (a Conv's or Gemm's third input, and a
//     constant added right after a MatMul);
//   - BatchNormalization has scale 1, bias 0, running mean 0 and running
//     variance 1, so it passes its input through (divided by √(1+ε));
//   - every other float initializer (a clip range, a padding constant, a
//     reshape target) is left as it is.
//
// A weight the graph computes with ConstantOfShape from a constant shape
// (as in the model zoo's "light" architectures, whose weights were
// stripped) becomes an initializer of that shape first, so an
// architecture file without weights gets an untrained network.
//
// This is a generic Kaiming initialisation, not any framework's own:
// torchvision, for one, initialises each model its own way (Kaiming
// normal in fan-out mode for ResNet convolutions, a uniform distribution
// bounded by 1/√fan_in for PyTorch's default Linear and Conv, truncated
// normals for others), so an untrained control made here is comparable
// across architectures rather than identical to a published untrained
// baseline. Weights of other types than float32 are left as they are.
func Untrained(data []byte, seed uint64) ([]byte, Reinit, error) {
	var rep Reinit
	m, err := Parse(data)
	if err != nil {
		return nil, rep, err
	}
	g := m.GetGraph()
	if g == nil {
		return nil, rep, fmt.Errorf("untrained: the model has no graph")
	}
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	producer := map[string]*onnxpb.NodeProto{}
	consumers := map[string][]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
		for _, in := range n.GetInput() {
			consumers[in] = append(consumers[in], n)
		}
	}
	materialised := map[*onnxpb.NodeProto]bool{}
	// tensor returns the float initializer named name, materialising a
	// ConstantOfShape output when that is what computes it; nil when it is
	// neither.
	tensor := func(name string) *onnxpb.TensorProto {
		if t, ok := inits[name]; ok {
			if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) || t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
				return nil
			}
			return t
		}
		n := producer[name]
		if n == nil || n.GetOpType() != "ConstantOfShape" || n.GetDomain() != "" || len(n.GetInput()) != 1 {
			return nil
		}
		dims, ok := int64Values(inits[n.GetInput()[0]])
		if !ok {
			return nil
		}
		elems := int64(1)
		for _, d := range dims {
			if d < 0 || (d > 0 && elems > math.MaxInt32/d) {
				return nil
			}
			elems *= d
		}
		for _, a := range n.GetAttribute() {
			if a.GetName() == "value" && a.GetT().GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
				return nil
			}
		}
		t := &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			RawData: make([]byte, 4*elems)}
		g.Initializer = append(g.Initializer, t)
		inits[name] = t
		materialised[n] = true
		rep.Materialised++
		return t
	}
	r := rand.New(rand.NewPCG(seed, 0x0dd5eed))
	done := map[*onnxpb.TensorProto]bool{}
	weight := func(name string, fanIn func([]int64) int64) {
		t := tensor(name)
		if t == nil || done[t] {
			return
		}
		f := fanIn(t.GetDims())
		if f <= 0 {
			return
		}
		std := math.Sqrt(2 / float64(f))
		fill(t, func() float32 { return float32(std * r.NormFloat64()) })
		done[t] = true
		rep.Weights++
	}
	constant := func(name string, v float32, count *int) bool {
		t := tensor(name)
		if t == nil || done[t] {
			return false
		}
		fill(t, func() float32 { return v })
		done[t] = true
		if count != nil {
			*count++
		}
		return true
	}
	for _, n := range g.GetNode() {
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			continue
		}
		in := n.GetInput()
		switch n.GetOpType() {
		case "Conv":
			if len(in) >= 2 {
				weight(in[1], func(d []int64) int64 { return dimProduct(d, 1, len(d)) })
			}
			if len(in) >= 3 && in[2] != "" {
				constant(in[2], 0, &rep.Biases)
			}
		case "Gemm":
			transB := attrInt(n, "transB")
			if len(in) >= 2 {
				weight(in[1], func(d []int64) int64 {
					if len(d) != 2 {
						return 0
					}
					if transB != 0 {
						return d[1]
					}
					return d[0]
				})
			}
			if len(in) >= 3 && in[2] != "" {
				constant(in[2], 0, &rep.Biases)
			}
		case "MatMul":
			if len(in) >= 2 {
				weight(in[1], func(d []int64) int64 {
					if len(d) < 2 {
						return 0
					}
					return d[len(d)-2]
				})
				// The bias of a MatMul is the constant added to its output.
				for _, c := range consumers[n.GetOutput()[0]] {
					if c.GetOpType() == "Add" && len(c.GetInput()) == 2 {
						for _, a := range c.GetInput() {
							if a != n.GetOutput()[0] {
								constant(a, 0, &rep.Biases)
							}
						}
					}
				}
			}
		case "BatchNormalization":
			if len(in) >= 5 {
				ok := constant(in[1], 1, nil)
				ok = constant(in[2], 0, nil) || ok
				ok = constant(in[3], 0, nil) || ok
				ok = constant(in[4], 1, nil) || ok
				if ok {
					rep.BatchNorms++
				}
			}
		}
	}
	if rep.Weights == 0 {
		return nil, rep, fmt.Errorf("untrained: no float32 Conv, Gemm or MatMul weight to re-initialise (an untrained control needs the weights as initializers, or computed by ConstantOfShape from a constant shape)")
	}
	if len(materialised) > 0 {
		kept := g.Node[:0]
		for _, n := range g.GetNode() {
			if !materialised[n] {
				kept = append(kept, n)
			}
		}
		g.Node = kept
		// Before IR version 4 every initializer had to be a graph input
		// too; the new ones are not, so the file declares version 4.
		if m.GetIrVersion() < 4 {
			m.IrVersion = proto.Int64(4)
		}
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, rep, fmt.Errorf("untrained: encode: %w", err)
	}
	return out, rep, nil
}

// fill sets every element of a float tensor to next(), keeping the way
// the file stores it (float_data or raw_data).
func fill(t *onnxpb.TensorProto, next func() float32) {
	if fd := t.GetFloatData(); len(fd) > 0 {
		for i := range fd {
			fd[i] = next()
		}
		return
	}
	raw := t.GetRawData()
	for i := 0; i+4 <= len(raw); i += 4 {
		binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(next()))
	}
}

// dimProduct multiplies d[lo:hi]; 0 when the range is empty or a dimension
// is not positive.
func dimProduct(d []int64, lo, hi int) int64 {
	if lo >= hi || hi > len(d) {
		return 0
	}
	p := int64(1)
	for _, x := range d[lo:hi] {
		if x <= 0 {
			return 0
		}
		p *= x
	}
	return p
}

func attrInt(n *onnxpb.NodeProto, name string) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return 0
}

// int64Values reads a constant int64 tensor (a shape); ok is false for
// anything else.
func int64Values(t *onnxpb.TensorProto) ([]int64, bool) {
	if t == nil || t.GetDataType() != int32(onnxpb.TensorProto_INT64) {
		return nil, false
	}
	if v := t.GetInt64Data(); len(v) > 0 {
		return append([]int64(nil), v...), true
	}
	raw := t.GetRawData()
	if len(raw)%8 != 0 {
		return nil, false
	}
	out := make([]int64, len(raw)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out, true
}
