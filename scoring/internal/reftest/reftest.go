// Package reftest holds what the scoring packages' tests share to read real
// data and reference values: where the shared datasets are, and RDM files
// as upper-triangle vectors.
package reftest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/storage/npy"
)

// DataDir locates the shared datasets: $CORTEXBENCH_DATA, else
// ../shared/datasets beside the repository (three levels above a scoring
// package); the test is skipped if the folder is absent.
func DataDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("CORTEXBENCH_DATA")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "datasets")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("datasets folder %s absent (set CORTEXBENCH_DATA): %v", d, err)
	}
	return d
}

// Uppers reads an .npy of RDMs (…, n, n) and returns each RDM's upper
// triangle (i < j, row-major), as rdm.Upper lays it out.
func Uppers(t testing.TB, path string) [][]float64 {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := a.Shape[len(a.Shape)-1]
	d := a.Float64()
	out := make([][]float64, len(d)/(n*n))
	for s := range out {
		for i := 0; i < n; i++ {
			out[s] = append(out[s], d[s*n*n+i*n+i+1:s*n*n+i*n+n]...)
		}
	}
	return out
}
