package ceiling

import (
	"errors"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// TestBoundsAndTransforms checks the issue 16 bounds and transforms on
// hand-checkable inputs (the numpy references are in
// benchmarks/testdata/conventions, through the import).
func TestBoundsAndTransforms(t *testing.T) {
	for in, want := range map[string]Bound{"": BoundUpper, "upper": BoundUpper, "lower": BoundLower, "leave-one-subject-out": BoundLOSO, "halves": BoundHalves} {
		if b, err := ParseBound(in); err != nil || b != want {
			t.Errorf("ParseBound(%q) = %q, %v; want %q", in, b, err, want)
		}
	}
	if _, err := ParseBound("loso"); !errors.Is(err, ErrBound) {
		t.Errorf("ParseBound(loso): %v, want ErrBound", err)
	}
	if _, err := ParseTransform("square"); !errors.Is(err, ErrTransform) {
		t.Errorf("ParseTransform(square): %v, want ErrTransform", err)
	}

	subj := [][]float64{{1, 2, 3, 4, 5, 6}, {2, 1, 4, 3, 6, 5}, {1, 3, 2, 4, 6, 5}, {6, 1, 2, 3, 4, 5}}
	plain, err := RSACeiling(subj, rsa.Spearman)
	if err != nil {
		t.Fatal(err)
	}
	std, err := RSACeilingPool(subj, rsa.Spearman, PoolStandardized)
	if err != nil {
		t.Fatal(err)
	}
	// LOSO ignores the pooling: the plain mean of the others.
	for _, pool := range []Pool{PoolMean, PoolStandardized} {
		v, err := RSABound(subj, rsa.Spearman, pool, BoundLOSO)
		if err != nil || v != plain.Lower {
			t.Errorf("LOSO with pool %s: %v, %v; want the plain lower bound %v", pool, v, err, plain.Lower)
		}
	}
	if v, _ := RSABound(subj, rsa.Spearman, PoolStandardized, BoundLower); v != std.Lower {
		t.Errorf("lower, standardized: %v, want %v", v, std.Lower)
	}
	if v, _ := RSABound(subj, rsa.Spearman, PoolMean, ""); v != plain.Upper {
		t.Errorf("default bound: %v, want the upper %v", v, plain.Upper)
	}
	if _, err := RSABound(subj, rsa.Spearman, PoolMean, BoundHalves); !errors.Is(err, ErrBound) {
		t.Errorf("halves from symmetric RDMs: %v, want ErrBound", err)
	}

	// Halves: identical triangles are perfectly reliable; pairs swapped
	// within two blocks give Spearman r = 0.6, Spearman–Brown corrected.
	a := [][]float64{{1, 2, 3, 4}, {1, 2, 3, 4}}
	b := [][]float64{{1, 2, 3, 4}, {2, 1, 4, 3}}
	h, per, err := Halves(a, b, rsa.Spearman)
	r := 0.6 // Spearman of 1234 vs 2143: 1 − 6·4/(4·15)
	if err != nil || per[0] != 1 || math.Abs(per[1]-2*r/(1+r)) > 1e-15 || math.Abs(h-(1+2*r/(1+r))/2) > 1e-15 {
		t.Errorf("Halves = %v %v %v", h, per, err)
	}
	if _, _, err := Halves(a, b[:1], rsa.Spearman); !errors.Is(err, ErrShape) {
		t.Errorf("Halves with a missing subject: %v, want ErrShape", err)
	}

	for _, c := range []struct {
		raw, ceil float64
		t         Transform
		want      float64
	}{
		{0.2, 0.4, TransformRatio, 0.5},
		{0.6, 0.4, TransformRatio, 1.5}, // unclipped
		{-0.2, 0.4, TransformRatio, -0.5},
		{0.2, 0.4, TransformSquaredClipped, 0.25},
		{0.6, 0.4, TransformSquaredClipped, 1},
		{-0.2, 0.4, TransformSquaredClipped, 0},
		{0.2, 0, TransformSquaredClipped, math.NaN()},
		{0.2, math.NaN(), TransformSquaredClipped, math.NaN()},
		{0.2, -0.1, TransformRatio, math.NaN()},
	} {
		got := Apply(c.raw, c.ceil, c.t)
		if !(math.Abs(got-c.want) <= 1e-12 || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("Apply(%v, %v, %s) = %v, want %v", c.raw, c.ceil, c.t, got, c.want)
		}
	}
}
