package varpart

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
)

type refCase struct {
	FoldR2        [][]float64 `json:"fold_r2"`
	R2            []float64
	Parts         []float64
	InsampleR2    []float64 `json:"insample_r2"`
	InsampleParts []float64 `json:"insample_parts"`
}

// Reference: sklearn 1.2.1 LinearRegression + r2_score on the Kriegeskorte
// 2008 hIT subject-mean RDM, predictor sets from its model RDMs, stimulus
// folds from KFold(5, shuffle=True, random_state=1)
// (testdata/gen_advanced_reference.py). Tolerance 1e-9 absolute on R² and
// parts: both solve the same least-squares problems (QR here, SVD there).
func TestKriegeskorteSklearn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "advanced", "varpart.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		StimulusFolds []int              `json:"stimulus_folds"`
		Sets          map[string][][]int `json:"sets"`
		Two, Three    refCase
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	dir := reftest.DataDir(t)
	models := reftest.Uppers(t, filepath.Join(dir, "kriegeskorte2008-92", "rdms", "model_rdms.npy"))
	hit := reftest.Uppers(t, filepath.Join(dir, "kriegeskorte2008-92", "rdms", "hIT_subject_rdms_sessionmean.npy"))
	target := make([]float64, len(hit[0]))
	for i := range target {
		for _, s := range hit {
			target[i] += s[i]
		}
		target[i] /= float64(len(hit))
	}
	for name, want := range map[string]refCase{"two": ref.Two, "three": ref.Three} {
		var sets [][][]float64
		for _, cols := range ref.Sets[name] {
			var s [][]float64
			for _, c := range cols {
				s = append(s, models[c])
			}
			sets = append(sets, s)
		}
		cv, err := CV(target, sets, ref.StimulusFolds)
		if err != nil {
			t.Fatal(err)
		}
		in, err := Fit(target, sets)
		if err != nil {
			t.Fatal(err)
		}
		cmp := func(what string, got, want []float64) {
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-9 {
					t.Errorf("%s %s[%b] = %.12g, sklearn %.12g", name, what, i, got[i], want[i])
				}
			}
		}
		for f := range want.FoldR2 {
			cmp("fold R²", cv.FoldR2[f], want.FoldR2[f])
		}
		cmp("CV R²", cv.R2, want.R2)
		cmp("CV parts", cv.Parts, want.Parts)
		cmp("in-sample R²", in.R2, want.InsampleR2)
		cmp("in-sample parts", in.Parts, want.InsampleParts)
		t.Logf("%s: CV R² of all %.4f; unique: %.4f %.4f; shared(0,1) %.4f", name, cv.R2[len(cv.R2)-1], cv.Unique(0), cv.Unique(1), cv.Shared(0, 1))
	}
}

// With orthogonal predictors (by construction) there is no shared
// variance: each unique part equals that set's own R², by hand.
func TestPartitionByHand(t *testing.T) {
	// R² of unions for independent sets a=0.1, b=0.2, c=0.3.
	r2 := []float64{0, 0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6}
	p := Partition(r2)
	want := []float64{0, 0.1, 0.2, 0, 0.3, 0, 0, 0}
	for i := range want {
		if math.Abs(p[i]-want[i]) > 1e-15 {
			t.Errorf("part %b = %g, want %g", i, p[i], want[i])
		}
	}
	// Two identical sets explaining 0.5: everything is shared.
	p = Partition([]float64{0, 0.5, 0.5, 0.5})
	if math.Abs(p[3]-0.5) > 1e-15 || math.Abs(p[1]) > 1e-15 || math.Abs(p[2]) > 1e-15 {
		t.Errorf("identical sets: %v", p)
	}
}

func TestErrors(t *testing.T) {
	y := make([]float64, 10)
	for i := range y {
		y[i] = float64(i * i % 7)
	}
	if _, err := Fit(y, [][][]float64{{y}}); !errors.Is(err, ErrShape) {
		t.Errorf("one set: %v", err)
	}
	if _, err := Fit(y, [][][]float64{{y}, {y[:5]}}); !errors.Is(err, ErrShape) {
		t.Errorf("short predictor: %v", err)
	}
	c := make([]float64, 10)
	if _, err := Fit(y, [][][]float64{{y}, {c}}); !errors.Is(err, ErrSingular) {
		t.Errorf("constant predictor: %v", err)
	}
	bad := append([]float64(nil), y...)
	bad[2] = math.Inf(1)
	if _, err := Fit(y, [][][]float64{{y}, {bad}}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Inf: %v", err)
	}
}

// BenchmarkCVPerLayer: the per-layer use on a 92-stimulus benchmark, for
// each of 245 layers a three-set partition {layer} vs {3 low-level RDMs}
// vs {2 category RDMs}, 5 stimulus folds.
func BenchmarkCVPerLayer(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 0))
	m := 92 * 91 / 2
	vec := func() []float64 {
		v := make([]float64, m)
		for i := range v {
			v[i] = rng.Float64()
		}
		return v
	}
	target := vec()
	low := [][]float64{vec(), vec(), vec()}
	cat := [][]float64{vec(), vec()}
	layers := make([][]float64, 245)
	for l := range layers {
		layers[l] = vec()
	}
	folds := make([]int, 92)
	for i := range folds {
		folds[i] = i % 5
	}
	for b.Loop() {
		for _, l := range layers {
			if _, err := CV(target, [][][]float64{{l}, low, cat}, folds); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCVEarlyLate: two sets made of all 245 layers (the first 120
// and the last 125 layer RDMs) on 92 stimuli, 5 stimulus folds: 3 OLS
// fits of up to 245 predictors per fold.
func BenchmarkCVEarlyLate(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 1))
	m := 92 * 91 / 2
	vec := func() []float64 {
		v := make([]float64, m)
		for i := range v {
			v[i] = rng.Float64()
		}
		return v
	}
	target := vec()
	var early, late [][]float64
	for l := 0; l < 245; l++ {
		if l < 120 {
			early = append(early, vec())
		} else {
			late = append(late, vec())
		}
	}
	folds := make([]int, 92)
	for i := range folds {
		folds[i] = i % 5
	}
	for b.Loop() {
		if _, err := CV(target, [][][]float64{early, late}, folds); err != nil {
			b.Fatal(err)
		}
	}
}
