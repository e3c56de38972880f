// Package onnxtest makes small ONNX models for tests: a good tiny CNN and
// a set of bad files that validation must refuse, each bad in one way.
package onnxtest

import (
	"math/rand/v2"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// TinyCNN is conv(3→2, 3×3) → relu → maxpool 2×2 on a [N,3,8,8] input,
// with deterministic weights.
func TinyCNN() *onnxmodel.Builder {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output("pool")
	w := make([]float32, 2*3*3*3)
	for i := range w {
		w[i] = float32(i%5-2) / 10
	}
	b.Initializer("w", []int64{2, 3, 3, 3}, w)
	b.Node("Conv", []string{"image", "w"}, []string{"conv"}, onnxmodel.AttrInts("kernel_shape", 3, 3))
	b.Node("Relu", []string{"conv"}, []string{"relu"})
	b.Node("MaxPool", []string{"relu"}, []string{"pool"}, onnxmodel.AttrInts("kernel_shape", 2, 2), onnxmodel.AttrInts("strides", 2, 2))
	return b
}

// Bad is a file validation must refuse.
type Bad struct {
	Name string
	Data []byte
	Kind error  // the sentinel the refusal wraps
	Msg  string // a fragment the refusal message contains
}

// BadModels returns the refusal cases: a truncated file, random bytes
// (seeded), a text file, an empty file, a custom-domain operator, an
// external-data reference to ../../etc/passwd, a rank-2 input, an input of
// absurd declared size, and an opset from the future.
func BadModels() []Bad {
	good := TinyCNN().Bytes()
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	custom := TinyCNN()
	n := custom.Node("FancyOp", []string{"pool"}, []string{"fancy"})
	n.Domain = proto.String("com.example")
	custom.M.OpsetImport = append(custom.M.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
	external := TinyCNN()
	w := external.M.Graph.Initializer[0]
	w.FloatData = nil
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}}
	rank2 := onnxmodel.NewBuilder(13).Input("x", onnxpb.TensorProto_FLOAT, -1, 10).Output("y")
	rank2.Node("Relu", []string{"x"}, []string{"y"})
	absurd := TinyCNN()
	absurd.M.Graph.Input[0] = &onnxpb.ValueInfoProto{Name: proto.String("image"), Type: onnxmodel.TensorType(onnxpb.TensorProto_FLOAT, 1, 3, 1<<40, 1<<40)}
	opset := TinyCNN()
	opset.M.OpsetImport[0].Version = proto.Int64(99)
	return []Bad{
		{"truncated.onnx", good[:len(good)/2], models.ErrNotONNX, "truncated"},
		{"random.onnx", random, models.ErrNotONNX, "not an ONNX model"},
		{"text.onnx", []byte("name,score\nalexnet,0.5\nThis is a CSV renamed to model.onnx\n"), models.ErrNotONNX, "ONNX"},
		{"empty.onnx", nil, models.ErrNotONNX, "empty"},
		{"custom_domain.onnx", custom.Bytes(), models.ErrCustomOperator, "com.example::FancyOp"},
		{"external_data.onnx", external.Bytes(), models.ErrExternalData, "../../etc/passwd"},
		{"rank2_input.onnx", rank2.Bytes(), models.ErrInput, "rank 2"},
		{"absurd_input.onnx", absurd.Bytes(), models.ErrInput, "1099511627776"},
		{"future_opset.onnx", opset.Bytes(), models.ErrOpset, "opset 99"},
	}
}
