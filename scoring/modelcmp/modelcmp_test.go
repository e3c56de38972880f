package modelcmp

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

type reference struct {
	Models           []int
	ResampleStimuli  [][]int `json:"resample_stimuli"`
	ResampleSubjects [][]int `json:"resample_subjects"`
	Scores           []float64
	Boot             [][]float64
	Pairs            []struct {
		A, B         int
		Diff, P, Q   float64
		Lower, Upper float64
	}
	BH1995P []float64 `json:"bh1995_p"`
	BH1995Q []float64 `json:"bh1995_q"`
	RandomP []float64 `json:"random_p"`
	RandomQ []float64 `json:"random_q"`
}

func loadReference(t *testing.T) reference {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "advanced", "modelcmp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Reference: the same bootstrap in numpy/scipy.stats.spearmanr (scipy
// 1.10.1) with the same resample indices, on the Algonauts 2019 92-image
// IT subject RDMs against four Kriegeskorte 2008 model RDMs
// (testdata/gen_advanced_reference.py). Scores, resampled scores and
// interval ends to 1e-10 absolute (a correlation computed two ways);
// p-values exactly (counts), q-values to 1e-15.
func TestRSAReference(t *testing.T) {
	ref := loadReference(t)
	dir := reftest.DataDir(t)
	all := reftest.Uppers(t, filepath.Join(dir, "kriegeskorte2008-92", "rdms", "model_rdms.npy"))
	subjects := reftest.Uppers(t, filepath.Join(dir, "algonauts2019-92", "rdms", "IT.npy"))
	var models [][]float64
	for _, m := range ref.Models {
		models = append(models, all[m])
	}
	var rs []Resample
	for b := range ref.ResampleStimuli {
		rs = append(rs, Resample{Stimuli: ref.ResampleStimuli[b], Subjects: ref.ResampleSubjects[b]})
	}
	res, err := RSA(models, subjects, rsa.Spearman, rs)
	if err != nil {
		t.Fatal(err)
	}
	for m, s := range res.Scores {
		if math.Abs(s-ref.Scores[m]) > 1e-10 {
			t.Errorf("score %d = %.12g, scipy %.12g", m, s, ref.Scores[m])
		}
	}
	for b := range res.Boot {
		for m, s := range res.Boot[b] {
			if math.Abs(s-ref.Boot[b][m]) > 1e-10 {
				t.Fatalf("resample %d model %d = %.12g, scipy %.12g", b, m, s, ref.Boot[b][m])
			}
		}
	}
	for i, p := range res.Pairs {
		w := ref.Pairs[i]
		if p.A != w.A || p.B != w.B || p.P != w.P || math.Abs(p.Q-w.Q) > 1e-15 ||
			math.Abs(p.Diff-w.Diff) > 1e-10 || math.Abs(p.Lower-w.Lower) > 1e-10 || math.Abs(p.Upper-w.Upper) > 1e-10 {
			t.Errorf("pair %d = %+v, reference %+v", i, p, w)
		}
	}
}

// RSAAgainst with the last model as the reference gives, for every
// other model m, the pair (m, ref) of the scipy reference above (the same
// Diff, interval and p, to the same tolerances), with Q the BH adjustment
// across those pairs only (BH is checked against scipy in TestBH).
func TestRSAAgainstReference(t *testing.T) {
	ref := loadReference(t)
	dir := reftest.DataDir(t)
	all := reftest.Uppers(t, filepath.Join(dir, "kriegeskorte2008-92", "rdms", "model_rdms.npy"))
	subjects := reftest.Uppers(t, filepath.Join(dir, "algonauts2019-92", "rdms", "IT.npy"))
	var models [][]float64
	for _, m := range ref.Models {
		models = append(models, all[m])
	}
	var rs []Resample
	for b := range ref.ResampleStimuli {
		rs = append(rs, Resample{Stimuli: ref.ResampleStimuli[b], Subjects: ref.ResampleSubjects[b]})
	}
	last := len(models) - 1
	res, err := RSAAgainst(models, subjects, rsa.Spearman, rs, last)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pairs) != last {
		t.Fatalf("%d pairs, want %d (every model against the reference)", len(res.Pairs), last)
	}
	var ps []float64
	for i, p := range res.Pairs {
		if p.A != i || p.B != last {
			t.Fatalf("pair %d is (%d, %d), want (%d, %d)", i, p.A, p.B, i, last)
		}
		var w *struct {
			A, B         int
			Diff, P, Q   float64
			Lower, Upper float64
		}
		for k := range ref.Pairs {
			if ref.Pairs[k].A == i && ref.Pairs[k].B == last {
				w = &ref.Pairs[k]
			}
		}
		if w == nil {
			t.Fatalf("no reference pair (%d, %d)", i, last)
		}
		if p.P != w.P || math.Abs(p.Diff-w.Diff) > 1e-10 || math.Abs(p.Lower-w.Lower) > 1e-10 || math.Abs(p.Upper-w.Upper) > 1e-10 {
			t.Errorf("pair (%d, %d) = %+v, reference %+v", i, last, p, *w)
		}
		ps = append(ps, p.P)
	}
	for i, q := range BH(ps) {
		if res.Pairs[i].Q != q {
			t.Errorf("pair %d: q %g, want BH over the %d pairs %g", i, res.Pairs[i].Q, len(ps), q)
		}
	}
	if _, err := RSAAgainst(models, subjects, rsa.Spearman, rs, len(models)); !errors.Is(err, ErrShape) {
		t.Errorf("reference out of range: %v", err)
	}
}

