package onnxrun

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
)

func TestParseReduction(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Reduction
	}{
		{"pool:4096", DefaultReduction()},
		{"pool:1024", Reduction{Kind: ReducePool, N: 1024}},
		{"pca:1000", Reduction{Kind: ReducePCA, K: 1000}},
		{" none ", Reduction{Kind: ReduceNone}},
	} {
		got, err := ParseReduction(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseReduction(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if again, err := ParseReduction(got.String()); err != nil || again != got {
			t.Errorf("%q does not round-trip: %q → %+v, %v", c.in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "pool", "pool:", "pool:0", "pool:-3", "pca:x", "pca:1.5", "none:3", "max:4", "pca:99999999"} {
		if _, err := ParseReduction(bad); err == nil || !strings.Contains(err.Error(), "pool:N, pca:K or none") {
			t.Errorf("ParseReduction(%q): %v, want an error saying what is accepted", bad, err)
		}
	}
}

// A layer whose reference activations span fewer directions than asked
// for is projected on all the directions they span; constant ones are an
// error.
func TestFitPCABelowRank(t *testing.T) {
	// 10 rows of 6 features spanning 3 directions (after centring).
	rng := rand.New(rand.NewPCG(9, 9))
	x := linalg.NewMatrix[float32](10, 6)
	for i := range 10 {
		a, b, c := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		copy(x.Row(i), []float32{float32(a), float32(b), float32(c), float32(a + b), float32(b - c), float32(2*a - c)})
	}
	p, err := fitPCA(x, 5)
	if err != nil || p.OutDim() != 3 {
		t.Fatalf("rank-3 data, 5 components asked for: %v components, %v", p, err)
	}
	full, err := fitPCA(x, 3)
	if err != nil || full.OutDim() != 3 {
		t.Fatalf("3 of rank 3: %v", err)
	}
	flat := linalg.NewMatrix[float32](10, 6)
	if _, err := fitPCA(flat, 2); !errors.Is(err, reduce.ErrRank) {
		t.Errorf("constant data: %v, want ErrRank", err)
	}
}
