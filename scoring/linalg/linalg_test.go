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

// TestTridiagonalize checks a = Q·T·Qᵀ with Q orthogonal, Q returned
// transposed, for every scratch size (too small, none, exact, larger), the
// orders 1 and 2, and T's eigenvalues against SymEig's.
func TestTridiagonalize(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 40} {
		a := NewMatrix[float64](n, n)
		for i := range n {
			for j := i; j < n; j++ {
				v := r.NormFloat64()
				a.Data[i*n+j], a.Data[j*n+i] = v, v
			}
		}
		for _, size := range []int{0, 5, TridiagonalizeWorkLen(n), TridiagonalizeWorkLen(n) + 100} {
			qt := NewMatrix[float64](n, n)
			copy(qt.Data, a.Data)
			d, e := make([]float64, n), make([]float64, max(n-1, 0))
			scratch := make([]float64, size)
			for i := range scratch {
				scratch[i] = math.NaN()
			}
			if err := Tridiagonalize(qt, d, e, scratch); err != nil {
				t.Fatal(err)
			}
			tm := NewMatrix[float64](n, n)
			for k := range n {
				tm.Data[k*n+k] = d[k]
				if k+1 < n {
					tm.Data[k*n+k+1], tm.Data[(k+1)*n+k] = e[k], e[k]
				}
			}
			// Qᵀ·Q = I and Q·T·Qᵀ = a, Q = qtᵀ.
			qq := NewMatrix[float64](n, n)
			Gemm(false, true, 1, qt, qt, 0, qq)
			qtm := NewMatrix[float64](n, n)
			Gemm(true, false, 1, qt, tm, 0, qtm)
			back := NewMatrix[float64](n, n)
			Gemm(false, false, 1, qtm, qt, 0, back)
			for i := range n {
				for j := range n {
					id := 0.0
					if i == j {
						id = 1
					}
					if math.Abs(qq.At(i, j)-id) > 1e-13 {
						t.Fatalf("n %d scratch %d: (QᵀQ)[%d,%d] = %g", n, size, i, j, qq.At(i, j))
					}
					if math.Abs(back.At(i, j)-a.At(i, j)) > 1e-12 {
						t.Fatalf("n %d scratch %d: (QTQᵀ)[%d,%d] = %g, a has %g", n, size, i, j, back.At(i, j), a.At(i, j))
					}
				}
			}
			w, wt := make([]float64, n), make([]float64, n)
			ac := NewMatrix[float64](n, n)
			copy(ac.Data, a.Data)
			if err := SymEig(ac, w); err != nil {
				t.Fatal(err)
			}
			if err := SymEig(tm, wt); err != nil {
				t.Fatal(err)
			}
			for k := range w {
				if math.Abs(w[k]-wt[k]) > 1e-12 {
					t.Fatalf("n %d: eigenvalue %d of T %g, of a %g", n, k, wt[k], w[k])
				}
			}
		}
	}
}
