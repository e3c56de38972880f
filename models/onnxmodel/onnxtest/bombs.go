package onnxtest

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Bomb is a small file that costs a validator that trusts it a lot of
// memory or time (issue 14, finding 3).
type Bomb struct {
	Name string
	Data []byte
	Msg  string // a fragment the refusal message contains; "" if accepted
}

// int64Tensor is an INT64 initializer stored as raw_data.
func int64Tensor(name string, v ...int64) *onnxpb.TensorProto {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(v))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), RawData: raw}
}

func scalar(name string, dt onnxpb.TensorProto_DataType, v float64) *onnxpb.TensorProto {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(dt))}
	switch dt {
	case onnxpb.TensorProto_INT64:
		t.Int64Data = []int64{int64(v)}
	default:
		t.FloatData = []float32{float32(v)}
	}
	return t
}

// withImage is TinyCNN whose output is added to a broadcast of t: the
// model stays a valid image model, with the bomb on a side branch.
func withImage(op string, inputs []string, inits ...*onnxpb.TensorProto) *onnxmodel.Builder {
	b := TinyCNN()
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, inits...)
	b.Node(op, inputs, []string{"bomb"})
	b.M.Graph.Output = append(b.M.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("bomb")})
	return b
}

// ConstantOfShapeBomb is a ~270-byte model whose ConstantOfShape makes
// rows×cols floats (16384×8192: 128M, 512 MiB) from a 2-element constant
// shape: constant folding materialises it while the model loads.
func ConstantOfShapeBomb(rows, cols int64) []byte {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, 1, 3, 8, 8).Output("out")
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, int64Tensor("shape", rows, cols))
	b.Node("ConstantOfShape", []string{"shape"}, []string{"big"}, &onnxpb.AttributeProto{
		Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(),
		T: &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{1}}})
	b.Node("ReduceSum", []string{"big"}, []string{"sum"}, onnxmodel.AttrInt("keepdims", 1))
	b.Node("Add", []string{"image", "sum"}, []string{"out"})
	return b.Bytes()
}

// PackedDimsBomb is a 16 MB model whose one initializer declares 16M
// dimensions of 1, packed one byte each: decoded, 128 MiB of int64, and
// more in any runtime that builds a shape object per dimension.
func PackedDimsBomb(n int) []byte {
	b := TinyCNN()
	// Append the initializer by hand: building a []int64 of n to marshal
	// would cost what the test is about.
	dims := make([]byte, n)
	for i := range dims {
		dims[i] = 1
	}
	var t []byte
	t = protowire.AppendTag(t, 1, protowire.BytesType) // TensorProto.dims, packed
	t = protowire.AppendBytes(t, dims)
	t = protowire.AppendTag(t, 2, protowire.VarintType) // data_type
	t = protowire.AppendVarint(t, uint64(onnxpb.TensorProto_FLOAT))
	t = protowire.AppendTag(t, 8, protowire.BytesType) // name
	t = protowire.AppendString(t, "packed")
	t = protowire.AppendTag(t, 9, protowire.BytesType) // raw_data: one float
	t = protowire.AppendBytes(t, []byte{0, 0, 0x80, 0x3f})
	var g []byte
	g = protowire.AppendTag(g, 5, protowire.BytesType) // GraphProto.initializer
	g = protowire.AppendBytes(g, t)
	var m []byte
	m = protowire.AppendTag(m, 7, protowire.BytesType) // ModelProto.graph: merged with the first
	m = protowire.AppendBytes(m, g)
	return append(b.Bytes(), m...)
}

// ReluChain is n Relu nodes in a chain from the image input, stored in
// reverse topological order (legal to refuse, but a sort must be linear).
func ReluChain(n int) []byte {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output(fmt.Sprintf("r%d", n-1))
	for i := n - 1; i >= 0; i-- {
		in := "image"
		if i > 0 {
			in = fmt.Sprintf("r%d", i-1)
		}
		b.Node("Relu", []string{in}, []string{fmt.Sprintf("r%d", i)})
	}
	return b.Bytes()
}

// Bombs returns every bomb: the ConstantOfShape of 128M floats
// (accepted by default: it is the size of the weights the ONNX zoo's light
// VGG19 makes the same way, and validation does not fold it) and a 1G
// one, 16M packed dims, a reverse-order Relu chain of 64k nodes (over the
// default node limit) and one of 48k (accepted: under it), the Expand,
// Tile and Range variants, a shape hidden behind Concat and Mul, and three
// 128M ConstantOfShapes (over the limit on all constants together).
func Bombs() []Bomb {
	expand := withImage("Expand", []string{"one", "eshape"}, scalar("one", onnxpb.TensorProto_FLOAT, 1), int64Tensor("eshape", 1<<12, 1<<12, 1<<4))
	tile := withImage("Tile", []string{"w", "reps"}, int64Tensor("reps", 1<<12, 1<<12, 1, 1))
	rng := withImage("Range", []string{"start", "limit", "delta"}, scalar("start", onnxpb.TensorProto_FLOAT, 0), scalar("limit", onnxpb.TensorProto_FLOAT, 1e9), scalar("delta", onnxpb.TensorProto_FLOAT, 1))
	// The shape hidden behind shape arithmetic: Concat of a Mul of
	// initializers and an initializer.
	hidden := TinyCNN()
	hidden.M.Graph.Initializer = append(hidden.M.Graph.Initializer, int64Tensor("a", 1<<10), int64Tensor("b", 1<<10), int64Tensor("c", 1<<8))
	hidden.Node("Mul", []string{"a", "b"}, []string{"ab"})
	hidden.Node("Concat", []string{"ab", "c"}, []string{"shape"}, onnxmodel.AttrInt("axis", 0))
	hidden.Node("ConstantOfShape", []string{"shape"}, []string{"bomb"})
	hidden.M.Graph.Output = append(hidden.M.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("bomb")})
	three := TinyCNN()
	three.M.Graph.Initializer = append(three.M.Graph.Initializer, int64Tensor("s", 1<<14, 1<<13))
	for i := range 3 {
		o := fmt.Sprintf("c%d", i)
		three.Node("ConstantOfShape", []string{"s"}, []string{o})
		three.M.Graph.Output = append(three.M.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(o)})
	}
	return []Bomb{
		{"constant_of_shape_128M", ConstantOfShapeBomb(1<<14, 1<<13), ""},
		{"constant_of_shape_1G", ConstantOfShapeBomb(1<<15, 1<<15), "1073741824 elements"},
		{"packed_dims_16M", PackedDimsBomb(16 << 20), "16777216 dimensions"},
		{"relu_64k_reverse", ReluChain(64 << 10), "at least 65536 nodes"},
		{"relu_48k_reverse", ReluChain(48 << 10), ""},
		{"expand_256M", expand.Bytes(), "Expand"},
		{"tile_16M_x_54", tile.Bytes(), "Tile"},
		{"range_1G", rng.Bytes(), "Range"},
		{"concat_mul_256M", hidden.Bytes(), "ConstantOfShape"},
		{"three_128M", three.Bytes(), "together"},
	}
}
