package ort

import (
	"fmt"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Inspect enumerates every node output of the model in topological order
// (onnxmodel.Layers) and fills in each layer's element type and shape as
// ONNX Runtime infers them with every node output exposed as a graph
// output. PerStimulus is narrowed to numeric tensors whose first axis is
// the batch.
func (r *Runtime) Inspect(m *onnxpb.ModelProto) ([]models.Layer, error) {
	layers, err := onnxmodel.Layers(m)
	if err != nil {
		return nil, fmt.Errorf("enumerate layers: %w", err)
	}
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = l.Tensor
	}
	data, err := onnxmodel.Expose(m, names)
	if err != nil {
		return nil, err
	}
	ins, outs, err := onnxruntime.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("infer layer shapes in ONNX Runtime: %w", err)
	}
	byName := map[string]onnxruntime.InputOutputInfo{}
	for _, o := range outs {
		byName[o.Name] = o
	}
	batch := int64(-1)
	for _, in := range ins {
		if len(in.Dimensions) > 0 {
			batch = in.Dimensions[0]
		}
	}
	for i := range layers {
		l := &layers[i]
		info, ok := byName[l.Tensor]
		if !ok {
			l.Type = "unknown"
			l.PerStimulus = false
			continue
		}
		t := tensorOf(info)
		l.Type, l.Shape = t.Type, t.Shape
		if !extractable(l.Type) || len(l.Shape) == 0 || (l.Shape[0] != -1 && l.Shape[0] != batch) {
			l.PerStimulus = false
		}
	}
	return layers, nil
}

func extractable(typ string) bool {
	switch typ {
	case "float", "uint8", "int8", "int16", "uint16", "int32", "int64", "double", "bool":
		return true
	}
	return false
}
