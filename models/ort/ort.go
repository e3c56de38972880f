// Package ort is the ONNX Runtime adapter, the only package that imports
// github.com/yalue/onnxruntime_go. It loads the shared library, infers the
// shapes of a network's layers, and runs extraction: chosen node outputs
// exposed as graph outputs, computed in mini-batches into pre-allocated
// tensors that are reused from batch to batch, and handed to a
// models.Consumer one layer at a time.
package ort

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// DefaultLibraryPath is where scripts/setup.sh installs the library,
// relative to the repository root.
const DefaultLibraryPath = "third_party/onnxruntime/libonnxruntime.so.1.30.0"

// ErrNoLibrary means the ONNX Runtime shared library is missing.
var ErrNoLibrary = errors.New("ONNX Runtime library not found")

// Config configures the runtime.
type Config struct {
	// LibraryPath is the libonnxruntime.so to load (1.24 or newer; the
	// project pins 1.30.0).
	LibraryPath string
	// Threads is ONNX Runtime's intra-op thread count.
	Threads int
	// BatchSize is the mini-batch size for dynamic-batch models.
	BatchSize int
	// MaxBatchBytes bounds the activation memory of one mini-batch: the
	// larger of the exposed layers' full size (ONNX Runtime materialises
	// them, and keeps them when they are graph outputs or feed an in-graph
	// pooling) and the pre-allocated outputs. The batch is made smaller
	// when the exposed layers are large: MobileNetV2's 245 layers are ~127
	// MiB per image, so its all-layer batch is 4 by default.
	MaxBatchBytes int64
	// Spin lets ONNX Runtime's idle threads busy-wait for work. Off by
	// default: on a small shared machine spinning threads steal the cores
	// that other work (decoding, reducing, other processes) needs.
	Spin bool
}

// DefaultConfig returns the defaults: the library from scripts/setup.sh, 2
// threads, batches of 16 within 512 MiB of activations.
func DefaultConfig() Config {
	return Config{LibraryPath: DefaultLibraryPath, Threads: 2, BatchSize: 16, MaxBatchBytes: 512 << 20}
}

// Validate checks the config, including that the library file exists.
func (c Config) Validate() error {
	if c.Threads < 1 || c.BatchSize < 1 || c.MaxBatchBytes < 1 {
		return fmt.Errorf("ort config: threads (%d), batch size (%d) and max batch bytes (%d) must be positive", c.Threads, c.BatchSize, c.MaxBatchBytes)
	}
	st, err := os.Stat(c.LibraryPath)
	if err != nil || st.IsDir() {
		return fmt.Errorf("%w at %q: run ./scripts/setup.sh from the repository root to install libonnxruntime.so.1.30.0, or pass --onnxruntime-lib PATH", ErrNoLibrary, c.LibraryPath)
	}
	return nil
}

// The ONNX Runtime environment is process-wide: it is initialised once,
// with the first library path given.
var env struct {
	sync.Mutex
	path string
	// live counts the extraction sessions open; shared is set while the
	// environment holds one CPU arena that they allocate from (acquireArena).
	live   int
	shared bool
}

func initEnv(path string) error {
	env.Lock()
	defer env.Unlock()
	if onnxruntime.IsInitialized() {
		if path != env.path {
			return fmt.Errorf("ONNX Runtime already initialised from %q, cannot switch to %q in one process", env.path, path)
		}
		return nil
	}
	onnxruntime.SetSharedLibraryPath(path)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return fmt.Errorf("initialise ONNX Runtime from %q: %w", path, err)
	}
	env.path = path
	return nil
}

// acquireArena is called for each extraction session before it is created:
// use reports whether the session is to allocate from the environment's
// shared CPU arena (session.use_env_allocators), and release, called once
// the session is destroyed, unregisters the arena when no session is left,
// so that its memory goes back to the system between runs (a server that
// scored keeps serving without it).
//
// Each session otherwise grows an arena of its own and touches its pages
// afresh on its first Run. A run opens a session per set of layers (the
// bare passes, all 240 layers of MobileNetV2 for the RSA benchmarks, a
// public encoding benchmark's candidates, each private benchmark's
// committed layer) and holds them all, so every first pass paid its own
// page faults: ~150,000 for the 240 layers (on 92 images that first pass
// took 1.35 s and 2.2 CPU-s more than the next), ~70,000 for 20 layers;
// and the process held every session's arena at once. With one arena a new
// session reuses the pages the sessions before it touched, and the process
// holds the largest need rather than the sum. The values computed are the
// same bit for bit: only where tensors live changes (TestSharedArena). The
// arena has ONNX Runtime's defaults (grown by powers of two, no limit). If
// it cannot be registered, sessions keep arenas of their own.
func acquireArena() (use bool, release func()) {
	env.Lock()
	defer env.Unlock()
	if env.live == 0 && !privateArenas {
		env.shared = registerArena() == nil
	}
	env.live++
	return env.shared, sync.OnceFunc(func() {
		env.Lock()
		defer env.Unlock()
		env.live--
		if env.live == 0 && env.shared {
			if mi, err := onnxruntime.GetMemoryInfo(); err == nil {
				_ = onnxruntime.UnregisterAllocator(mi) // the sessions are gone: nothing holds it
			}
			env.shared = false
		}
	})
}

