package ridge

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// Reference values in testdata come from testdata/gen_reference.py
// (sklearn 1.2.1, numpy 1.24.2, scipy 1.10.1; see testdata/versions.json).

func load(t *testing.T, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func loadMat(t *testing.T, path string) linalg.Matrix[float64] {
	a := load(t, path)
	cols := 1
	if len(a.Shape) == 2 {
		cols = a.Shape[1]
	}
	return linalg.View(a.Shape[0], cols, a.Float64())
}

func loadInts(t *testing.T, path string) []int {
	v, err := load(t, path).Ints()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// relErr is max|a−b| / max|b|.
func relErr(a, b []float64) float64 {
	d, s := 0.0, 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
		s = max(s, math.Abs(b[i]))
	}
	return d / s
}

func foldRows(foldOf []int, f int, in bool) []int {
	var idx []int
	for i, g := range foldOf {
		if (g == f) == in {
			idx = append(idx, i)
		}
	}
	return idx
}

func pick(m linalg.Matrix[float64], idx []int) linalg.Matrix[float64] {
	o := linalg.NewMatrix[float64](len(idx), m.Cols)
	for a, i := range idx {
		copy(o.Row(a), m.Row(i))
	}
	return o
}

// Tolerance 1e-8 relative (issue 2): both sides solve the same
// well-conditioned systems in float64; observed differences are ~1e-13.
const predTol = 1e-8

func TestFixedAlphaMatchesSklearnRidge(t *testing.T) {
	for _, name := range []string{"kernel", "primal"} {
		t.Run(name, func(t *testing.T) {
			x := loadMat(t, "testdata/"+name+"_x.npy")
			y := loadMat(t, "testdata/"+name+"_y.npy")
			folds := loadInts(t, "testdata/"+name+"_folds.npy")
			want := loadMat(t, "testdata/"+name+"_pred_alpha3.npy")
			// Through CV with a one-alpha grid.
			res, err := CV(x, y, Config{FoldOf: folds, Alphas: []float64{3}})
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(res.Predictions.Data, want.Data); e > predTol {
				t.Errorf("CV predictions differ from sklearn Ridge(alpha=3): rel err %g", e)
			}
			// Through FitPredict fold by fold.
			got := linalg.NewMatrix[float64](x.Rows, y.Cols)
			for f := range res.Folds {
				tr, te := foldRows(folds, f, false), foldRows(folds, f, true)
				dst := linalg.NewMatrix[float64](len(te), y.Cols)
				if err := FitPredict(dst, pick(x, tr), pick(y, tr), pick(x, te), []float64{3}); err != nil {
					t.Fatal(err)
				}
				for a, i := range te {
					copy(got.Row(i), dst.Row(a))
				}
			}
			if e := relErr(got.Data, want.Data); e > predTol {
				t.Errorf("FitPredict differs from sklearn Ridge(alpha=3): rel err %g", e)
			}
		})
	}
}

// eachSelection runs fn on the sklearn reference problems
// (testdata/gen_reference.py: "kernel" with more features than training
// stimuli, "primal" with fewer) and their alpha grid, with the alphas
// chosen in float64 and in float32.
func eachSelection(t *testing.T, fn func(t *testing.T, name string, x, y linalg.Matrix[float64], alphas []float64, f64 bool)) {
	alphas := load(t, "testdata/alphas.npy").Float64()
	for _, name := range []string{"kernel", "primal"} {
		for _, f64 := range []bool{true, false} {
			sel := "float32"
			if f64 {
				sel = "float64"
			}
			t.Run(name+"/"+sel, func(t *testing.T) {
				fn(t, name, loadMat(t, "testdata/"+name+"_x.npy"), loadMat(t, "testdata/"+name+"_y.npy"), alphas, f64)
			})
		}
	}
}

func TestLOOAlphasMatchRidgeCV(t *testing.T) {
	eachSelection(t, func(t *testing.T, name string, x, y linalg.Matrix[float64], alphas []float64, f64 bool) {
		folds := loadInts(t, "testdata/"+name+"_folds.npy")
		want := loadMat(t, "testdata/"+name+"_cv_alpha.npy")
		eigen, tri := bothRoutes(t, x, y, Config{FoldOf: folds, Alphas: alphas, Float64Selection: f64})
		checkAlphas(t, eigen.FoldAlpha, want)
		checkAlphas(t, tri.FoldAlpha, want)
	})
}

func checkAlphas(t *testing.T, got [][]float64, want linalg.Matrix[float64]) {
	t.Helper()
	for f := range got {
		for j, a := range got[f] {
			if w := want.At(f, j); math.Abs(a-w) > 1e-12*w {
				t.Errorf("fold %d target %d: alpha %g, sklearn RidgeCV chose %g", f, j, a, w)
			}
		}
	}
}

// TestCowleyV4 scores real V4 responses (Cowley et al. 2023, session
// 190923, first 300 images) against fixed random features from
// gen_reference.py, for both the fixed-alpha predictions and the
// leave-one-out alpha choices.
func TestCowleyV4(t *testing.T) {
	x, y := cowleyData(t)
	nn := y.Cols
	folds := loadInts(t, "testdata/cowley_folds.npy")
	// float32 features (as stored), float64 responses.
	res, err := CV(x, y, Config{FoldOf: folds, Alphas: []float64{100}})
	if err != nil {
		t.Fatal(err)
	}
	want := loadMat(t, "testdata/cowley_pred_alpha100.npy")
	if e := relErr(res.Predictions.Data, want.Data); e > predTol {
		t.Errorf("Cowley predictions differ from sklearn Ridge(alpha=100): rel err %g", e)
	}
	alphas := load(t, "testdata/alphas.npy").Float64()
	res, err = CV(x, y, Config{FoldOf: folds, Alphas: alphas, Float64Selection: true})
	if err != nil {
		t.Fatal(err)
	}
	checkAlphas(t, res.FoldAlpha, loadMat(t, "testdata/cowley_cv_alpha.npy"))
	// The default float32 selection (with alpha compression) and the
	// default grid (the same 19 values) give the same choices here.
	res32, err := CV(x, y, Config{FoldOf: folds})
	if err != nil {
		t.Fatal(err)
	}
	checkAlphas(t, res32.FoldAlpha, loadMat(t, "testdata/cowley_cv_alpha.npy"))
	t.Logf("Cowley V4 190923 (300 images, %d neurons): median r %.3f, mean of fold medians %.3f ± %.3f", nn, res.Median, res.Mean, res.SE)
	if !(res.Median > 0.3) {
		t.Errorf("median r %g: features are built from the responses, expected clearly positive", res.Median)
	}
}

// cowleyData returns the fixed float32 features of gen_reference.py and
// the real V4 responses they are fitted to (Cowley et al. 2023, session
// 190923, first 300 images, images × neurons), or skips without the data.
func cowleyData(t *testing.T) (linalg.Matrix[float32], linalg.Matrix[float64]) {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "datasets", "cowley2023-v4", "responses_repeat_averaged", "responses_190923.npy")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("Cowley V4 data not found at %s: %v", path, err)
	}
	raw := load(t, path) // neurons × images
	nn := raw.Shape[0]
	all := raw.Float64()
	y := linalg.NewMatrix[float64](300, nn)
	for i := range 300 {
		for j := range nn {
			y.Data[i*nn+j] = all[j*raw.Shape[1]+i]
		}
	}
	xa := load(t, "testdata/cowley_x.npy")
	return linalg.View(xa.Shape[0], xa.Shape[1], xa.Data.([]float32)), y
}

