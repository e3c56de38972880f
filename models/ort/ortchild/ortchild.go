// Package ortchild validates models with ONNX Runtime in a child process
// bounded in memory and time (issue 14, finding 3): a model that makes
// ONNX Runtime allocate gigabytes or spin costs the child, which the
// kernel or a timer stops, never the server.
//
// Runtime implements onnxmodel.Runtime (and its file form): each Load
// starts the child, a re-execution of the server's own binary with the
// hidden subcommand Subcommand (cmd/cortexbench wires it), which caps its
// own data memory (RLIMIT_DATA) before it loads ONNX Runtime, opens the
// model file with graph optimisations off, and writes one JSON answer on
// stdout. The parent kills it at the time limit.
package ortchild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/ort"
)

// Subcommand is the hidden subcommand of the server's binary that runs
// Main.
const Subcommand = "validate-child"

// ChildEnv, set to "1" in a child's environment, makes MainIfChild run
// the child: test binaries, which have no subcommands, re-execute
// themselves this way (see MainIfChild).
const ChildEnv = "CORTEXBENCH_ORTCHILD"

// Defaults of Config.
const (
	DefaultMemoryBytes = 2 << 30
	DefaultTimeout     = 30 * time.Second
)

// Config configures the child runtime.
type Config struct {
	// Command runs Main: the program and its first arguments, to which
	// the child's flags and the model path are appended. Default: this
	// executable with Subcommand.
	Command []string
	// Env is added to the child's environment (the parent's is passed
	// on: ONNX Runtime's own variables apply).
	Env []string
	// Library is the ONNX Runtime shared library the child loads.
	Library string
	// MemoryBytes is the child's data-memory limit (RLIMIT_DATA: its heap
	// and private writable mappings, Go's and ONNX Runtime's; not the
	// shared library's code). An allocation over it fails: ONNX Runtime
	// reports std::bad_alloc, Go's runtime dies, either way the model is
	// refused with a *LimitError. Default 2 GiB: ONNX Runtime 1.30 holds
	// about three times a model's initializers while it loads it (measured
	// here: a 256 MiB initializer needs 768 MiB, a 512 MiB one 1.5 GiB),
	// and the submissions' file limit is 512 MiB. RLIMIT_AS, the address
	// space, is no use: the library and the Go runtime reserve over 1 GiB
	// of it before any model is read.
	MemoryBytes int64
	// Timeout bounds one validation, start to answer. Default 30 s (a
	// 50 000-node model, the node limit, loads in about 3.5 s).
	Timeout time.Duration
}

// Runtime validates in a child process. It is safe for concurrent use;
// every Load starts its own child (bound how many run at once with
// onnxmodel.Validator).
type Runtime struct {
	cfg Config
}

// New checks cfg, fills in its defaults and returns the runtime.
func New(cfg Config) (*Runtime, error) {
	if len(cfg.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("validation child: find this executable: %w", err)
		}
		cfg.Command = []string{exe, Subcommand}
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryBytes < 256<<20 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("validation child: memory limit %d bytes (at least 256 MiB) and timeout %s must be positive", cfg.MemoryBytes, cfg.Timeout)
	}
	if st, err := os.Stat(cfg.Library); err != nil || st.IsDir() {
		return nil, fmt.Errorf("validation child: %w at %q", ort.ErrNoLibrary, cfg.Library)
	}
	return &Runtime{cfg: cfg}, nil
}

// Config is the configuration in effect.
func (r *Runtime) Config() Config { return r.cfg }

// MaxOpset is ONNX Runtime's (the child loads the same library).
func (r *Runtime) MaxOpset(domain string) int64 { return (*ort.Runtime)(nil).MaxOpset(domain) }

// Load writes data to a private temporary file and loads it (LoadFile).
func (r *Runtime) Load(data []byte) (inputs, outputs []models.Tensor, err error) {
	dir, err := os.MkdirTemp("", "cortexbench-validate-")
	if err != nil {
		return nil, nil, fmt.Errorf("temporary model directory: %w", err)
	}
	defer os.RemoveAll(dir)
	path := dir + "/model.onnx"
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, nil, fmt.Errorf("write temporary model file: %w", err)
	}
	return r.LoadFile(path)
}

// answer is the child's one line of JSON on stdout.
type answer struct {
	Inputs  []models.Tensor `json:"inputs,omitempty"`
	Outputs []models.Tensor `json:"outputs,omitempty"`
	Error   string          `json:"error,omitempty"`
	// Memory is set when the error is an allocation failure.
	Memory bool `json:"memory,omitempty"`
}

// LimitError is a validation stopped by the child's memory or time
// limit. It is a refusal of the model: errors.Is(err,
// onnxmodel.ErrOverLimit) holds.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string        { return e.Msg }
func (e *LimitError) Is(target error) bool { return target == onnxmodel.ErrOverLimit }

