package attacktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// bin is the cortexbench binary TestMain builds; buildErr says why there
// is none.
var (
	bin      string
	buildErr error
)

// TestMain builds cmd/cortexbench once into a temporary folder, so the
// suite runs the real binary (and runs beside the slow cmd tests in CI).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cortexbench-attacktest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "cortexbench")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, "build", "-o", bin, "github.com/cortexbench/cortexbench/cmd/cortexbench")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/cortexbench: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
