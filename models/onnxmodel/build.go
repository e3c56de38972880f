package onnxmodel

import (
	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Builder assembles small ONNX models in code: tests use it to make
// networks with known weights, and models that are bad in one precise way.
type Builder struct {
	M *onnxpb.ModelProto
}

// NewBuilder starts a model with IR version 8 importing the default domain
// at opset.
func NewBuilder(opset int64) *Builder {
	return &Builder{M: &onnxpb.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("cortexbench"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph:        &onnxpb.GraphProto{Name: proto.String("g")},
	}}
}

// TensorType returns a tensor type; a negative dim becomes the symbolic
// dimension "N".
func TensorType(elem onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.TypeProto {
	var shape *onnxpb.TensorShapeProto
	if dims != nil {
		shape = &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			if d < 0 {
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
			} else {
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
			}
			shape.Dim = append(shape.Dim, dim)
		}
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(elem)), Shape: shape}}}
}

// Input adds a graph input.
func (b *Builder) Input(name string, elem onnxpb.TensorProto_DataType, dims ...int64) *Builder {
	b.M.Graph.Input = append(b.M.Graph.Input, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: TensorType(elem, dims...)})
	return b
}

// Output adds a float graph output of unknown shape.
func (b *Builder) Output(name string) *Builder {
	b.M.Graph.Output = append(b.M.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: TensorType(onnxpb.TensorProto_FLOAT)})
	return b
}

// Initializer adds a float32 initializer.
func (b *Builder) Initializer(name string, dims []int64, data []float32) *Builder {
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, &onnxpb.TensorProto{
		Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: data})
	return b
}

// Node adds a node in the default domain, named after its first output.
func (b *Builder) Node(op string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: proto.String(op), Input: inputs, Output: outputs, Name: proto.String(op + "_" + outputs[0]), Attribute: attrs}
	b.M.Graph.Node = append(b.M.Graph.Node, n)
	return n
}

// Bytes marshals the model.
func (b *Builder) Bytes() []byte {
	data, err := proto.Marshal(b.M)
	if err != nil {
		panic(err) // a builder model always marshals
	}
	return data
}

// AttrInts is an INTS attribute.
func AttrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// AttrInt is an INT attribute.
func AttrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}