func (r *Runtime) memoryError(detail string) error {
	return &LimitError{fmt.Sprintf("validating the model needed more than %d MB of memory (%s): nothing was stored; submit a smaller model (or ask an operator to raise the limit)",
		r.cfg.MemoryBytes>>20, detail)}
}

// LoadFile runs the child on the model file at path and returns its
// answer: the model's inputs and outputs, ONNX Runtime's error, or a
// *LimitError when the child ran out of memory or time.
func (r *Runtime) LoadFile(path string) (inputs, outputs []models.Tensor, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	args := append(append([]string(nil), r.cfg.Command[1:]...),
		"--lib", r.cfg.Library, "--memory-bytes", fmt.Sprint(r.cfg.MemoryBytes), "--", path)
	cmd := exec.CommandContext(ctx, r.cfg.Command[0], args...)
	cmd.Env = append(append(os.Environ(), r.cfg.Env...), ChildEnv+"=1")
	var stdout, stderr bytes.Buffer
	// The answer lists the model's outputs (at most 100 000, the
	// validator's graph value limit): it fits in 32 MiB.
	cmd.Stdout = &limitedBuffer{b: &stdout, n: 32 << 20}
	cmd.Stderr = &limitedBuffer{b: &stderr, n: 64 << 10}
	cmd.WaitDelay = time.Second
	// Its own process group, so that a kill reaches any process it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, nil, &LimitError{fmt.Sprintf("validating the model took longer than %s (stopped after %s): nothing was stored; submit a smaller model (or ask an operator to raise the limit)",
			r.cfg.Timeout, time.Since(start).Round(time.Millisecond))}
	}
	var a answer
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &a); jerr != nil {
		// No answer: the child died. Under the address-space limit an
		// allocation that fails kills the Go runtime ("out of memory") or
		// aborts ONNX Runtime (std::bad_alloc).
		msg := lastLine(stderr.String())
		for _, l := range strings.Split(stderr.String(), "\n") {
			if oom(l) {
				msg = firstLine(l)
				break
			}
		}
		var ee *exec.ExitError
		if errors.As(runErr, &ee) && (oom(stderr.String()) || crashed(ee)) {
			return nil, nil, r.memoryError("the validator process failed: " + ee.String() + ": " + msg)
		}
		if runErr == nil {
			runErr = errors.New("no answer")
		}
		return nil, nil, fmt.Errorf("validation child: %v: %s", runErr, msg)
	}
	if a.Error != "" {
		// The staged file's path means nothing to the submitter.
		msg := strings.ReplaceAll(a.Error, path, "the model file")
		if a.Memory || oom(msg) {
			return nil, nil, r.memoryError("ONNX Runtime: " + firstLine(msg))
		}
		return nil, nil, errors.New(msg)
	}
	return a.Inputs, a.Outputs, nil
}

func oom(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"out of memory", "bad_alloc", "cannot allocate memory", "failed to allocate", "memory allocation"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// crashed reports a death by a signal the child did not ask for (abort,
// segfault: what a failed allocation in native code ends in).
func crashed(ee *exec.ExitError) bool {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// limitedBuffer keeps the first n bytes written and discards the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// MainIfChild runs Main and exits when ChildEnv is set: call it first in
// TestMain of a test binary whose tests use a Runtime with Command
// [os.Args[0]] (the test binary re-executes itself as the child).
func MainIfChild() {
	if os.Getenv(ChildEnv) != "1" {
		return
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == Subcommand {
		args = args[1:]
	}
	os.Exit(Main(args, os.Stdout, os.Stderr))
}

// Main is the child: flags --lib PATH --memory-bytes N, then the model
// path. It limits its own data memory first, then loads ONNX Runtime
// and the model, and writes the answer as JSON on stdout. It returns the
// exit status: 0 when it answered (the model may still be refused), 2 on
// bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	lib := fs.String("lib", "", "ONNX Runtime shared library")
	mem := fs.Int64("memory-bytes", DefaultMemoryBytes, "data-memory limit (RLIMIT_DATA)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *lib == "" {
		fmt.Fprintln(stderr, "usage: cortexbench "+Subcommand+" --lib PATH [--memory-bytes N] MODEL.onnx (internal: run by the server)")
		return 2
	}
	write := func(a answer) int {
		if err := json.NewEncoder(stdout).Encode(a); err != nil {
			return 1
		}
		return 0
	}
	lim := syscall.Rlimit{Cur: uint64(*mem), Max: uint64(*mem)}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &lim); err != nil {
		return write(answer{Error: fmt.Sprintf("limit the validator's memory: %v", err)})
	}
	cfg := ort.DefaultConfig()
	cfg.LibraryPath, cfg.Threads = *lib, 1
	rt, err := ort.Open(cfg)
	if err != nil {
		return write(answer{Error: err.Error(), Memory: oom(err.Error())})
	}
	ins, outs, err := rt.LoadFile(fs.Arg(0))
	if err != nil {
		return write(answer{Error: err.Error(), Memory: oom(err.Error())})
	}
	return write(answer{Inputs: ins, Outputs: outs})
}