func randMat(r *rand.Rand, n, q int) linalg.Matrix[float64] {
	m := linalg.NewMatrix[float64](n, q)
	for i := range m.Data {
		m.Data[i] = r.NormFloat64()
	}
	return m
}

// Float32 input must give the float64 answer up to float32 input rounding.
func TestFloat32Input(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := randMat(r, 40, 90), randMat(r, 40, 3)
	x32, y32 := linalg.NewMatrix[float32](40, 90), linalg.NewMatrix[float32](40, 3)
	for i, v := range x.Data {
		x32.Data[i] = float32(v)
		x.Data[i] = float64(x32.Data[i])
	}
	for i, v := range y.Data {
		y32.Data[i] = float32(v)
		y.Data[i] = float64(y32.Data[i])
	}
	cfg := Config{Folds: 4, Seed: 7, Alphas: []float64{1, 10, 100}}
	a, err := CV(x, y, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CV(x32, y32, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(b.Predictions.Data, a.Predictions.Data); e > 1e-12 {
		t.Errorf("float32 and float64 inputs disagree: rel err %g", e)
	}
}

// Inner K-fold, standardisation and seeded determinism.
func TestInnerFoldsStandardizeDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, q := range []int{10, 80} {
		x, y := randMat(r, 50, q), randMat(r, 50, 4)
		for i := range x.Rows {
			x.Row(i)[0] *= 100
		}
		cfg := Config{Folds: 5, Seed: 9, InnerFolds: 3, Standardize: true}
		a, err := CV(x, y, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := CV(x, y, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if relErr(a.Predictions.Data, b.Predictions.Data) != 0 {
			t.Errorf("q=%d: same seed gave different predictions", q)
		}
		// Standardisation through the kernel or the primal path must equal
		// explicit standardisation of each fold's features with FitPredict.
		for f := range a.Folds {
			tr, te := foldRows(a.FoldOf, f, false), foldRows(a.FoldOf, f, true)
			xtr, xte := pick(x, tr), pick(x, te)
			for c := range q {
				mean, ss := 0.0, 0.0
				for i := range xtr.Rows {
					mean += xtr.At(i, c)
				}
				mean /= float64(xtr.Rows)
				for i := range xtr.Rows {
					ss += (xtr.At(i, c) - mean) * (xtr.At(i, c) - mean)
				}
				sd := math.Sqrt(ss / float64(xtr.Rows))
				for i := range xtr.Rows {
					xtr.Data[i*q+c] /= sd
				}
				for i := range xte.Rows {
					xte.Data[i*q+c] /= sd
				}
			}
			dst := linalg.NewMatrix[float64](len(te), y.Cols)
			if err := FitPredict(dst, xtr, pick(y, tr), xte, a.FoldAlpha[f]); err != nil {
				t.Fatal(err)
			}
			if e := relErr(dst.Data, pick(a.Predictions, te).Data); e > 1e-9 {
				t.Errorf("q=%d fold %d: standardised CV vs explicit: rel err %g", q, f, e)
			}
		}
	}
}

func TestConstantTarget(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randMat(r, 30, 50), randMat(r, 30, 3)
	for i := range y.Rows {
		y.Row(i)[1] = 2.5
	}
	res, err := CV(x, y, Config{Folds: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(res.R[1]) || res.NaNTargets != 1 || math.IsNaN(res.Median) {
		t.Errorf("constant target: R %v, NaNTargets %d, median %g; want NaN, 1, finite", res.R, res.NaNTargets, res.Median)
	}
}

func TestBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	x, y := randMat(r, 20, 30), randMat(r, 20, 2)
	nan := randMat(r, 20, 30)
	nan.Data[3*30+4] = math.NaN()
	inf := randMat(r, 20, 2)
	inf.Data[5*2+1] = math.Inf(1)
	huge := randMat(r, 20, 30)
	huge.Data[7*30+2] = 1e200 // finite, but its square overflows
	nanPrimal := randMat(r, 20, 3)
	nanPrimal.Data[4*3+1] = math.NaN()
	ok := Config{Folds: 4}
	cases := []struct {
		name string
		x, y linalg.Matrix[float64]
		cfg  Config
		want error
	}{
		{"nan feature", nan, y, ok, ErrNonFinite},
		{"inf target", x, inf, ok, ErrNonFinite},
		{"overflowing feature", huge, y, ok, ErrNonFinite},
		{"nan feature, primal path", nanPrimal, y, ok, ErrNonFinite},
		{"rows", x, randMat(r, 19, 2), ok, ErrShape},
		{"empty", linalg.NewMatrix[float64](0, 3), linalg.NewMatrix[float64](0, 1), ok, ErrShape},
		{"empty alphas", x, y, Config{Folds: 4, Alphas: []float64{}}, ErrConfig},
		{"zero alpha", x, y, Config{Folds: 4, Alphas: []float64{1, 0}}, ErrConfig},
		{"negative alpha", x, y, Config{Folds: 4, Alphas: []float64{-1}}, ErrConfig},
		{"nan alpha", x, y, Config{Folds: 4, Alphas: []float64{math.NaN()}}, ErrConfig},
		{"one fold", x, y, Config{Folds: 1}, ErrConfig},
		{"more folds than stimuli", x, y, Config{Folds: 21}, ErrFolds},
		{"inner folds 1", x, y, Config{Folds: 4, InnerFolds: 1}, ErrConfig},
		{"fold file length", x, y, Config{FoldOf: append(make([]int, 9), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)}, ErrFolds},
		{"fold file unused id", x, y, Config{FoldOf: append(make([]int, 10), 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)}, ErrFolds},
		{"fold file negative", x, y, Config{FoldOf: append(make([]int, 19), -1)}, ErrFolds},
		{"fold file one fold", x, y, Config{FoldOf: make([]int, 20)}, ErrFolds},
		{"fold file vs Folds", x, y, Config{Folds: 3, FoldOf: append(make([]int, 10), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)}, ErrFolds},
		{"training part too small", x, y, Config{FoldOf: append(make([]int, 2), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)}, ErrFolds},
	}
	for _, c := range cases {
		_, err := CV(c.x, c.y, c.cfg)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	dst := linalg.NewMatrix[float64](20, 2)
	if err := FitPredict(dst, x, y, nan, []float64{1}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("FitPredict NaN test features: %v", err)
	}
	if err := FitPredict(dst, x, y, x, []float64{1, 2, 3}); !errors.Is(err, ErrConfig) {
		t.Errorf("FitPredict 3 alphas for 2 targets: %v", err)
	}
	if err := FitPredict(dst, x, y, x, []float64{0}); !errors.Is(err, ErrConfig) {
		t.Errorf("FitPredict zero alpha: %v", err)
	}
}

// A constant offset of the features changes nothing (the intercept absorbs
// it); large offsets take the chunk-centred Gram path, small ones the
// direct DSYRK, and both must agree.
func TestFeatureOffsetInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	x, y := randMat(r, 40, 300), randMat(r, 40, 3)
	shifted := linalg.NewMatrix[float64](40, 300)
	for i, v := range x.Data {
		shifted.Data[i] = v + 1000
	}
	cfg := Config{Folds: 4, Seed: 3}
	a, err := CV(x, y, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CV(shifted, y, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 1e-9: the offset (1000× the spread) costs ~log10(1000²) digits in the
	// float64 data itself before any centring.
	if e := relErr(b.Predictions.Data, a.Predictions.Data); e > 1e-9 {
		t.Errorf("offset features: predictions differ by %g relative", e)
	}
}

// Small and odd shapes and grids must return a result or an error, never
// panic: duplicate alphas, one target, q = 1, q = n−1, inner K-fold at the
// minimum size, rank-deficient features.
func TestOddShapesNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct{ n, q, p, folds, inner int }{
		{6, 1, 1, 2, 0}, {6, 5, 2, 2, 0}, {9, 40, 1, 3, 3}, {12, 11, 3, 4, 2}, {30, 3, 2, 10, 0}, {8, 100, 2, 2, 2},
	} {
		x, y := randMat(r, c.n, c.q), randMat(r, c.n, c.p)
		for _, alphas := range [][]float64{{1, 1, 1, 1, 1}, {1e-8, 1e-4, 1, 1e4, 1e8, 1e12}, nil} {
			for _, f64 := range []bool{false, true} {
				res, err := CV(x, y, Config{Folds: c.folds, InnerFolds: c.inner, Alphas: alphas, Float64Selection: f64})
				if err != nil {
					t.Logf("%+v: %v", c, err)
					continue
				}
				for _, v := range res.Predictions.Data {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Errorf("%+v alphas %v: non-finite prediction", c, alphas)
						break
					}
				}
			}
		}
	}
	// Rank-deficient: duplicated feature columns and a constant feature.
	x := randMat(r, 20, 6)
	for i := range 20 {
		x.Row(i)[1] = x.Row(i)[0]
		x.Row(i)[2] = 4
	}
	if _, err := CV(x, randMat(r, 20, 2), Config{Folds: 4, Standardize: true}); err != nil {
		t.Errorf("rank-deficient features: %v", err)
	}
}

// Inner K-fold selection equals brute force: FitPredict on every inner split
// for every alpha, the smallest summed squared error winning.
func TestInnerFoldsBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	for _, q := range []int{8, 60} {
		x, y := randMat(r, 36, q), randMat(r, 36, 4)
		for i := range 36 {
			for j := range 4 {
				y.Data[i*4+j] += float64(j) * 0.3 * x.At(i, j)
			}
		}
		alphas := []float64{0.1, 1, 10, 100, 1000}
		cfg := Config{Folds: 3, Seed: 4, InnerFolds: 4, Alphas: alphas, Float64Selection: true}
		res, err := CV(x, y, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for f := range res.Folds {
			train := foldRows(res.FoldOf, f, false)
			xt, yt := pick(x, train), pick(y, train)
			inner := kfold(len(train), cfg.InnerFolds, rand.New(rand.NewPCG(cfg.Seed, uint64(1+f))))
			sse := make([][]float64, len(alphas))
			for a, al := range alphas {
				sse[a] = make([]float64, y.Cols)
				for g := range cfg.InnerFolds {
					tr, te := foldRows(inner, g, false), foldRows(inner, g, true)
					dst := linalg.NewMatrix[float64](len(te), y.Cols)
					if err := FitPredict(dst, pick(xt, tr), pick(yt, tr), pick(xt, te), []float64{al}); err != nil {
						t.Fatal(err)
					}
					for i, k := range te {
						for j := range y.Cols {
							d := dst.At(i, j) - yt.At(k, j)
							sse[a][j] += d * d
						}
					}
				}
			}
			for j, a := range best(sse) {
				if res.FoldAlpha[f][j] != alphas[a] {
					t.Errorf("q=%d fold %d target %d: inner K-fold chose %g, brute force %g", q, f, j, res.FoldAlpha[f][j], alphas[a])
				}
			}
		}
	}
}

// CV with one worker (GOMAXPROCS 1: folds in sequence, BLAS threaded) and
// with two (folds in parallel, BLAS shared) agrees to rounding, on the
// kernel path (Gram, blocks of targets on both workers), the primal path
// and inner K-fold: with float64 selection every alpha choice is the same
// and so are the predictions to 1e-10; with float32 selection a choice may
// flip where two alphas' errors tie to within float32 rounding, which here
// is rare (at most 1% of them), and targets with the same choices in every
// fold have the same predictions.
func TestWorkersAgree(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two processors to run two workers")
	}
	r := rand.New(rand.NewPCG(11, 11))
	alphas := make([]float64, 12)
	for i := range alphas {
		alphas[i] = 1e-2 * math.Pow(4, float64(i))
	}
	for _, c := range []struct {
		name    string
		n, q, p int
		inner   int
	}{{"kernel", 120, 400, 700, 0}, {"primal", 120, 30, 40, 0}, {"inner", 90, 300, 20, 3}} {
		x, y := randMat(r, c.n, c.q), randMat(r, c.n, c.p)
		for i := range c.n {
			for j := range c.p {
				y.Data[i*c.p+j] += 0.3 * x.At(i, j%c.q)
			}
		}
		for _, f64 := range []bool{true, false} {
			cfg := Config{Folds: 5, Seed: 2, Alphas: alphas, InnerFolds: c.inner, Float64Selection: f64}
			run := func(procs int) *Result {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				res, err := CV(x, y, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			one, two := run(1), run(2)
			same := make([]bool, c.p) // same choice in every fold
			for j := range same {
				same[j] = true
			}
			flips := 0
			for f := range one.FoldAlpha {
				for j := range one.FoldAlpha[f] {
					if one.FoldAlpha[f][j] != two.FoldAlpha[f][j] {
						flips++
						same[j] = false
					}
				}
			}
			if f64 && flips > 0 || flips*100 > len(one.FoldAlpha)*c.p {
				t.Errorf("%s, float64 selection %v: %d of %d alpha choices differ between one and two workers", c.name, f64, flips, len(one.FoldAlpha)*c.p)
			}
			var a, b []float64
			for i := range c.n {
				for j := range c.p {
					if same[j] {
						a = append(a, one.Predictions.At(i, j))
						b = append(b, two.Predictions.At(i, j))
					}
				}
			}
			if len(a) == 0 {
				t.Fatalf("%s: no target with the same choices", c.name)
			}
			if e := relErr(b, a); e > 1e-10 {
				t.Errorf("%s, float64 selection %v: predictions differ by %g relative between one and two workers", c.name, f64, e)
			}
		}
	}
}