// registerArena registers the shared CPU arena with the environment.
func registerArena() error {
	mi, err := onnxruntime.GetMemoryInfo()
	if err != nil {
		return err
	}
	cfg, err := onnxruntime.NewArenaCfg(0, -1, -1, -1)
	if err != nil {
		return err
	}
	defer cfg.Destroy()
	return onnxruntime.CreateAndRegisterAllocator(mi, cfg)
}

// privateArenas, set by a test, gives every session an arena of its own
// (as before acquireArena).
var privateArenas = false

// Runtime runs ONNX models. Sessions of one Runtime are not meant to run
// concurrently: each uses cfg.Threads threads.
type Runtime struct {
	cfg    Config
	pixels atomic.Pointer[preprocess.PixelCache]
}

// SetPixelCache makes the extractors created from now on get images'
// pixels through c (the run's shared decoded images, issue 18; nil: decode
// every image).
func (r *Runtime) SetPixelCache(c *preprocess.PixelCache) { r.pixels.Store(c) }

// PixelCache is the cache set by SetPixelCache, or nil.
func (r *Runtime) PixelCache() *preprocess.PixelCache { return r.pixels.Load() }

// Open validates cfg and initialises ONNX Runtime (once per process).
func Open(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := initEnv(cfg.LibraryPath); err != nil {
		return nil, err
	}
	return &Runtime{cfg: cfg}, nil
}

// Version is the ONNX Runtime library version.
func (r *Runtime) Version() string { return onnxruntime.GetVersion() }

// MaxOpset is the newest opset ONNX Runtime 1.30 officially supports per
// domain (it refuses newer ones as "under development").
func (r *Runtime) MaxOpset(domain string) int64 {
	if domain == "ai.onnx.ml" {
		return 5
	}
	return 26
}

// Load creates a session from data and returns its inputs and outputs.
// The session is made with every graph optimisation off, on one thread:
// it only proves that ONNX Runtime accepts the model, and optimisations
// such as constant folding would compute (and allocate) tensors of a model
// not yet trusted while loading it. onnxruntime_go takes session options
// only with a file path, so the bytes go through a temporary file, removed
// before returning.
func (r *Runtime) Load(data []byte) (inputs, outputs []models.Tensor, err error) {
	f, err := os.CreateTemp("", "cortexbench-validate-*.onnx")
	if err != nil {
		return nil, nil, fmt.Errorf("temporary model file: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("write temporary model file: %w", werr)
	}
	return r.LoadFile(f.Name())
}

// LoadFile is Load of the model file at path, read by ONNX Runtime itself.
func (r *Runtime) LoadFile(path string) (inputs, outputs []models.Tensor, err error) {
	ins, outs, err := inspectUnoptimised(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load model in ONNX Runtime: %w", err)
	}
	return tensors(ins), tensors(outs), nil
}

// LibraryPath is the ONNX Runtime shared library the runtime loaded.
func (r *Runtime) LibraryPath() string { return r.cfg.LibraryPath }

// inspectUnoptimised returns the inputs and outputs of a session made from
// the file at path with graph optimisations disabled.
func inspectUnoptimised(path string) (ins, outs []onnxruntime.InputOutputInfo, err error) {
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, fmt.Errorf("disable graph optimisations: %w", err)
	}
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, fmt.Errorf("set threads: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, nil, fmt.Errorf("set threads: %w", err)
	}
	return onnxruntime.GetInputOutputInfoWithOptions(path, opts)
}

func tensors(infos []onnxruntime.InputOutputInfo) []models.Tensor {
	out := make([]models.Tensor, len(infos))
	for i, in := range infos {
		out[i] = tensorOf(in)
	}
	return out
}

func tensorOf(in onnxruntime.InputOutputInfo) models.Tensor {
	t := models.Tensor{Name: in.Name, Type: typeName(in)}
	if in.OrtValueType == onnxruntime.ONNXTypeTensor {
		t.Shape = append([]int64(nil), in.Dimensions...)
	}
	return t
}

func typeName(in onnxruntime.InputOutputInfo) string {
	if in.OrtValueType != onnxruntime.ONNXTypeTensor {
		return in.OrtValueType.String()
	}
	switch in.DataType {
	case onnxruntime.TensorElementDataTypeFloat:
		return "float"
	case onnxruntime.TensorElementDataTypeUint8:
		return "uint8"
	case onnxruntime.TensorElementDataTypeInt8:
		return "int8"
	case onnxruntime.TensorElementDataTypeInt16:
		return "int16"
	case onnxruntime.TensorElementDataTypeUint16:
		return "uint16"
	case onnxruntime.TensorElementDataTypeInt32:
		return "int32"
	case onnxruntime.TensorElementDataTypeUint32:
		return "uint32"
	case onnxruntime.TensorElementDataTypeInt64:
		return "int64"
	case onnxruntime.TensorElementDataTypeUint64:
		return "uint64"
	case onnxruntime.TensorElementDataTypeDouble:
		return "double"
	case onnxruntime.TensorElementDataTypeBool:
		return "bool"
	}
	return in.DataType.String()
}
