package ridge

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// Reference values: testdata/fit_reference.py (sklearn 1.2.1 RidgeCV with
// alpha_per_target=True, numpy 1.24.2, scipy 1.10.1), on the arrays of
// testdata/gen_reference.py.

func checkFitAlphas(t *testing.T, got []float64, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d alphas, sklearn has %d", len(got), len(want))
	}
	for j, a := range got {
		if math.Abs(a-want[j]) > 1e-12*want[j] {
			t.Errorf("target %d: alpha %g, sklearn RidgeCV chose %g", j, a, want[j])
		}
	}
}

func TestFitMatchesRidgeCV(t *testing.T) {
	eachSelection(t, func(t *testing.T, name string, x, y linalg.Matrix[float64], alphas []float64, f64 bool) {
		m, err := Fit(x, y, FitConfig{Alphas: alphas, Float64Selection: f64})
		if err != nil {
			t.Fatal(err)
		}
		checkFitAlphas(t, m.Alpha, load(t, "testdata/"+name+"_fit_alpha.npy").Float64())
		// Predict (through the factors in the kernel case), then
		// the coefficients.
		newx := loadMat(t, "testdata/"+name+"_fit_newx.npy")
		wantPred := loadMat(t, "testdata/"+name+"_fit_pred.npy")
		pred, err := Predict(m, newx)
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(pred.Data, wantPred.Data); e > predTol {
			t.Errorf("predictions for new stimuli differ from sklearn's predict: rel err %g", e)
		}
		coef := loadMat(t, "testdata/"+name+"_fit_coef.npy")
		got := m.Coef()
		if got.Rows != coef.Rows || got.Cols != coef.Cols {
			t.Fatalf("coefficients %d×%d, sklearn's %d×%d", got.Rows, got.Cols, coef.Rows, coef.Cols)
		}
		if e := relErr(got.Data, coef.Data); e > predTol {
			t.Errorf("coefficients differ from sklearn's coef_: rel err %g", e)
		}
		if e := relErr(m.Intercept, load(t, "testdata/"+name+"_fit_intercept.npy").Float64()); e > predTol {
			t.Errorf("intercepts differ from sklearn's intercept_: rel err %g", e)
		}
		// x·Coef + Intercept, the model as sklearn holds it
		byCoef := linalg.NewMatrix[float64](newx.Rows, got.Cols)
		linalg.Gemm(false, false, 1, newx, got, 0, byCoef)
		for i := range byCoef.Rows {
			for j := range byCoef.Cols {
				byCoef.Data[i*byCoef.Cols+j] += m.Intercept[j]
			}
		}
		if e := relErr(byCoef.Data, wantPred.Data); e > predTol {
			t.Errorf("predictions from the formed coefficients differ from sklearn's predict: rel err %g", e)
		}
	})
}

// TestFitCowleyV4 fits real V4 responses (Cowley et al. 2023, session
// 190923, first 300 images) on the float32 features of gen_reference.py.
func TestFitCowleyV4(t *testing.T) {
	x, y := cowleyData(t)
	want := load(t, "testdata/cowley_fit_alpha.npy").Float64()
	wantPred := loadMat(t, "testdata/cowley_fit_pred.npy")
	for _, f64 := range []bool{true, false} {
		m, err := Fit(x, y, FitConfig{Float64Selection: f64}) // the default grid is alphas.npy's
		if err != nil {
			t.Fatal(err)
		}
		checkFitAlphas(t, m.Alpha, want)
		pred, err := Predict(m, x.Slice(0, 20, 0, x.Cols))
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(pred.Data, wantPred.Data); e > predTol {
			t.Errorf("float64 selection %v: predictions differ from sklearn's: rel err %g", f64, e)
		}
	}
}

