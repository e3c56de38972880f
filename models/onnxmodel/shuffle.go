package onnxmodel

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// ShuffleWeights returns a copy of an ONNX model whose every float weight
// tensor (initializers and Constant nodes) has its elements permuted, each
// tensor with its own seeded permutation. The architecture, the weight
// statistics per tensor and the file's structure are kept; what training
// put where is destroyed. This is the standard untrained-like control for
// brain benchmarks: a trained network should beat it on higher visual
// areas. The same input and seed always give the same bytes.
func ShuffleWeights(data []byte, seed uint64) ([]byte, int, error) {
	m, err := Parse(data)
	if err != nil {
		return nil, 0, err
	}
	g := m.GetGraph()
	if g == nil {
		return nil, 0, fmt.Errorf("shuffle weights: the model has no graph")
	}
	r := rand.New(rand.NewPCG(seed, 0x5bff1e))
	shuffled := 0
	shuffle := func(t *onnxpb.TensorProto) {
		if t == nil || t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
			return
		}
		if fd := t.GetFloatData(); len(fd) > 1 {
			r.Shuffle(len(fd), func(i, j int) { fd[i], fd[j] = fd[j], fd[i] })
			shuffled++
			return
		}
		if raw := t.GetRawData(); len(raw) > 4 && len(raw)%4 == 0 {
			r.Shuffle(len(raw)/4, func(i, j int) {
				a, b := binary.LittleEndian.Uint32(raw[4*i:]), binary.LittleEndian.Uint32(raw[4*j:])
				binary.LittleEndian.PutUint32(raw[4*i:], b)
				binary.LittleEndian.PutUint32(raw[4*j:], a)
			})
			shuffled++
		}
	}
	for _, t := range g.GetInitializer() {
		shuffle(t)
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Constant" {
			continue
		}
		for _, a := range n.GetAttribute() {
			shuffle(a.GetT())
		}
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, 0, fmt.Errorf("shuffle weights: encode: %w", err)
	}
	return out, shuffled, nil
}
