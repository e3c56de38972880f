package ridge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// powerX returns n×q Gaussian features scaled by k^-pw (a wide kernel
// spectrum, like network activations) plus an offset.
func powerX(r *rand.Rand, n, q int, pw float64) linalg.Matrix[float64] {
	x := randMat(r, n, q)
	for i := range n {
		row := x.Row(i)
		for k := range row {
			row[k] = row[k]*math.Pow(float64(k+1), -pw) + 0.3
		}
	}
	return x
}

// TestTridiagLOOMatchesEigen compares the tridiagonal route's
// leave-one-out denominators, squared LOO errors and predictions with the
// eigen route's on one training split, over a grid as wide as the built-in
// benchmarks' (1e-2 … 1e6) on a wide spectrum and a narrow one. Both are
// exact up to rounding, so they agree to ~cond·ε.
func TestTridiagLOOMatchesEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphas := []float64{0.01, 0.1, 1, 10, 100, 1000, 1e4, 1e5, 1e6}
	for _, pw := range []float64{0, 0.75} {
		x, y := powerX(r, 150, 600, pw), randMat(r, 150, 6)
		train, test := seq(0, 120), seq(120, 150)
		yc, ybar := centred(rows[float64]{m: y, idx: train}, nil)
		g, _ := directGram(x, 1)
		kc1, kt1 := fromGram(g, train, test, nil, nil)
		de, err := kernelDecomp(kc1, kt1, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		kc2, kt2 := fromGram(g, train, test, nil, nil)
		dt, err := tridiagDecomp(kc2, kt2, alphas, nil, nil)
		if err != nil || dt == nil {
			t.Fatalf("pw %v: tridiagonal route failed: %v", pw, err)
		}
		inv := de.looInv(alphas, nil)
		for i := range inv {
			if e := math.Abs(dt.inv[i]/inv[i] - 1); !(e < 1e-9) {
				t.Fatalf("pw %v: LOO denominator %d: %g, eigen route %g (rel %g)", pw, i, 1/dt.inv[i], 1/inv[i], e)
			}
		}
		de.setCoef(yc, nil)
		dt.setCoef(yc, nil)
		for _, f64 := range []bool{true, false} {
			ee, et := errRows(nil, len(alphas), y.Cols), errRows(nil, len(alphas), y.Cols)
			de.looErrors(alphas, yc, f64, ee, nil)
			dt.looErrors(alphas, yc, f64, et, nil)
			tol := 1e-9
			if !f64 {
				tol = 1e-4 // float32 products
			}
			for a := range alphas {
				for j := range y.Cols {
					if e := math.Abs(et[a][j]/ee[a][j] - 1); !(e < tol) {
						t.Errorf("pw %v f64 %v: LOO error alpha %g target %d: %g, eigen route %g", pw, f64, alphas[a], j, et[a][j], ee[a][j])
					}
				}
			}
		}
		chosen := make([]float64, y.Cols)
		for j := range chosen {
			chosen[j] = alphas[(j*4)%len(alphas)]
		}
		pe, pt := linalg.NewMatrix[float64](len(test), y.Cols), linalg.NewMatrix[float64](len(test), y.Cols)
		de.predict(pe, chosen, ybar, nil)
		dt.predict(pt, chosen, ybar, nil)
		if e := relErr(pt.Data, pe.Data); !(e < 1e-10) {
			t.Errorf("pw %v: predictions differ from the eigen route's by %g", pw, e)
		}
	}
}

// TestTridiagCVMatchesEigen runs CV both ways (every layout the route
// meets: a Gram matrix or chunked kernels, standardised, several workers)
// and requires the same alphas and the same predictions to 1e-10.
func TestTridiagCVMatchesEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x, y := powerX(r, 200, 900, 0.75), randMat(r, 200, 5)
	for i := range y.Rows {
		for j := range y.Cols {
			y.Data[i*y.Cols+j] += x.At(i, j) + 0.5*x.At(i, 3*j+1)
		}
	}
	alphas := []float64{0.01, 0.1, 1, 10, 100, 1000, 1e4, 1e5, 1e6}
	for _, cfg := range []Config{
		{Folds: 5, Seed: 1, Alphas: alphas},
		{Folds: 5, Seed: 2, Alphas: alphas, Float64Selection: true},
		{Folds: 4, Seed: 3, Alphas: alphas, Standardize: true, DropPredictions: true},
		{Folds: 5, Seed: 4, Alphas: []float64{100}},
	} {
		want, got := bothRoutes(t, x, y, cfg)
		for f := range want.FoldAlpha {
			for j, a := range want.FoldAlpha[f] {
				if got.FoldAlpha[f][j] != a {
					t.Errorf("%+v: fold %d target %d: alpha %g, eigen route %g", cfg, f, j, got.FoldAlpha[f][j], a)
				}
			}
		}
		if e := relErr(got.Predictions.Data, want.Predictions.Data); !cfg.DropPredictions && !(e < 1e-10) {
			t.Errorf("%+v: predictions differ from the eigen route's by %g", cfg, e)
		}
		for j := range want.R {
			if d := math.Abs(got.R[j] - want.R[j]); !(d < 1e-10) {
				t.Errorf("%+v: target %d: r %g, eigen route %g", cfg, j, got.R[j], want.R[j])
			}
		}
	}
}

