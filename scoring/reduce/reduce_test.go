package reduce

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/storage/npy"
)

func load32(t *testing.T, path string) linalg.Matrix[float32] {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return linalg.View(a.Shape[0], a.Shape[1], a.Data.([]float32))
}

func load64(t *testing.T, path string) linalg.Matrix[float64] {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return linalg.View(a.Shape[0], a.Shape[1], a.Data.([]float64))
}

// Reference transforms from sklearn 1.2.1 PCA(svd_solver="full"), written by
// ../ridge/testdata/gen_reference.py. Tolerance: 2e-5 of the largest
// |score|: the transform runs in float32 (unit roundoff 6e-8) over ≤ 200
// features; observed ~1e-6. Signs are compared too (same svd_flip rule).
func TestPCAMatchesSklearn(t *testing.T) {
	for _, name := range []string{"pca_wide", "pca_tall"} {
		t.Run(name, func(t *testing.T) {
			ref := load32(t, "testdata/"+name+"_ref.npy")
			want := load64(t, "testdata/"+name+"_out.npy")
			wantRef := load64(t, "testdata/"+name+"_ref_out.npy")
			p, err := FitPCA(ref, want.Cols)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				x    linalg.Matrix[float32]
				want linalg.Matrix[float64]
			}{{load32(t, "testdata/"+name+"_new.npy"), want}, {ref, wantRef}} {
				got := linalg.NewMatrix[float32](c.x.Rows, p.OutDim())
				p.Transform(got, c.x)
				scale, diff := 0.0, 0.0
				for i, w := range c.want.Data {
					scale = max(scale, math.Abs(w))
					diff = max(diff, math.Abs(float64(got.Data[i])-w))
				}
				if diff > 2e-5*scale {
					t.Errorf("max |Go − sklearn| = %g (scale %g)", diff, scale)
				}
			}
		})
	}
}

func TestPCAErrors(t *testing.T) {
	x := linalg.NewMatrix[float32](5, 4)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	if _, err := FitPCA(x, 5); !errors.Is(err, ErrShape) {
		t.Errorf("k > min(n,q): %v", err)
	}
	if _, err := FitPCA(x, 0); !errors.Is(err, ErrShape) {
		t.Errorf("k = 0: %v", err)
	}
	x.Data[6] = float32(math.NaN())
	if _, err := FitPCA(x, 2); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	// Rank 1 data (every row a multiple of one vector) cannot give 3 components.
	low := linalg.NewMatrix[float64](6, 10)
	for i := range 6 {
		for j := range 10 {
			low.Data[i*10+j] = float64(i) * float64(j+1)
		}
	}
	if _, err := FitPCA(low, 3); !errors.Is(err, ErrRank) {
		t.Errorf("rank 1, k 3: %v", err)
	}
}

func TestRandomProjection(t *testing.T) {
	const n, q, k = 7, 3000, 40
	r := rand.New(rand.NewPCG(2, 3))
	x := linalg.NewMatrix[float32](n, q)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	a := NewRandomProjection(q, k, 11)
	b := NewRandomProjection(q, k, 11)
	b.cached = linalg.Matrix[float32]{} // force block regeneration
	da, db := linalg.NewMatrix[float32](n, k), linalg.NewMatrix[float32](n, k)
	a.Transform(da, x)
	b.Transform(db, x)
	for i := range da.Data {
		if math.Abs(float64(da.Data[i]-db.Data[i])) > 1e-4 {
			t.Fatalf("cached and regenerated projections differ at %d: %g vs %g", i, da.Data[i], db.Data[i])
		}
	}
	// Norms are preserved in expectation: with k = 40 the ratio of squared
	// norms has relative sd sqrt(2/40) ≈ 0.22; the mean over 7 rows is well
	// within 0.5 of 1.
	ratio := 0.0
	for i := range n {
		var nx, ny float64
		for _, v := range x.Row(i) {
			nx += float64(v) * float64(v)
		}
		for _, v := range da.Row(i) {
			ny += float64(v) * float64(v)
		}
		ratio += ny / nx / n
	}
	if math.Abs(ratio-1) > 0.5 {
		t.Errorf("mean squared-norm ratio %g, want ≈ 1", ratio)
	}
	c := NewRandomProjection(q, k, 12)
	dc := linalg.NewMatrix[float32](n, k)
	c.Transform(dc, x)
	if dc.Data[0] == da.Data[0] {
		t.Errorf("different seeds gave the same projection")
	}
}

// Streaming: transforming a set in mini-batches equals transforming it whole.
func TestPCAMiniBatches(t *testing.T) {
	const n, q, k = 30, 2500, 5
	r := rand.New(rand.NewPCG(4, 5))
	x := linalg.NewMatrix[float32](n, q)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64() + 3)
	}
	p, err := FitPCA(x, k)
	if err != nil {
		t.Fatal(err)
	}
	whole := linalg.NewMatrix[float32](n, k)
	p.Transform(whole, x)
	for i0 := 0; i0 < n; i0 += 8 {
		i1 := min(i0+8, n)
		part := linalg.NewMatrix[float32](i1-i0, k)
		p.Transform(part, x.Slice(i0, i1, 0, q))
		for i := range part.Rows {
			for c := range k {
				if d := math.Abs(float64(part.At(i, c) - whole.At(i0+i, c))); d > 1e-5 {
					t.Fatalf("batch transform differs at (%d,%d) by %g", i0+i, c, d)
				}
			}
		}
	}
}

// TestRandomizedPCAMatchesExact compares the randomized solver with the
// exact one on data with a decaying spectrum (feature scales ∝ 1/(1+j)^0.8,
// as network activations have): leading variances to 1e-6 relative and
// components to |cos| > 1 − 1e-6, signs included.
func TestRandomizedPCAMatchesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, q, k = 120, 900, 8
	x := linalg.NewMatrix[float64](n, q)
	for i := range n {
		for j := range q {
			x.Data[i*q+j] = r.NormFloat64()/math.Pow(1+float64(j), 0.8) + 5
		}
	}
	exact, err := FitPCA(x, k)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := FitPCARandomized(x, k, RandomizedConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for c := range k {
		if d := math.Abs(fast.Variance[c]-exact.Variance[c]) / exact.Variance[c]; d > 1e-6 {
			t.Errorf("component %d: variance %g vs exact %g", c, fast.Variance[c], exact.Variance[c])
		}
		var dot float64
		for j := range q {
			dot += float64(fast.Components.At(c, j)) * float64(exact.Components.At(c, j))
		}
		if dot < 1-1e-6 {
			t.Errorf("component %d: cos with the exact component %g (sign convention included)", c, dot)
		}
	}
	if _, err := FitPCARandomized(x, 0, RandomizedConfig{}); err == nil {
		t.Error("k = 0 should be refused")
	}
}
