// Package submissionstest builds the ONNX files tests upload: a
// tiny valid CNN and the models issue's corpus of bad models, each bad in
// one precise way (the same recipes as models/onnxmodel's tests).
package submissionstest

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/submissions"
)

// Spec is a preprocessing spec that fits TinyCNN.
const Spec = "size=8,crop=1,mean=0.5:0.5:0.5,std=0.25:0.25:0.25,layout=NCHW,pixel=float"

// tiny is conv(3→2, 3×3) → relu → maxpool 2×2 on a [N,3,8,8] input; seed
// varies the weights, so different seeds give different files (hashes).
func tiny(seed uint64) *onnxmodel.Builder {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output("pool")
	w := make([]float32, 2*3*3*3)
	for i := range w {
		w[i] = float32((int(seed)+i)%5-2) / 10
	}
	// The pattern repeats every 5 seeds; the last weight keeps every seed's
	// file distinct.
	w[len(w)-1] += float32(seed) / 1000
	b.Initializer("w", []int64{2, 3, 3, 3}, w)
	b.Node("Conv", []string{"image", "w"}, []string{"conv"}, onnxmodel.AttrInts("kernel_shape", 3, 3))
	b.Node("Relu", []string{"conv"}, []string{"relu"})
	b.Node("MaxPool", []string{"relu"}, []string{"pool"}, onnxmodel.AttrInts("kernel_shape", 2, 2), onnxmodel.AttrInts("strides", 2, 2))
	return b
}

// TinyCNN returns a valid model file; seed varies its weights.
func TinyCNN(seed uint64) []byte { return tiny(seed).Bytes() }

// Bad returns the bad-model corpus by name.
func Bad() map[string][]byte {
	good := TinyCNN(0)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	custom := tiny(0)
	n := custom.Node("FancyOp", []string{"pool"}, []string{"fancy"})
	n.Domain = proto.String("com.example")
	custom.M.OpsetImport = append(custom.M.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
	external := tiny(0)
	w := external.M.Graph.Initializer[0]
	w.FloatData = nil
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}}
	rank2 := onnxmodel.NewBuilder(13).Input("x", onnxpb.TensorProto_FLOAT, -1, 10).Output("y")
	rank2.Node("Relu", []string{"x"}, []string{"y"})
	absurd := tiny(0)
	absurd.M.Graph.Input[0] = &onnxpb.ValueInfoProto{Name: proto.String("image"), Type: onnxmodel.TensorType(onnxpb.TensorProto_FLOAT, 1, 3, 1<<40, 1<<40)}
	return map[string][]byte{
		"truncated":     good[:len(good)/2],
		"random bytes":  random,
		"text file":     []byte("name,score\nalexnet,0.5\nThis is a CSV renamed to model.onnx\n"),
		"custom domain": custom.Bytes(),
		"external data": external.Bytes(),
		"rank 2 input":  rank2.Bytes(),
		"absurd input":  absurd.Bytes(),
	}
}

// Staged writes data to a private file for Service.Submit, removed when
// t ends.
func Staged(t testing.TB, data []byte) submissions.Upload {
	t.Helper()
	up, err := submissions.StageUpload(t.TempDir(), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Remove() })
	return up
}