// TestUseTridiag pins the route's choice: few targets (or float64
// selection) only, and never a 1×1 kernel.
func TestUseTridiag(t *testing.T) {
	for _, c := range []struct {
		m, p, na  int
		f64, want bool
	}{
		{960, 89, 9, false, true},      // cowley2023.V4.public: 89·7 ≤ 960
		{960, 200, 9, false, false},    // too many targets to give up compression
		{960, 200, 9, true, true},      // float64 selection has no compression
		{800, 2000, 20, true, false},   // but the solves outweigh the saving
		{800, 10000, 19, false, false}, // fMRI scale
		{960, 3000, 1, false, true},    // one alpha: nothing to compress
		{100, 30, 19, false, false},    // small folds: little to save
		{1, 3, 9, true, false},
	} {
		if got := useTridiag(c.m, c.p, c.na, c.f64); got != c.want {
			t.Errorf("useTridiag(%d, %d, %d, %v) = %v, want %v", c.m, c.p, c.na, c.f64, got, c.want)
		}
	}
}

// TestFactorTridiagRefuses: a singular T + αI (pivot 0) or an overflowing
// one is refused, so decompose falls back to the eigen route; and CV on a
// rank-deficient kernel (duplicated stimuli) with a tiny alpha, whichever
// route it takes, agrees with the eigen route.
func TestFactorTridiagRefuses(t *testing.T) {
	if _, ok := factorTridiag([]float64{1, 1}, []float64{1}, []float64{1e-300}); ok {
		t.Error("T + αI with a zero pivot was factored")
	}
	if _, ok := factorTridiag([]float64{math.MaxFloat64, 2}, []float64{1}, []float64{math.MaxFloat64}); ok {
		t.Error("T + αI with an infinite pivot was factored")
	}
	f, ok := factorTridiag([]float64{2, 3, 4}, []float64{1, 1}, []float64{0.5})
	if !ok {
		t.Fatal("a positive definite T + αI was refused")
	}
	// (T + αI)·x = b for T = [[2,1,0],[1,3,1],[0,1,4]], α = 0.5, b = (1, 2, 3).
	z := linalg.View(3, 1, []float64{1, 2, 3})
	solveCols(z, f.fac, nil)
	tm := [][]float64{{2.5, 1, 0}, {1, 3.5, 1}, {0, 1, 4.5}}
	for i, row := range tm {
		s := 0.0
		for k, v := range row {
			s += v * z.Data[k]
		}
		if math.Abs(s-float64(i+1)) > 1e-14 {
			t.Errorf("row %d of (T+αI)·x = %g, want %d", i, s, i+1)
		}
	}

	r := rand.New(rand.NewPCG(11, 12))
	x, y := randMat(r, 60, 200), randMat(r, 60, 3)
	for i := 30; i < 60; i++ {
		copy(x.Row(i), x.Row(i-30))
	}
	want, got := bothRoutes(t, x, y, Config{Folds: 3, Seed: 1, Alphas: []float64{1e-300, 1e-3, 1}, Float64Selection: true})
	for j := range want.R {
		if math.IsNaN(got.R[j]) || math.Abs(got.R[j]-want.R[j]) > 1e-6 {
			t.Errorf("target %d: r %g, eigen route %g", j, got.R[j], want.R[j])
		}
	}
}

// bothRoutes runs CV by the eigen route, then by the tridiagonal route.
func bothRoutes(t *testing.T, x, y linalg.Matrix[float64], cfg Config) (eigen, tri *Result) {
	t.Helper()
	defer func(v int) { forceTridiag = v }(forceTridiag)
	var res [2]*Result
	for i, force := range []int{-1, 1} {
		forceTridiag = force
		var err error
		if res[i], err = CV(x, y, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return res[0], res[1]
}