// Reference: Benjamini & Hochberg (1995, J R Stat Soc B 57:289, section 4)
// — 15 p-values of which 4 are rejected at FDR 0.05 — and the BH
// adjustment transcribed from scipy 1.11's false_discovery_control (absent
// from Debian's scipy 1.10) on the same and on 40 random p-values.
// Tolerance 1e-15.
func TestBH(t *testing.T) {
	ref := loadReference(t)
	q := BH(ref.BH1995P)
	rejected := 0
	for i, v := range q {
		if math.Abs(v-ref.BH1995Q[i]) > 1e-15 {
			t.Errorf("BH1995 q[%d] = %.17g, want %.17g", i, v, ref.BH1995Q[i])
		}
		if v <= 0.05 {
			rejected++
		}
	}
	if rejected != 4 {
		t.Errorf("BH1995: %d rejected at 0.05, the paper rejects 4", rejected)
	}
	for i, v := range BH(ref.RandomP) {
		if math.Abs(v-ref.RandomQ[i]) > 1e-15 {
			t.Errorf("random q[%d] = %.17g, want %.17g", i, v, ref.RandomQ[i])
		}
	}
}

func TestPValueByHand(t *testing.T) {
	// 9 resamples, 2 at or below zero: p = 2·(1+2)/10 = 0.6.
	if p := PValue([]float64{-1, 0, 1, 2, 3, 4, 5, 6, 7}); math.Abs(p-0.6) > 1e-15 {
		t.Errorf("p = %g, want 0.6", p)
	}
	if p := PValue([]float64{1, 2, 3}); math.Abs(p-0.5) > 1e-15 {
		t.Errorf("p = %g, want 2·1/4", p)
	}
}

func TestErrors(t *testing.T) {
	v := []float64{1, 2, 3}
	if _, err := RSA([][]float64{v}, [][]float64{v}, rsa.Spearman, nil); !errors.Is(err, ErrTooFew) {
		t.Errorf("one model: %v", err)
	}
	if _, err := RSA([][]float64{v, v}, [][]float64{{1, 2}}, rsa.Spearman, nil); !errors.Is(err, ErrShape) {
		t.Errorf("bad length: %v", err)
	}
	rs := []Resample{{Stimuli: []int{0, 1, 5}, Subjects: []int{0}}}
	if _, err := RSA([][]float64{v, v}, [][]float64{v}, rsa.Spearman, rs); !errors.Is(err, ErrShape) {
		t.Errorf("stimulus out of range: %v", err)
	}
}

// BenchmarkRSA: 10 models (say each network's committed layer) on a
// 92-stimulus, 15-subject benchmark, 1000 resamples: 45 pairs.
func BenchmarkRSA(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 0))
	m := 92 * 91 / 2
	vec := func() []float64 {
		v := make([]float64, m)
		for i := range v {
			v[i] = rng.Float64()
		}
		return v
	}
	var models, subjects [][]float64
	for range 10 {
		models = append(models, vec())
	}
	for range 15 {
		subjects = append(subjects, vec())
	}
	rs := Draw(92, 15, 1000, 1)
	for b.Loop() {
		if _, err := RSA(models, subjects, rsa.Spearman, rs); err != nil {
			b.Fatal(err)
		}
	}
}
