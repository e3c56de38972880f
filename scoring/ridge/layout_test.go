package ridge

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// sameFloats reports whether a and b are equal bit for bit (NaN = NaN).
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// sameResult compares every field of two Results but Predictions bit for
// bit.
func sameResult(t *testing.T, name string, got, want *Result) {
	t.Helper()
	if !sameFloats(got.R, want.R) {
		t.Errorf("%s: R differs", name)
	}
	for f := range want.FoldR {
		if !sameFloats(got.FoldR[f], want.FoldR[f]) || !sameFloats(got.FoldAlpha[f], want.FoldAlpha[f]) {
			t.Errorf("%s: fold %d's R or alphas differ", name, f)
		}
	}
	if !sameFloats(got.FoldMedians, want.FoldMedians) || !sameFloats(got.Alpha, want.Alpha) ||
		!sameFloats([]float64{got.Median, got.Mean, got.SE}, []float64{want.Median, want.Mean, want.SE}) ||
		got.NaNTargets != want.NaNTargets || got.Folds != want.Folds || !slices.Equal(got.FoldOf, want.FoldOf) {
		t.Errorf("%s: medians, mean, SE, alphas or folds differ", name)
	}
}

func transpose[T linalg.Float](m linalg.Matrix[T]) linalg.Matrix[T] {
	o := linalg.NewMatrix[T](m.Cols, m.Rows)
	for i := range m.Rows {
		for j, v := range m.Row(i) {
			o.Data[j*o.Stride+i] = v
		}
	}
	return o
}

// CVT on targets × stimuli responses and DropPredictions (block-major
// order, several blocks, a last partial one; and the fold-major fallback)
// give CV's results bit for bit, on the kernel and the primal path, with
// leave-one-out and inner K-fold selection, float64 and float32 targets.
func TestLayoutsAndDropPredictions(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 1))
	for _, c := range []struct {
		name    string
		n, q, p int
		inner   int
	}{
		{"kernel", 60, 100, 900, 0}, // block-major: 5 folds' bases < 60×900 predictions
		{"primal", 60, 20, 700, 0},  // block-major on the primal path
		{"small", 60, 100, 300, 0},  // DropPredictions falls back to fold-major
		{"inner", 60, 100, 600, 3},  // inner K-fold: fold-major
	} {
		x := randMat(r, c.n, c.q)
		y := randMat(r, c.n, c.p)
		for j := range c.p { // signal in some targets, a constant one (NaN r)
			for i := range c.n {
				if j == 5 {
					y.Data[i*c.p+j] = 2
				} else if j%3 == 0 {
					y.Data[i*c.p+j] += 3 * x.At(i, j%c.q)
				}
			}
		}
		cfg := Config{Folds: 5, Seed: 7, InnerFolds: c.inner}
		want, err := CV(x, y, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want.NaNTargets == 0 {
			t.Fatalf("%s: the constant target should have r = NaN", c.name)
		}
		yt := transpose(y)
		got, err := CVT(x, yt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sameResult(t, c.name+" CVT", got, want)
		if !sameFloats(got.Predictions.Data, want.Predictions.Data) {
			t.Errorf("%s CVT: predictions differ", c.name)
		}
		drop := cfg
		drop.DropPredictions = true
		for _, v := range []struct {
			name string
			run  func() (*Result, error)
		}{
			{"CV drop", func() (*Result, error) { return CV(x, y, drop) }},
			{"CVT drop", func() (*Result, error) { return CVT(x, yt, drop) }},
		} {
			got, err := v.run()
			if err != nil {
				t.Fatal(err)
			}
			sameResult(t, c.name+" "+v.name, got, want)
			if got.Predictions.Data != nil {
				t.Errorf("%s %s: Predictions kept", c.name, v.name)
			}
		}
		// float32 targets: CV and CVT agree
		y32 := linalg.NewMatrix[float32](c.n, c.p)
		for i, v := range y.Data {
			y32.Data[i] = float32(v)
		}
		w32, err := CV(x, y32, cfg)
		if err != nil {
			t.Fatal(err)
		}
		g32, err := CVT(x, transpose(y32), drop)
		if err != nil {
			t.Fatal(err)
		}
		sameResult(t, c.name+" float32 CVT drop", g32, w32)
	}
}

// CVT's errors name the layout it was given.
func TestCVTErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 2))
	x := randMat(r, 20, 30)
	yt := randMat(r, 4, 20)
	yt.Data[2*20+7] = math.NaN()
	if _, err := CVT(x, yt, Config{Folds: 2}); !errors.Is(err, ErrNonFinite) || err.Error() != "ridge: NaN or Inf in input: y has NaN at target 2, stimulus 7" {
		t.Errorf("NaN: got %v", err)
	}
	if _, err := CVT(x, randMat(r, 4, 19), Config{Folds: 2}); !errors.Is(err, ErrShape) {
		t.Errorf("19 stimuli for 20: got %v", err)
	}
}
