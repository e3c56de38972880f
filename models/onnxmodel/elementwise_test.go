package onnxmodel

import "testing"

// TestBind checks the broadcasting rules of a Min/Max constant against a
// layer shape: one non-batch axis may vary, aligned from the right.
func TestBind(t *testing.T) {
	e := Elementwise{Const: []float32{1, 2, 3}, ConstDims: []int64{1, 3, 1, 1}, IsMin: true}
	f, ok := e.Bind([]int64{-1, 3, 2, 2})
	if !ok {
		t.Fatal("per-channel constant refused")
	}
	// Position p = c·4 + h·2 + w: channel c is bounded by c+1.
	for p := range 12 {
		if got, want := f(p, 10), float32(p/4+1); got != want {
			t.Errorf("p=%d: min(10, const) = %v, want %v", p, got, want)
		}
	}
	if f, ok := (Elementwise{Const: []float32{1, 2}, ConstDims: []int64{2}}).Bind([]int64{-1, 3, 2}); !ok || f(1, 0) != 2 || f(4, 0) != 1 {
		t.Error("last-axis constant (dims [2] against [N,3,2]) wrong")
	}
	for name, c := range map[string]Elementwise{
		"wrong size":    {Const: []float32{1, 2}, ConstDims: []int64{1, 2, 1, 1}},
		"two axes":      {Const: make([]float32, 12), ConstDims: []int64{1, 3, 2, 2}},
		"batch axis":    {Const: []float32{1, 2}, ConstDims: []int64{2, 1, 1, 1}},
		"higher rank":   {Const: []float32{1}, ConstDims: []int64{1, 1, 1, 1, 1}},
		"unknown inner": {Const: []float32{1, 2, 3}, ConstDims: []int64{3, 1}},
	} {
		shape := []int64{2, 3, 2, 2}
		if name == "unknown inner" {
			shape = []int64{-1, 3, -1}
		}
		if _, ok := c.Bind(shape); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}
