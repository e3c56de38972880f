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
	d, err := kernelDecomp(kc, kt, nil)
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
