package ceiling

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// TestAlgonautsPublished reproduces the Algonauts 2019 published upper
// noise ceilings (R², 92 images): EVC 0.1589, IT 0.3075 (Cichy et al. 2019,
// arXiv:1905.05675; datasets/README.md), to 4 decimals.
func TestAlgonautsPublished(t *testing.T) {
	dir := reftest.DataDir(t)
	for roi, want := range map[string]float64{"EVC": 0.1589, "IT": 0.3075} {
		c, err := RSACeiling(reftest.Uppers(t, filepath.Join(dir, "algonauts2019-92", "rdms", roi+".npy")), rsa.Spearman)
		if err != nil {
			t.Fatal(err)
		}
		if got := math.Round(c.UpperR2*1e4) / 1e4; got != want {
			t.Errorf("%s: upper R² %.6f rounds to %.4f, published %.4f", roi, c.UpperR2, got, want)
		}
	}
}

// TestAgainstNumpy compares every ceiling with the numpy/scipy
// implementation in testdata/gen_reference.py (scipy 1.10.1), to 1e-10.
func TestAgainstNumpy(t *testing.T) {
	dir := reftest.DataDir(t)
	b, err := os.ReadFile(filepath.Join("..", "testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Real map[string]map[string]json.RawMessage `json:"real_ceilings"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"algonauts2019-92/EVC":                "algonauts2019-92/rdms/EVC.npy",
		"algonauts2019-92/IT":                 "algonauts2019-92/rdms/IT.npy",
		"algonauts2019-78/EVC":                "algonauts2019-78/rdms/EVC.npy",
		"algonauts2019-78/IT":                 "algonauts2019-78/rdms/IT.npy",
		"kriegeskorte2008-92/hIT-sessionmean": "kriegeskorte2008-92/rdms/hIT_subject_rdms_sessionmean.npy",
		"kriegeskorte2008-92/behaviour":       "kriegeskorte2008-92/rdms/behav_simjudge_rdms_16subj.npy",
	}
	if len(ref.Real) != len(files) {
		t.Fatalf("reference.json has %d real datasets, want %d (regenerate with the datasets present)", len(ref.Real), len(files))
	}
	for key, rel := range files {
		subj := reftest.Uppers(t, filepath.Join(dir, rel))
		for _, m := range []rsa.Method{rsa.Spearman, rsa.Pearson, rsa.KendallTauA} {
			raw, ok := ref.Real[key][string(m)]
			if !ok {
				continue
			}
			var want struct{ Upper, Lower, Upper_R2, Lower_R2 float64 }
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			c, err := RSACeiling(subj, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][3]any{{"upper", c.Upper, want.Upper}, {"lower", c.Lower, want.Lower}, {"upper_r2", c.UpperR2, want.Upper_R2}, {"lower_r2", c.LowerR2, want.Lower_R2}} {
				if d := math.Abs(p[1].(float64) - p[2].(float64)); d > 1e-10 {
					t.Errorf("%s %s %s: got %.15g, numpy %.15g", key, m, p[0], p[1], p[2])
				}
			}
		}
	}
}

func TestRSACeilingErrors(t *testing.T) {
	v := []float64{1, 2, 3, 4}
	if _, err := RSACeiling([][]float64{v}, rsa.Spearman); !errors.Is(err, ErrTooFewSubjects) {
		t.Errorf("one subject: %v", err)
	}
	if _, err := RSACeiling([][]float64{v, v[:3]}, rsa.Spearman); !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "subject 1") {
		t.Errorf("ragged: %v", err)
	}
	if _, err := RSACeiling([][]float64{v, {4, 1, 2, 3}, {1, 1, 1, 1}}, rsa.Pearson); !errors.Is(err, rsa.ErrConstant) || !strings.Contains(err.Error(), "subject 2") {
		t.Errorf("constant subject: %v", err)
	}
}