// TestFitBlocks fits more targets than one block (targetBlock), on two
// workers, and checks every target against a fit of that target alone.
func TestFitBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, q := range []int{90, 25} { // kernel and primal
		n, p := 60, 2*targetBlock+37
		x := randMat(r, n, q)
		for i := range x.Data {
			x.Data[i] += 2 // offset features: the intercept must absorb them
		}
		w := randMat(r, q, p)
		y := linalg.NewMatrix[float64](n, p)
		linalg.Gemm(false, false, 1/math.Sqrt(float64(q)), x, w, 0, y)
		for j := range p {
			s := 0.1 + 3*float64(j%7)
			for i := range n {
				y.Data[i*p+j] += s*r.NormFloat64() + float64(j%5)
			}
		}
		m, err := Fit(x, y, FitConfig{Float64Selection: true})
		if err != nil {
			t.Fatal(err)
		}
		distinct := map[float64]bool{}
		for _, j := range []int{0, 1, targetBlock - 1, targetBlock, 2*targetBlock + 5, p - 1} {
			one, err := Fit(x, y.Slice(0, n, j, j+1), FitConfig{Float64Selection: true})
			if err != nil {
				t.Fatal(err)
			}
			if one.Alpha[0] != m.Alpha[j] {
				t.Errorf("q %d target %d: alpha %g in the batch, %g alone", q, j, m.Alpha[j], one.Alpha[0])
			}
			distinct[m.Alpha[j]] = true
			col := make([]float64, q)
			for f := range q {
				col[f] = m.Coef().At(f, j)
			}
			if e := relErr(col, one.Coef().Data); e > 1e-10 {
				t.Errorf("q %d target %d: coefficients differ from its fit alone by %g", q, j, e)
			}
			if d := math.Abs(m.Intercept[j] - one.Intercept[0]); d > 1e-10*math.Max(1, math.Abs(one.Intercept[0])) {
				t.Errorf("q %d target %d: intercept %g in the batch, %g alone", q, j, m.Intercept[j], one.Intercept[0])
			}
		}
		if len(distinct) < 2 {
			t.Errorf("q %d: the checked targets all chose alpha %v; the noise levels should part them", q, distinct)
		}
		// Predictions on the training stimuli fit the data better than the
		// mean does for the low-noise targets.
		pred, err := Predict(m, x)
		if err != nil {
			t.Fatal(err)
		}
		var sse, sst float64
		for j := 0; j < p; j += 7 { // noise 0.1
			mu := 0.0
			for i := range n {
				mu += y.At(i, j)
			}
			mu /= float64(n)
			for i := range n {
				sse += math.Pow(y.At(i, j)-pred.At(i, j), 2)
				sst += math.Pow(y.At(i, j)-mu, 2)
			}
		}
		if !(sse < 0.2*sst) {
			t.Errorf("q %d: training R² %.3f for the low-noise targets, want > 0.8", q, 1-sse/sst)
		}
	}
}

func TestFitBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y := randMat(r, 10, 4), randMat(r, 10, 2)
	nan := randMat(r, 10, 4)
	nan.Data[7] = math.NaN()
	for _, c := range []struct {
		name string
		err  func() error
		want error
	}{
		{"rows differ", func() error { _, err := Fit(x, randMat(r, 9, 2), FitConfig{}); return err }, ErrShape},
		{"too few stimuli", func() error {
			_, err := Fit(x.Slice(0, 2, 0, 4), y.Slice(0, 2, 0, 2), FitConfig{})
			return err
		}, ErrShape},
		{"NaN feature", func() error { _, err := Fit(nan, y, FitConfig{}); return err }, ErrNonFinite},
		{"negative alpha", func() error { _, err := Fit(x, y, FitConfig{Alphas: []float64{1, -1}}); return err }, ErrConfig},
		{"empty grid", func() error { _, err := Fit(x, y, FitConfig{Alphas: []float64{}}); return err }, ErrConfig},
		{"predict width", func() error {
			m, err := Fit(x, y, FitConfig{})
			if err != nil {
				return err
			}
			_, err = Predict(m, randMat(r, 3, 5))
			return err
		}, ErrShape},
		{"predict NaN", func() error {
			m, err := Fit(x, y, FitConfig{})
			if err != nil {
				return err
			}
			_, err = Predict(m, nan)
			return err
		}, ErrNonFinite},
	} {
		if err := c.err(); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

// TestFitConcurrentUse predicts and forms the coefficients from several
// goroutines at once (run with -race to check the model's sharing).
func TestFitConcurrentUse(t *testing.T) {
	x := loadMat(t, "testdata/kernel_x.npy")
	m, err := Fit(x, loadMat(t, "testdata/kernel_y.npy"), FitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Predict(m, x)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g%2 == 0 {
				m.Coef()
				return
			}
			got, err := Predict(m, x)
			if err != nil {
				t.Error(err)
				return
			}
			if !slices.Equal(got.Data, want.Data) {
				t.Error("Predict gave other values beside Coef")
			}
		}()
	}
	wg.Wait()
}
