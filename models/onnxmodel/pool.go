package onnxmodel

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// PoolPlan says how one layer is reduced inside the graph.
type PoolPlan struct {
	Output string   // tensor to expose: the layer's own, or its pooled copy
	Kernel [2]int64 // AveragePool kernel = stride (h, w); zero when not pooled
	Shape  []int64  // shape of Output, batch -1
}

// PooledOutputs returns m marshalled so that its graph outputs are, per
// layer, either the layer itself or — for a rank-4 layer (NCHW, as ONNX
// convolutions produce) with more than maxFeatures values per stimulus — an
// AveragePool of it over windows (kernel = stride = ceil(side/g); ceil mode
// from opset 10, so the last window may be partial) that leaves at most
// maxFeatures values: C×g×g with the largest such grid g (at least 1×1). The pooling runs inside
// ONNX Runtime, next to the layer, so a wide layer never crosses into Go
// whole: MobileNetV2's 245 layers are ~33 M values per image raw. With
// fold, chains of clamping nodes are folded into one as by SetOutputs.
func PooledOutputs(m *onnxpb.ModelProto, layers []models.Layer, maxFeatures int64, fold bool) ([]byte, []PoolPlan, error) {
	c := proto.Clone(m).(*onnxpb.ModelProto)
	c.Graph.Output = nil
	plans := make([]PoolPlan, len(layers))
	ceil := Opset(m) >= 10 // AveragePool's ceil_mode came with opset 10
	for i, l := range layers {
		p := Plan(l, maxFeatures, ceil)
		if p.Kernel != [2]int64{} {
			attrs := []*onnxpb.AttributeProto{AttrInts("kernel_shape", p.Kernel[0], p.Kernel[1]), AttrInts("strides", p.Kernel[0], p.Kernel[1])}
			if ceil {
				attrs = append(attrs, AttrInt("ceil_mode", 1))
			}
			c.Graph.Node = append(c.Graph.Node, &onnxpb.NodeProto{
				OpType: proto.String("AveragePool"), Name: proto.String(p.Output), Input: []string{l.Tensor}, Output: []string{p.Output},
				Attribute: attrs,
			})
		}
		plans[i] = p
		c.Graph.Output = append(c.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(p.Output)})
	}
	pruneToOutputs(c.Graph)
	if fold {
		foldClamps(c)
	}
	data, err := proto.Marshal(c)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal model with pooled outputs: %w", err)
	}
	return data, plans, nil
}

// Plan is how PooledOutputs reduces one layer (ceil: the model's opset is
// 10 or newer). A layer wider than maxFeatures whose rank is not 4, or
// whose channels alone exceed maxFeatures, keeps more than maxFeatures
// values: use PooledFeatures, not maxFeatures, as its width.
func Plan(l models.Layer, maxFeatures int64, ceil bool) PoolPlan {
	p := PoolPlan{Output: l.Tensor, Shape: l.Shape}
	if len(l.Shape) != 4 || l.Features() <= maxFeatures {
		return p
	}
	ch, h, w := l.Shape[1], l.Shape[2], l.Shape[3]
	g := int64(1)
	for (g+1)*(g+1)*ch <= maxFeatures && g+1 <= min(h, w) {
		g++
	}
	kh, kw := (h+g-1)/g, (w+g-1)/g
	oh, ow := h/kh, w/kw
	if ceil {
		oh, ow = (h+kh-1)/kh, (w+kw-1)/kw
	}
	return PoolPlan{Output: l.Tensor + "/cortexbench_avgpool", Kernel: [2]int64{kh, kw}, Shape: []int64{l.Shape[0], ch, oh, ow}}
}

// PooledFeatures is the number of values per stimulus a layer has after
// PooledOutputs(m, …, maxFeatures); -1 if its shape is not known.
func PooledFeatures(m *onnxpb.ModelProto, l models.Layer, maxFeatures int64) int64 {
	p := Plan(l, maxFeatures, Opset(m) >= 10)
	return models.Layer{Shape: p.Shape}.Features()
}
