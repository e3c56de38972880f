package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGemmSyrkEigAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, k = 7, 13
	a := NewMatrix[float64](n, k)
	for i := range a.Data {
		a.Data[i] = r.NormFloat64()
	}
	g := NewMatrix[float64](n, n)
	Gemm(false, true, 1, a, a, 0, g)
	s := NewMatrix[float64](n, n)
	Syrk(false, 1, a, 0, s)
	Symmetrize(s)
	for i := range g.Data {
		if math.Abs(g.Data[i]-s.Data[i]) > 1e-12 {
			t.Fatalf("Gemm and Syrk disagree at %d: %g vs %g", i, g.Data[i], s.Data[i])
		}
	}
	// A·v = λ·v for every eigenpair.
	vec := NewMatrix[float64](n, n)
	copy(vec.Data, g.Data)
	w := make([]float64, n)
	if err := SymEig(vec, w); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < n; j++ {
		if j > 0 && w[j] < w[j-1] {
			t.Fatalf("eigenvalues not ascending: %v", w)
		}
		for i := 0; i < n; i++ {
			var av float64
			for l := 0; l < n; l++ {
				av += g.At(i, l) * vec.At(l, j)
			}
			if math.Abs(av-w[j]*vec.At(i, j)) > 1e-9 {
				t.Fatalf("%s: eigenpair %d fails at row %d: %g vs %g", Backend(), j, i, av, w[j]*vec.At(i, j))
			}
		}
	}
	// float32 path.
	a32 := NewMatrix[float32](n, k)
	for i := range a.Data {
		a32.Data[i] = float32(a.Data[i])
	}
	g32 := NewMatrix[float32](n, n)
	Syrk(false, 1, a32, 0, g32)
	w32 := make([]float32, n)
	if err := SymEig(g32, w32); err != nil {
		t.Fatal(err)
	}
	for j := range w32 {
		if math.Abs(float64(w32[j])-w[j]) > 1e-4*math.Max(1, math.Abs(w[j])) {
			t.Fatalf("float32 eigenvalue %d: %g vs %g", j, w32[j], w[j])
		}
	}
}
