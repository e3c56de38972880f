package ridge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// compress must reproduce every weight 1/(λ+α) to compressTol relative, or
// fall back to computing every alpha directly.
func TestCompressReproducesWeights(t *testing.T) {
	alphas := make([]float64, 20)
	for i := range alphas {
		alphas[i] = 1e-2 * math.Pow(2, float64(i))
	}
	r := rand.New(rand.NewPCG(1, 1))
	narrow := make([]float64, 800) // Marchenko–Pastur-like: random features
	wide := make([]float64, 800)   // power law: network features
	for k := range narrow {
		narrow[k] = 12800 + 16000*r.Float64()
		wide[k] = 1e5 * math.Pow(float64(k+1), -1.5)
	}
	for _, c := range []struct {
		name   string
		lambda []float64
	}{{"narrow", narrow}, {"wide", wide}} {
		sel, tm := compress(c.lambda, 3, alphas)
		t.Logf("%s spectrum: %d of %d alphas computed directly", c.name, len(sel), len(alphas))
		if tm == nil {
			if len(sel) != len(alphas) {
				t.Errorf("%s: no combination but %d alphas selected", c.name, len(sel))
			}
			continue
		}
		for a, al := range alphas {
			for k, l := range c.lambda {
				if k == 3 {
					continue
				}
				v := 0.0
				for s, as := range sel {
					v += tm.At(s, a) / (l + alphas[as])
				}
				if e := math.Abs(v*(l+al) - 1); e > compressTol {
					t.Fatalf("%s: alpha %g, λ %g: relative weight error %g", c.name, al, l, e)
				}
			}
		}
	}
}

// With compression (float32) and without (float64), the leave-one-out
// errors agree to 1e-5 relative on random features (a narrow spectrum,
// where compression applies).
func TestCompressedSelectionErrors(t *testing.T) {
	for _, wide := range []bool{false, true} {
		compressedSelection(t, wide)
	}
}

