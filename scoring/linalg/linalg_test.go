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

// SymEigScratch gives SymEig's result whether LAPACK's workspace comes
// from the caller (large enough) or not (too small: its own).
func TestSymEigScratch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 40
	a := NewMatrix[float64](n, n)
	for i := range n {
		for j := i; j < n; j++ {
			v := r.NormFloat64()
			a.Data[i*n+j], a.Data[j*n+i] = v, v
		}
	}
	ref := NewMatrix[float64](n, n)
	copy(ref.Data, a.Data)
	wref := make([]float64, n)
	if err := SymEig(ref, wref); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 5, SymEigWorkLen(n), SymEigWorkLen(n) + 100} {
		b := NewMatrix[float64](n, n)
		copy(b.Data, a.Data)
		w := make([]float64, n)
		scratch := make([]float64, size)
		for i := range scratch {
			scratch[i] = math.NaN() // must be overwritten before use
		}
		if err := SymEigScratch(b, w, scratch); err != nil {
			t.Fatal(err)
		}
		for i := range w {
			if w[i] != wref[i] {
				t.Fatalf("scratch %d: eigenvalue %d = %g, SymEig gives %g", size, i, w[i], wref[i])
			}
		}
		for i := range b.Data {
			if b.Data[i] != ref.Data[i] {
				t.Fatalf("scratch %d: eigenvector element %d = %g, SymEig gives %g", size, i, b.Data[i], ref.Data[i])
			}
		}
	}
}
