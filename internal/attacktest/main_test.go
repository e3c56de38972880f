package attacktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// binDir holds the cortexbench binary the suite builds once.
var (
	binDir    string
	buildOnce sync.Once
	bin       string
	buildErr  error
)

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// cortexbench builds cmd/cortexbench once (with the go command that runs
// the tests), so the suite runs the real binary, and returns its path.
func cortexbench(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "cortexbench-attacktest-"); buildErr != nil {
			return
		}
		bin = filepath.Join(binDir, "cortexbench")
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			goCmd = "go"
		}
		cmd := exec.Command(goCmd, "build", "-o", bin, "github.com/cortexbench/cortexbench/cmd/cortexbench")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/cortexbench: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}