// TestSplitHalfTwoRepeats: with exactly two available repeats every split
// gives the same halves up to swapping them (the slot permutation is shared
// by all stimuli), so the result is 2r/(1+r) with r = Pearson(rep0, rep1) over
// stimuli having both (numpy/scipy values from gen_reference.py). Target 1
// has a stimulus with a single repeat, which must be skipped.
func TestSplitHalfTwoRepeats(t *testing.T) {
	a, err := npy.ReadFile(filepath.Join("..", "testdata", "responses_2rep.npy"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		SB []float64 `json:"splithalf_2rep"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	r := Responses{Targets: a.Shape[0], Stimuli: a.Shape[1], Repeats: a.Shape[2], Data: a.Float64()}
	got, err := SplitHalf(r, 7, 42)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ref.SB {
		if math.Abs(got[i]-ref.SB[i]) > 1e-12 {
			t.Errorf("target %d: %v, numpy %v", i, got[i], ref.SB[i])
		}
	}
}

// TestSplitHalfReal runs on the Cowley V4 session with trial-level data:
// seeded (same seed, same answer), finite, and within [-1, 1] for most
// neurons.
func TestSplitHalfReal(t *testing.T) {
	dir := reftest.DataDir(t)
	a, err := npy.ReadFile(filepath.Join(dir, "cowley2023-v4", "responses_raw", "responses_210325.npy"))
	if err != nil {
		t.Fatal(err)
	}
	r := Responses{Targets: a.Shape[0], Stimuli: a.Shape[1], Repeats: a.Shape[2], Data: a.Float64()}
	x, err := SplitHalf(r, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := SplitHalf(r, 20, 1)
	for i := range x {
		if x[i] != y[i] && !(math.IsNaN(x[i]) && math.IsNaN(y[i])) {
			t.Fatalf("not reproducible at target %d", i)
		}
		if !(x[i] <= 1) {
			t.Errorf("target %d: reliability %v", i, x[i])
		}
	}
}

func TestSplitHalfErrors(t *testing.T) {
	r := Responses{Targets: 1, Stimuli: 3, Repeats: 2, Data: []float64{1, 2, 3, 4, 5, math.Inf(1)}}
	if _, err := SplitHalf(r, 1, 0); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "stimulus 2, repeat 1") {
		t.Errorf("inf: %v", err)
	}
	r.Data = r.Data[:5]
	if _, err := SplitHalf(r, 1, 0); !errors.Is(err, ErrShape) {
		t.Errorf("short: %v", err)
	}
	r.Data = []float64{1, 2, 3, 4, 5, 6}
	if _, err := SplitHalf(r, 0, 0); !errors.Is(err, ErrSplits) {
		t.Errorf("splits: %v", err)
	}
	// Only two stimuli with two repeats: too few to correlate → NaN.
	r.Data = []float64{1, 2, 3, 4, 5, math.NaN()}
	got, err := SplitHalf(r, 3, 0)
	if err != nil || !math.IsNaN(got[0]) {
		t.Errorf("too few stimuli: %v %v", got, err)
	}
}

func TestNormalize(t *testing.T) {
	c := Normalize(0.3, 0.6)
	if c.Raw != 0.3 || c.Ceiling != 0.6 || math.Abs(c.Value-0.5) > 1e-15 {
		t.Errorf("Normalize(0.3, 0.6) = %+v", c)
	}
	if c := Normalize(0.9, 0.6); math.Abs(c.Value-1.5) > 1e-15 || Clip(c) != 1 {
		t.Errorf("above ceiling must stay unclipped: %+v, Clip %v", c, Clip(c))
	}
	for _, ceil := range []float64{0, -0.1, math.NaN()} {
		if c := Normalize(0.2, ceil); !math.IsNaN(c.Value) || !math.IsNaN(Clip(c)) {
			t.Errorf("no ceiling %v: %+v", ceil, c)
		}
	}
	if Clip(Normalize(-0.1, 0.5)) != 0 {
		t.Error("Clip of a negative score")
	}
}

// TestPooledAgainstNumpy checks the standardized pooling (rsatoolbox's:
// ranks for Spearman, z-scores for Pearson, averaged) against
// testdata/gen_pooled.py (numpy 1.24.2, scipy 1.10.1), to 1e-10, on real
// RDMs, and that it differs from the plain mean there.
func TestPooledAgainstNumpy(t *testing.T) {
	dir := reftest.DataDir(t)
	b, err := os.ReadFile(filepath.Join("testdata", "pooled_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Ceilings map[string]map[string]struct{ Upper, Lower, Upper_R2, Lower_R2 float64 }
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"algonauts2019-92/EVC":                "algonauts2019-92/rdms/EVC.npy",
		"algonauts2019-92/IT":                 "algonauts2019-92/rdms/IT.npy",
		"kriegeskorte2008-92/hIT-sessionmean": "kriegeskorte2008-92/rdms/hIT_subject_rdms_sessionmean.npy",
	}
	if len(ref.Ceilings) != len(files) {
		t.Fatalf("pooled_reference.json has %d datasets, want %d", len(ref.Ceilings), len(files))
	}
	for key, rel := range files {
		subj := reftest.Uppers(t, filepath.Join(dir, rel))
		for _, m := range []rsa.Method{rsa.Spearman, rsa.Pearson} {
			want := ref.Ceilings[key][string(m)]
			c, err := RSACeilingPool(subj, m, PoolStandardized)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][3]any{{"upper", c.Upper, want.Upper}, {"lower", c.Lower, want.Lower}, {"upper_r2", c.UpperR2, want.Upper_R2}, {"lower_r2", c.LowerR2, want.Lower_R2}} {
				if d := math.Abs(p[1].(float64) - p[2].(float64)); d > 1e-10 {
					t.Errorf("%s %s %s: got %.15g, numpy %.15g", key, m, p[0], p[1], p[2])
				}
			}
			plain, err := RSACeiling(subj, m)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(plain.Upper-c.Upper) < 1e-4 {
				t.Errorf("%s %s: standardized pooling %.6f equals the plain mean's %.6f", key, m, c.Upper, plain.Upper)
			}
		}
	}
	if _, err := ParsePool("median"); !errors.Is(err, ErrPool) {
		t.Errorf("unknown pooling accepted: %v", err)
	}
}
