package benchmarks

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// datasetsDir locates the shared datasets: ../../shared/datasets relative
// to this package, or $CORTEXBENCH_DATA. Tests that need them skip
// when they are absent.
func datasetsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CORTEXBENCH_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "datasets")
	}
	if _, err := os.Stat(filepath.Join(dir, "algonauts2019-92")); err != nil {
		t.Skipf("datasets not found at %s (set CORTEXBENCH_DATA): %v", dir, err)
	}
	return dir
}

// builtin imports every built-in benchmark once per test binary: decoding
// the Cowley zips (11,000 images) takes seconds.
var builtin struct {
	once    sync.Once
	store   *objstore.Memory
	reg     *Registry
	results []AddResult
	err     error
}

func importedBuiltins(t *testing.T) (*Registry, *objstore.Memory, []AddResult) {
	t.Helper()
	dir := datasetsDir(t)
	builtin.once.Do(func() {
		builtin.store = objstore.NewMemory()
		builtin.reg = NewRegistry(builtin.store)
		builtin.results, builtin.err = builtin.reg.ImportBuiltin(context.Background(), dir, nil, AddOptions{})
	})
	if builtin.err != nil {
		t.Fatalf("import built-ins: %v", builtin.err)
	}
	return builtin.reg, builtin.store, builtin.results
}
