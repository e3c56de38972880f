package main

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/storage/npy"
)

// The fixed-alpha held-out predictions of `compute ridge --folds-file` equal
// sklearn Ridge(alpha=3) per fold (reference from
// scoring/ridge/testdata/gen_reference.py, sklearn 1.2.1), to 1e-8 relative.
func TestComputeRidge(t *testing.T) {
	td := filepath.Join("..", "..", "scoring", "ridge", "testdata")
	out := filepath.Join(t.TempDir(), "p.npy")
	stdout, stderr, err := run(t, "compute", "ridge", "--x", filepath.Join(td, "kernel_x.npy"), "--y", filepath.Join(td, "kernel_y.npy"),
		"--folds-file", filepath.Join(td, "kernel_folds.npy"), "--alphas", "3", "--out", out)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var res struct {
		MedianR float64   `json:"median_r"`
		R       []float64 `json:"r"`
		Alpha   []float64 `json:"alpha"`
		Folds   int       `json:"folds"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if res.Folds != 4 || len(res.R) != 6 || len(res.Alpha) != 6 || res.Alpha[0] != 3 {
		t.Errorf("unexpected output %s", stdout)
	}
	got, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(td, "kernel_pred_alpha3.npy"))
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Float64(), want.Float64()
	d, s := 0.0, 0.0
	for i := range w {
		d, s = max(d, math.Abs(g[i]-w[i])), max(s, math.Abs(w[i]))
	}
	if d > 1e-8*s {
		t.Errorf("predictions differ from sklearn by %g relative", d/s)
	}
}

func TestComputeRidgeBadInput(t *testing.T) {
	dir := t.TempDir()
	x := writeNPY(t, dir, "x.npy", []int{10, 3}, make([]float64, 30))
	y := writeNPY(t, dir, "y.npy", []int{9, 2}, make([]float64, 18))
	f := writeNPY(t, dir, "f.npy", []int{10}, make([]int64, 10))
	for _, args := range [][]string{
		{"--x", x, "--y", y},
		{"--x", x, "--y", x, "--alphas", "1,zero"},
		{"--x", x, "--y", x, "--folds-file", f},
		{"--x", x, "--y", x, "--folds", "11"},
	} {
		_, _, err := run(t, append([]string{"compute", "ridge"}, args...)...)
		if !errors.Is(err, errInput) {
			t.Errorf("%v: error %v, want bad input", args, err)
		}
	}
	if _, _, err := run(t, "compute", "ridge", "--x", x); !errors.Is(err, errUsage) {
		t.Errorf("missing --y: %v", err)
	}
}
