package ortchild_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/ort/ortchild"
)

func TestMain(m *testing.M) {
	ortchild.MainIfChild()
	os.Exit(m.Run())
}

func library(t testing.TB) string {
	lib := os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join("..", "..", "..", ort.DefaultLibraryPath)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime library: %v", err)
	}
	abs, _ := filepath.Abs(lib)
	return abs
}

func newRuntime(t testing.TB, mem int64, timeout time.Duration) *ortchild.Runtime {
	rt, err := ortchild.New(ortchild.Config{Command: []string{os.Args[0]}, Library: library(t), MemoryBytes: mem, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// bigModel is the tiny CNN with a side output made from a float
// initializer of n elements stored as raw_data: ONNX Runtime holds it in
// memory to make a session.
func bigModel(n int) []byte {
	b := onnxtest.TinyCNN()
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("big"), Dims: []int64{int64(n)},
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: make([]byte, 4*n)})
	b.Node("Identity", []string{"big"}, []string{"bomb"})
	b.M.Graph.Output = append(b.M.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("bomb")})
	return b.Bytes()
}

func write(t testing.TB, data []byte) string {
	p := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A model ONNX Runtime accepts: the child answers its inputs and outputs.
func TestLoadFileAnswers(t *testing.T) {
	rt := newRuntime(t, 0, 0)
	ins, outs, err := rt.LoadFile(write(t, onnxtest.TinyCNN().Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "image" || ins[0].Type != "float" || len(ins[0].Shape) != 4 || len(outs) == 0 {
		t.Fatalf("inputs %+v outputs %+v", ins, outs)
	}
	// Load (bytes) goes through a private temporary file to the same child.
	ins2, _, err := rt.Load(onnxtest.TinyCNN().Bytes())
	if err != nil || ins2[0].Name != "image" {
		t.Fatalf("Load: %+v %v", ins2, err)
	}
}

// ONNX Runtime's own refusal comes back as a plain error, not a limit.
func TestLoadFileRuntimeError(t *testing.T) {
	rt := newRuntime(t, 0, 0)
	p := write(t, []byte("not an onnx model at all"))
	_, _, err := rt.LoadFile(p)
	if err == nil || errors.Is(err, onnxmodel.ErrOverLimit) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "Protobuf parsing failed") {
		t.Errorf("message %q: want ONNX Runtime's reason without the staged file's path", err)
	}
	t.Log(err)
}

// A model that needs more memory than the child may use is refused with a
// *LimitError naming the limit: a 64 MiB initializer needs ~200 MiB.
func TestLoadFileMemoryLimit(t *testing.T) {
	rt := newRuntime(t, 256<<20, 0)
	_, _, err := rt.LoadFile(write(t, bigModel(64<<18)))
	var le *ortchild.LimitError
	if !errors.As(err, &le) || !errors.Is(err, onnxmodel.ErrOverLimit) {
		t.Fatalf("err = %v, want a LimitError", err)
	}
	if !strings.Contains(err.Error(), "needed more than 256 MB of memory") || !strings.Contains(err.Error(), "nothing was stored") {
		t.Fatalf("message %q", err)
	}
	// The same model under the default limit loads.
	if _, _, err := newRuntime(t, 0, 0).LoadFile(write(t, bigModel(64<<18))); err != nil {
		t.Fatalf("default limit: %v", err)
	}
}

// A model that takes longer to load than the time limit is stopped:
// 40 000 nodes take ONNX Runtime ~3 s, the limit is 300 ms.
func TestLoadFileTimeout(t *testing.T) {
	rt := newRuntime(t, 0, 300*time.Millisecond)
	p := write(t, onnxtest.ReluChain(40_000))
	start := time.Now()
	_, _, err := rt.LoadFile(p)
	if !errors.Is(err, onnxmodel.ErrOverLimit) || !strings.Contains(err.Error(), "took longer than 300ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stopped after %s", d)
	}
}

// Through onnxmodel.Validator, a limit refusal is a validation problem of
// kind ErrOverLimit carrying the child's message, and a good model is
// validated from its file by the child.
func TestValidatorWithChild(t *testing.T) {
	v, err := onnxmodel.NewValidator(onnxmodel.DefaultConfig(), newRuntime(t, 256<<20, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.ValidateFile(t.Context(), write(t, onnxtest.TinyCNN().Bytes()))
	if err != nil || c.Input.Name != "image" || c.SHA256 == "" {
		t.Fatalf("tiny: %+v %v", c, err)
	}
	_, err = v.ValidateFile(t.Context(), write(t, bigModel(64<<18)))
	var ve *models.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, onnxmodel.ErrOverLimit) || !strings.Contains(err.Error(), "needed more than 256 MB") {
		t.Fatalf("err = %v", err)
	}
}

// A child that dies without answering: killed by a signal (what a failed
// allocation in native code ends in) is a memory refusal; any other
// failure is an error of the server, not a refusal.
func TestChildDiesWithoutAnswer(t *testing.T) {
	lib := library(t)
	for _, c := range []struct {
		script string
		limit  bool
	}{
		{`echo "terminate called after throwing an instance of 'std::bad_alloc'" >&2; kill -ABRT $$`, true},
		{`echo "fatal error: runtime: out of memory" >&2; exit 2`, true},
		{`echo "something else" >&2; exit 1`, false},
	} {
		rt, err := ortchild.New(ortchild.Config{Command: []string{"/bin/sh", "-c", c.script, "sh"}, Library: lib})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = rt.LoadFile("/nonexistent.onnx")
		if got := errors.Is(err, onnxmodel.ErrOverLimit); got != c.limit || err == nil {
			t.Errorf("%s: %v (limit %v)", c.script, err, got)
		}
		if c.limit && !strings.Contains(err.Error(), "needed more than 2048 MB of memory") {
			t.Errorf("%s: message %q", c.script, err)
		}
		t.Log(err)
	}
}
