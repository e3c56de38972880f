package timersa

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/npy"
)

func readNPY(t testing.TB, name string) *npy.Array {
	a, err := npy.ReadFile(filepath.Join("..", "testdata", "advanced", name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func upperOf(n int, full []float64) []float64 {
	var v []float64
	for i := 0; i < n; i++ {
		v = append(v, full[i*n+i+1:i*n+n]...)
	}
	return v
}

// Reference: simulated data written by testdata/gen_advanced_reference.py
// in the documented (subjects, times, n, n) format, curves from
// scipy.stats.spearmanr and scipy.stats.sem (scipy 1.10.1), ceilings from
// the Nili definition in numpy. Tolerance 1e-12 absolute (correlations
// computed two ways). The simulation builds peaks at 0.14 s (layer 0) and
// 0.30 s (layer 1); the recovered peak must lie within one 0.02 s step.
func TestSimulatedReference(t *testing.T) {
	ra, ta, ma := readNPY(t, "timersa_rdms.npy"), readNPY(t, "timersa_times.npy"), readNPY(t, "timersa_models.npy")
	d, err := FromDense(ra.Shape, ra.Float64(), ta.Float64())
	if err != nil {
		t.Fatal(err)
	}
	n := ma.Shape[1]
	md := ma.Float64()
	layers := [][]float64{upperOf(n, md[:n*n]), upperOf(n, md[n*n:])}
	curves, err := ScoreLayers(d, layers, rsa.Spearman)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "advanced", "timersa.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Curves []struct {
			Subject   [][]float64
			Score, SE []float64
			Peak      int
			PeakTime  float64 `json:"peak_time"`
		}
		CeilingUpper []float64 `json:"ceiling_upper"`
		CeilingLower []float64 `json:"ceiling_lower"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want []float64) {
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("%s[%d] = %.15g, reference %.15g", what, i, got[i], want[i])
			}
		}
	}
	for l, c := range curves {
		w := ref.Curves[l]
		for s := range w.Subject {
			near("subject curve", c.Subject[s], w.Subject[s])
		}
		near("score", c.Score, w.Score)
		near("SE", c.SE, w.SE)
		if c.Peak != w.Peak || c.PeakTime != w.PeakTime {
			t.Errorf("layer %d peak %d (%g s), reference %d (%g s)", l, c.Peak, c.PeakTime, w.Peak, w.PeakTime)
		}
	}
	for l, built := range []float64{0.14, 0.30} {
		if math.Abs(curves[l].PeakTime-built) > 0.02+1e-9 {
			t.Errorf("layer %d peaks at %g s, simulated peak %g s", l, curves[l].PeakTime, built)
		}
	}
	c, err := NoiseCeiling(d, rsa.Spearman)
	if err != nil {
		t.Fatal(err)
	}
	near("ceiling upper", c.Upper, ref.CeilingUpper)
	near("ceiling lower", c.Lower, ref.CeilingLower)
	// Score (one layer) agrees with ScoreLayers, and Kendall's path runs.
	one, err := Score(d, layers[1], rsa.Pearson)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rsa.Compare(layers[1], d.RDMs[2][7], rsa.Pearson)
	if math.Abs(one.Subject[2][7]-r) > 1e-12 {
		t.Errorf("Pearson path %g, rsa.Compare %g", one.Subject[2][7], r)
	}
	k, err := Score(d, layers[0], rsa.KendallTauA)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(k.PeakTime-0.14) > 0.02+1e-9 {
		t.Errorf("Kendall τa peak %g s", k.PeakTime)
	}
}

// A larger simulation (PCG-seeded) on 92 stimuli and 1 ms steps: the peak
// recovered by Score lies within 10 ms of the one built in at 0.123 s.
func TestPeakRecovery(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 4))
	n, ns, nt := 92, 3, 300
	p := n * (n - 1) / 2
	model := make([]float64, p)
	for i := range model {
		model[i] = rng.Float64()
	}
	d := Data{N: n, Times: make([]float64, nt), RDMs: make([][][]float64, ns)}
	for t := range d.Times {
		d.Times[t] = -0.05 + 0.001*float64(t)
	}
	for s := range d.RDMs {
		d.RDMs[s] = make([][]float64, nt)
		for t, tt := range d.Times {
			g := math.Exp(-(tt - 0.123) * (tt - 0.123) / (2 * 0.03 * 0.03))
			v := make([]float64, p)
			for i := range v {
				v[i] = g*model[i] + 2*rng.Float64()
			}
			d.RDMs[s][t] = v
		}
	}
	c, err := Score(d, model, rsa.Spearman)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.PeakTime-0.123) > 0.010 {
		t.Errorf("peak at %g s, built in at 0.123 s", c.PeakTime)
	}
	ci, err := PeakCI(c, d.Times, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !(ci.Lower <= c.PeakTime && c.PeakTime <= ci.Upper) || ci.Upper-ci.Lower > 0.03 {
		t.Errorf("peak %g s outside or far from its interval [%g, %g]", c.PeakTime, ci.Lower, ci.Upper)
	}
	t.Logf("peak %.3f s, 95%% CI [%.3f, %.3f]", c.PeakTime, ci.Lower, ci.Upper)
}

func TestErrors(t *testing.T) {
	full := []float64{0, 1, 2, 1, 0, 3, 2, 3, 0}
	if _, err := FromDense([]int{1, 1, 3, 3}, full, []float64{0, 1}); !errors.Is(err, ErrShape) {
		t.Errorf("times length: %v", err)
	}
	asym := append([]float64(nil), full...)
	asym[1] = 5
	if _, err := FromDense([]int{1, 1, 3, 3}, asym, []float64{0}); !errors.Is(err, ErrShape) {
		t.Errorf("asymmetric: %v", err)
	}
	nan := append([]float64(nil), full...)
	nan[5], nan[7] = math.NaN(), math.NaN()
	if _, err := FromDense([]int{1, 1, 3, 3}, nan, []float64{0}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	two := append(append([]float64(nil), full...), full...)
	if _, err := FromDense([]int{1, 2, 3, 3}, two, []float64{0.1, 0.1}); !errors.Is(err, ErrShape) {
		t.Errorf("times not increasing: %v", err)
	}
	d, err := FromDense([]int{1, 1, 3, 3}, full, []float64{0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Score(d, []float64{1, 1, 1}, rsa.Spearman); !errors.Is(err, ErrConstant) {
		t.Errorf("constant model: %v", err)
	}
}

// BenchmarkScoreLayers: 245 layers against 15 subjects × 100 time points
// of 92-stimulus RDMs (100× the comparisons of the plain RSA benchmark).
func BenchmarkScoreLayers(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 0))
	n, ns, nt := 92, 15, 100
	p := n * (n - 1) / 2
	vec := func() []float64 {
		v := make([]float64, p)
		for i := range v {
			v[i] = rng.Float64()
		}
		return v
	}
	d := Data{N: n, Times: make([]float64, nt), RDMs: make([][][]float64, ns)}
	for t := range d.Times {
		d.Times[t] = float64(t) * 0.01
	}
	for s := range d.RDMs {
		for range nt {
			d.RDMs[s] = append(d.RDMs[s], vec())
		}
	}
	layers := make([][]float64, 245)
	for l := range layers {
		layers[l] = vec()
	}
	for b.Loop() {
		if _, err := ScoreLayers(d, layers, rsa.Spearman); err != nil {
			b.Fatal(err)
		}
	}
}