// compressedSelection checks one spectrum: random features (narrow, one
// compressed band) or power-law scaled features (wide, several bands).
func compressedSelection(t *testing.T, wide bool) {
	r := rand.New(rand.NewPCG(7, 7))
	x, y := randMat(r, 400, 3000), randMat(r, 400, 30)
	if wide {
		for i := range x.Rows {
			row := x.Row(i)
			for k := range row {
				row[k] *= math.Pow(float64(k+1), -0.75)
			}
		}
	}
	for i := range y.Rows {
		for j := range 30 {
			y.Data[i*30+j] += 0.05 * float64(j) * x.At(i, j)
		}
	}
	alphas := make([]float64, 20)
	for i := range alphas {
		alphas[i] = 1e-2 * math.Pow(2, float64(i))
	}
	yc, _ := centred(rows[float64]{m: y}, nil)
	kc, kt := kernels(rows[float64]{m: x}, rows[float64]{m: x, idx: []int{}}, false)
	d, err := kernelDecomp(kc, kt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.setCoef(yc, nil)
	bs := d.bands(alphas)
	direct := 0
	for _, b := range bs {
		direct += (b.k1 - b.k0) * len(b.g)
	}
	t.Logf("wide %v: %d bands, %.0f%% of the direct product", wide, len(bs), 100*float64(direct)/float64(len(d.lambda)*len(alphas)))
	if direct == len(d.lambda)*len(alphas) {
		t.Errorf("wide %v: expected compression", wide)
	}
	e32, e64 := make([][]float64, 20), make([][]float64, 20)
	for a := range e32 {
		e32[a], e64[a] = make([]float64, 30), make([]float64, 30)
	}
	d.looErrors(alphas, yc, false, e32, nil)
	d.looErrors(alphas, yc, true, e64, nil)
	for a := range e32 {
		if e := relErr(e32[a], e64[a]); e > 1e-5 {
			t.Errorf("wide %v, alpha %g: compressed float32 LOO errors differ by %g relative", wide, alphas[a], e)
		}
	}
	_ = linalg.Backend()
}

// The two ways of summing the squared selection errors (elementwise, and
// the quadratic form in the residual components) agree: to 1e-10 relative
// in float64 without compression, to 1e-5 with compressed float32, on the
// kernel path (LOO, no base), the primal path (LOO with the targets as
// base) and held-out errors (inner K-fold, base = test targets).
func TestErrorSumsAgree(t *testing.T) {
	defer func(v int) { forceQuadratic = v }(forceQuadratic)
	r := rand.New(rand.NewPCG(9, 9))
	alphas := make([]float64, 20)
	for i := range alphas {
		alphas[i] = 1e-2 * math.Pow(2, float64(i))
	}
	type run func(f64 bool, errs [][]float64)
	cases := map[string]run{}
	for _, c := range []struct {
		name string
		n, q int
	}{{"kernel", 300, 2000}, {"primal", 300, 40}} {
		x, y := randMat(r, c.n, c.q), randMat(r, c.n, 25)
		for i := range y.Rows {
			for j := range y.Cols {
				y.Data[i*y.Cols+j] += 0.1 * float64(j) * x.At(i, j%c.q)
			}
		}
		yc, _ := centred(rows[float64]{m: y}, nil)
		all := &fold{train: seq(0, c.n), test: []int{}}
		d, _, err := decompose(x, all, y.Cols, c.q > c.n, false, mat{}, alphas, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.setCoef(yc, nil)
		cases[c.name] = func(f64 bool, errs [][]float64) { d.looErrors(alphas, yc, f64, errs, nil) }
		if c.q > c.n {
			// Held-out errors of a split of this training part.
			kc, kt := kernels(rows[float64]{m: x, idx: seq(0, 200)}, rows[float64]{m: x, idx: seq(200, 300)}, false)
			di, err := kernelDecomp(kc, kt, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			yi, ybar := centred(rows[float64]{m: y, idx: seq(0, 200)}, nil)
			di.setCoef(yi, nil)
			ytc := linalg.NewMatrix[float64](100, y.Cols)
			for a := range 100 {
				for j := range y.Cols {
					ytc.Data[a*y.Cols+j] = y.At(200+a, j) - ybar[j]
				}
			}
			cases["held-out"] = func(f64 bool, errs [][]float64) { di.foldErrors(alphas, ytc, f64, errs, nil) }
		}
	}
	for name, f := range cases {
		get := func(force int, f64 bool) [][]float64 {
			forceQuadratic = force
			errs := make([][]float64, len(alphas))
			for a := range errs {
				errs[a] = make([]float64, 25)
			}
			f(f64, errs)
			return errs
		}
		ref := get(-1, true)
		for _, c := range []struct {
			force int
			f64   bool
			tol   float64
		}{{1, true, 1e-10}, {1, false, 1e-5}, {-1, false, 1e-5}, {0, false, 1e-5}} {
			got := get(c.force, c.f64)
			for a := range alphas {
				if e := relErr(got[a], ref[a]); !(e <= c.tol) {
					t.Errorf("%s, force %d, float64 %v, alpha %g: errors differ from elementwise float64 by %g relative",
						name, c.force, c.f64, alphas[a], e)
				}
			}
		}
	}
}

func seq(a, b int) []int {
	s := make([]int, 0, b-a)
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

// band.scaled (specialised for 3 and 4 weights) equals its definition.
func TestBandScaled(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	coef := randMat(r, 30, 17)
	for ns := 1; ns <= 6; ns++ {
		bd := band[float32]{k0: 4, k1: 25, g: make([][]float64, ns)}
		for s := range bd.g {
			bd.g[s] = make([]float64, bd.k1-bd.k0)
			for k := range bd.g[s] {
				bd.g[s][k] = r.NormFloat64()
			}
		}
		j0, w := 3, 11
		b := linalg.NewMatrix[float32](bd.k1-bd.k0, w*ns)
		bd.scaled(b, coef, j0, w)
		for k := range bd.k1 - bd.k0 {
			for j := range w {
				for s := range ns {
					want := float32(bd.g[s][k] * coef.At(bd.k0+k, j0+j))
					if got := b.At(k, j*ns+s); got != want {
						t.Fatalf("ns %d: b[%d][%d·%d+%d] = %g, want %g", ns, k, j, ns, s, got, want)
					}
				}
			}
		}
	}
}
