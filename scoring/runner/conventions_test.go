package runner

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/scoringtest"
)

// unitSet is one feature handling's reference values.
type unitSet struct {
	Kept           []int
	Z              []float64
	RDMCorrelation []float64 `json:"rdm_correlation"`
	RDMEuclidean   []float64 `json:"rdm_euclidean"`
}

// unitFixture is testdata/unit_features.json (gen_unit_features.py).
type unitFixture struct {
	N, Q int
	X    []float64
	Sets map[string]unitSet
}

func readUnitFixture(t *testing.T) (unitFixture, linalg.Matrix[float32]) {
	t.Helper()
	data, err := os.ReadFile("testdata/unit_features.json")
	if err != nil {
		t.Fatal(err)
	}
	var f unitFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	f.Sets = map[string]unitSet{}
	for _, name := range []string{benchmarks.FeaturesZScore, benchmarks.FeaturesZScoreReliable} {
		var set unitSet
		if err := json.Unmarshal(raw[name], &set); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Sets[name] = set
	}
	if f.N < 3 || len(f.X) != f.N*f.Q {
		t.Fatalf("fixture has %d values for %d×%d", len(f.X), f.N, f.Q)
	}
	x := linalg.NewMatrix[float32](f.N, f.Q)
	for i, v := range f.X {
		x.Data[i] = float32(v)
	}
	return f, x
}

func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// TestHandleUnitsMatchesNumpy: per-unit z-scoring (population sd,
// constant units dropped) and reliable-unit selection (one-sample t of
// the mean > 1.96 with the sample sd), and the RDMs of the result, agree
// with numpy/scipy.
func TestHandleUnitsMatchesNumpy(t *testing.T) {
	f, x := readUnitFixture(t)
	for _, mode := range []string{benchmarks.FeaturesZScore, benchmarks.FeaturesZScoreReliable} {
		want := f.Sets[mode]
		z, st, err := handleUnits(x, mode)
		if err != nil {
			t.Fatal(err)
		}
		if st.Kept != len(want.Kept) || z.Cols != len(want.Kept) || st.Units != f.Q {
			t.Fatalf("%s: kept %d of %d units (%d columns), numpy keeps %d: %v", mode, st.Kept, st.Units, z.Cols, len(want.Kept), want.Kept)
		}
		if st.Constant != 1 {
			t.Errorf("%s: %d constant units, the fixture has 1", mode, st.Constant)
		}
		if d := maxAbsDiff(z.Data, want.Z); d > 1e-12 {
			t.Errorf("%s: z-scores differ from numpy by %g", mode, d)
		}
		for metric, ref := range map[rdm.Metric][]float64{rdm.Correlation: want.RDMCorrelation, rdm.Euclidean: want.RDMEuclidean} {
			full, err := rdm.Compute(z, metric)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(rdm.Upper(f.N, full), ref); d > 1e-10 {
				t.Errorf("%s %s RDM differs from scipy by %g", mode, metric, d)
			}
		}
		if mode == benchmarks.FeaturesZScoreReliable && !strings.Contains(st.String(), "without a reliably non-zero mean dropped") {
			t.Errorf("the layer's note does not say units were dropped as unreliable: %q", st.String())
		}
	}
	if _, _, err := handleUnits(x, "whiten"); err == nil || !strings.Contains(err.Error(), "zscore") {
		t.Errorf("an unknown feature handling gives %v, want an error naming the known ones", err)
	}
}

// scoreFresh scores l with the full metric table, storing nothing.
func scoreFresh(t *testing.T, m Model, l *benchmarks.Loaded) (scoring.Score, error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Bootstrap = 50
	cfg.Fresh = true
	r, err := NewRunner(cfg, oneBenchmark{l}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(t.Context(), m, []string{l.Benchmark.ID})
	if err != nil {
		return scoring.Score{}, err
	}
	return out[0], nil
}

// nili gives the synthetic RSA benchmark a Nili ceiling with bound, its
// values computed as an import does.
func nili(t *testing.T, l *benchmarks.Loaded, bound ceiling.Bound, transform ceiling.Transform) {
	t.Helper()
	c, err := ceiling.RSACeiling(l.RDMs, rsa.Spearman)
	if err != nil {
		t.Fatal(err)
	}
	loso, _, err := ceiling.LeaveOneSubjectOut(l.RDMs, rsa.Spearman)
	if err != nil {
		t.Fatal(err)
	}
	l.Benchmark.Ceiling = benchmarks.CeilingPolicy{Method: benchmarks.CeilingRSANili, Bound: bound}
	l.Ceiling = benchmarks.Ceiling{Method: benchmarks.CeilingRSANili, Valid: true, Upper: c.Upper, Lower: c.Lower, UpperR2: c.UpperR2, LowerR2: c.LowerR2, LOSO: loso, Bound: bound}
	l.Benchmark.Conventions.Transform = transform
}

// testCeiling is the mean over the benchmark's splits of f on each test
// part's subject RDMs: the ceiling a held-out score reports.
func testCeiling(t *testing.T, l *benchmarks.Loaded, f func(idx []int) float64) float64 {
	t.Helper()
	splits, _, err := partSplits(l.Benchmark, l.Stimuli.Len(), nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, sp := range splits {
		sum += f(sp.Test)
	}
	return sum / float64(len(splits))
}

// TestCeilingBoundAndTransform: the ceiling bound changes the ceiling
// (on the test parts and on all stimuli for the profile) and nothing
// else; the transform forms every ceiled number; the score says which.
func TestCeilingBoundAndTransform(t *testing.T) {
	var base scoring.Score
	for _, tc := range []struct {
		bound     ceiling.Bound
		transform ceiling.Transform
		kind      string
	}{
		{"", "", "upper"},
		{ceiling.BoundLower, "", "lower"},
		{ceiling.BoundLOSO, ceiling.TransformSquaredClipped, "leave-one-subject-out"},
		{ceiling.BoundUpper, ceiling.TransformSquaredClipped, "upper"},
	} {
		m, l, err := scoringtest.Benchmark(t.Context(), benchmarks.MetricRSA, 4)
		if err != nil {
			t.Fatal(err)
		}
		nili(t, l, tc.bound, tc.transform)
		s, err := scoreFresh(t, m, l)
		if err != nil {
			t.Fatal(err)
		}
		name := string(tc.bound) + "/" + string(tc.transform)
		wantT := "ratio"
		if tc.transform != "" {
			wantT = string(tc.transform)
		}
		if want := (scoring.Conventions{Ceiling: tc.kind, Transform: wantT}); s.Conventions != want {
			t.Errorf("%s: conventions %+v, want %+v", name, s.Conventions, want)
		}
		wantCeil := testCeiling(t, l, func(idx []int) float64 {
			sub := make([][]float64, len(l.RDMs))
			for i, v := range l.RDMs {
				sub[i] = subUpper(l.Stimuli.Len(), v, idx)
			}
			c, err := ceiling.RSACeiling(sub, rsa.Spearman)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == "upper" {
				return c.Upper
			}
			return c.Lower // plain-mean pooling: lower is leave-one-subject-out
		})
		if math.Abs(s.Ceiling-wantCeil) > 1e-12 {
			t.Errorf("%s: ceiling %v, want the test parts' %s bound %v", name, s.Ceiling, tc.kind, wantCeil)
		}
		full := l.Ceiling.Upper
		if tc.kind != "upper" {
			full = l.Ceiling.Lower
		}
		apply := func(raw, c float64) float64 {
			v := raw / c
			if tc.transform == ceiling.TransformSquaredClipped {
				v = max(0, min(1, v))
				v *= v
			}
			return v
		}
		if s.Ceiled != apply(s.Raw, s.Ceiling) {
			t.Errorf("%s: ceiled %v, want %v from raw %v and ceiling %v", name, s.Ceiled, apply(s.Raw, s.Ceiling), s.Raw, s.Ceiling)
		}
		for _, ls := range s.Layers {
			if ls.Ceiled != apply(ls.Raw, full) {
				t.Errorf("%s: layer %s ceiled %v, want %v (raw %v over the %s bound on all stimuli %v)", name, ls.Layer, ls.Ceiled, apply(ls.Raw, full), ls.Raw, tc.kind, full)
			}
		}
		if base.Layer == "" {
			base = s
			if s.Ceiled != s.Raw/s.Ceiling {
				t.Errorf("default: ceiled %v is not raw/ceiling %v", s.Ceiled, s.Raw/s.Ceiling)
			}
			continue
		}
		if s.Raw != base.Raw || s.Layer != base.Layer || s.CILow != base.CILow || s.SE != base.SE {
			t.Errorf("%s: the bound changed the raw score or the layer: %v %s, default %v %s", name, s.Raw, s.Layer, base.Raw, base.Layer)
		}
	}
}

// TestSquaredClippedClips: a negative raw score ceils to 0 and one above
// the ceiling to 1 under squared-clipped; under ratio both are kept.
func TestSquaredClippedClips(t *testing.T) {
	b := &benchmarks.Benchmark{}
	if v := ceiledBy(b, -0.2, 0.5); v != -0.4 {
		t.Errorf("ratio of -0.2 over 0.5 is %v", v)
	}
	b.Conventions.Transform = ceiling.TransformSquaredClipped
	for _, c := range []struct{ raw, ceil, want float64 }{{-0.2, 0.5, 0}, {0.6, 0.5, 1}, {0.25, 0.5, 0.25}} {
		if v := ceiledBy(b, c.raw, c.ceil); v != c.want {
			t.Errorf("squared-clipped of %v over %v is %v, want %v", c.raw, c.ceil, v, c.want)
		}
	}
	if v := ceiledBy(b, 0.3, math.NaN()); !math.IsNaN(v) {
		t.Errorf("no ceiling gives %v, want NaN", v)
	}
}

// halvesData makes each subject's two independent triangles of the
// synthetic benchmark's RDM (the subject's RDM plus noise each), and sets
// the subject RDMs to their means, as asymmetric input is read.
func halvesData(l *benchmarks.Loaded, subjects int, noise float64) {
	r := rand.New(rand.NewPCG(16, 2))
	var h [2][][]float64
	var mean [][]float64
	for s := range subjects {
		base := l.RDMs[s%len(l.RDMs)]
		a, b, m := make([]float64, len(base)), make([]float64, len(base)), make([]float64, len(base))
		for k, v := range base {
			a[k], b[k] = v+noise*r.NormFloat64(), v+noise*r.NormFloat64()
			m[k] = (a[k] + b[k]) / 2
		}
		h[0], h[1] = append(h[0], a), append(h[1], b)
		mean = append(mean, m)
	}
	l.Halves, l.RDMs = h, mean
}

// TestHalvesBound: the halves ceiling is computed on each test part from
// the subjects' two triangles restricted to it (one subject suffices),
// and a benchmark asking for it without halves gets a clear error.
func TestHalvesBound(t *testing.T) {
	for _, subjects := range []int{1, 3} {
		m, l, err := scoringtest.Benchmark(t.Context(), benchmarks.MetricRSA, 3)
		if err != nil {
			t.Fatal(err)
		}
		halvesData(l, subjects, 0.05)
		full, _, err := ceiling.Halves(l.Halves[0], l.Halves[1], rsa.Spearman)
		if err != nil {
			t.Fatal(err)
		}
		l.Benchmark.Ceiling = benchmarks.CeilingPolicy{Method: benchmarks.CeilingRSANili, Bound: ceiling.BoundHalves}
		l.Ceiling = benchmarks.Ceiling{Method: benchmarks.CeilingRSANili, Valid: true, Bound: ceiling.BoundHalves, Halves: full}
		s, err := scoreFresh(t, m, l)
		if err != nil {
			t.Fatal(err)
		}
		want := testCeiling(t, l, func(idx []int) float64 {
			a, b := make([][]float64, subjects), make([][]float64, subjects)
			for i := range a {
				a[i], b[i] = subUpper(l.Stimuli.Len(), l.Halves[0][i], idx), subUpper(l.Stimuli.Len(), l.Halves[1][i], idx)
			}
			c, _, err := ceiling.Halves(a, b, rsa.Spearman)
			if err != nil {
				t.Fatal(err)
			}
			return c
		})
		if math.IsNaN(s.Ceiling) || math.Abs(s.Ceiling-want) > 1e-12 {
			t.Errorf("%d subjects: ceiling %v, want the test parts' halves ceiling %v", subjects, s.Ceiling, want)
		}
		if s.Conventions.Ceiling != "halves" {
			t.Errorf("%d subjects: the score says ceiling %q", subjects, s.Conventions.Ceiling)
		}
		for _, ls := range s.Layers {
			if ls.Ceiled != ls.Raw/full {
				t.Errorf("layer %s: ceiled %v, want raw over the full halves ceiling %v", ls.Layer, ls.Ceiled, ls.Raw/full)
			}
		}
		l.Halves = [2][][]float64{}
		if _, err := scoreFresh(t, m, l); err == nil || !strings.Contains(err.Error(), "two triangles") {
			t.Errorf("the halves bound without halves gives %v, want an error saying what is missing", err)
		}
	}
}

// TestFeaturesChangeTheModelRDM: a benchmark with z-scored features scores
// the z-scored units' RDMs, never another benchmark's RDMs of the raw
// units on the same stimuli (the layer-RDM memo is keyed by it), and a
// benchmark whose units all fail the reliability test has no candidate.
func TestFeaturesChangeTheModelRDM(t *testing.T) {
	ctx := t.Context()
	m, raw, err := scoringtest.Benchmark(ctx, benchmarks.MetricRSA, 3)
	if err != nil {
		t.Fatal(err)
	}
	zb := *raw.Benchmark
	zb.ID, zb.Version = zb.ID+".z", zb.Version+".z"
	zb.Conventions.Features = benchmarks.FeaturesZScore
	z := *raw
	z.Benchmark = &zb
	alone := map[string]scoring.Score{}
	for _, l := range []*benchmarks.Loaded{raw, &z} {
		if alone[l.Benchmark.ID], err = scoreFresh(t, m, l); err != nil {
			t.Fatal(err)
		}
	}
	if alone[zb.ID].Conventions.Features != benchmarks.FeaturesZScore || alone[raw.Benchmark.ID].Conventions.Features != "" {
		t.Errorf("features recorded: %q and %q", alone[zb.ID].Conventions.Features, alone[raw.Benchmark.ID].Conventions.Features)
	}
	same := true
	for k := range alone[zb.ID].Layers {
		same = same && alone[zb.ID].Layers[k].Raw == alone[raw.Benchmark.ID].Layers[k].Raw
	}
	if same {
		t.Fatal("z-scoring the units changed no layer's score: the feature handling is not applied")
	}
	// Both in one run, sharing stimuli: each must equal its score alone.
	cfg := DefaultConfig()
	cfg.Bootstrap = 50
	cfg.Fresh = true
	r, err := NewRunner(cfg, twoBenchmarks{raw, &z}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range [][]string{{raw.Benchmark.ID, zb.ID}, {zb.ID, raw.Benchmark.ID}} {
		out, err := r.Run(ctx, m, order)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out {
			if a := alone[s.BenchmarkID]; s.Raw != a.Raw || s.Layers[0].Raw != a.Layers[0].Raw {
				t.Errorf("run %v: %s scored %v (layer 0 %v), alone %v (%v): one benchmark's model RDMs were reused for the other", order, s.BenchmarkID, s.Raw, s.Layers[0].Raw, a.Raw, a.Layers[0].Raw)
			}
		}
	}
	// The synthetic network's units are centred noise: few have a
	// reliably non-zero mean (0, 1, 1, 3, 1 and 0 of 16 per layer), and a
	// layer with fewer than two has no correlation RDM, so it cannot
	// compete: only L003 remains, and the progress says what was dropped.
	zb.Conventions.Features = benchmarks.FeaturesZScoreReliable
	var notes []string
	r, err = NewRunner(cfg, oneBenchmark{&z}, nil, nil, func(e Event) {
		if e.Stage == "scoring" {
			notes = append(notes, e.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(ctx, m, []string{zb.ID})
	if err != nil {
		t.Fatal(err)
	}
	s := out[0]
	if s.Conventions.Features != benchmarks.FeaturesZScoreReliable || len(s.Layers) != 1 || s.Layer != "L003.Conv" {
		t.Errorf("zscore-reliable: features %q, layer %s of %d candidates, want L003.Conv alone", s.Conventions.Features, s.Layer, len(s.Layers))
	}
	if len(notes) != 6 || !strings.Contains(notes[0], "0 of 16 units kept, 16 without a reliably non-zero mean dropped") {
		t.Errorf("progress does not say which units were dropped: %q", notes)
	}
}

// twoBenchmarks opens either of two in-memory benchmarks.
type twoBenchmarks [2]*benchmarks.Loaded

func (b twoBenchmarks) Open(ctx context.Context, ref string) (*benchmarks.Loaded, error) {
	if ref == b[0].Benchmark.ID {
		return b[0], nil
	}
	return oneBenchmark{b[1]}.Open(ctx, ref)
}

// TestConventionsOnEveryMetric: every metric's score records its ceiling
// kind and transform, and a metric refuses a convention it cannot apply
// with an error that says so rather than ignoring it.
func TestConventionsOnEveryMetric(t *testing.T) {
	for kind := range metrics {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			m, l, err := scoringtest.Benchmark(t.Context(), kind, 2)
			if err != nil {
				t.Fatal(err)
			}
			l.Benchmark.Conventions.Transform = ceiling.TransformSquaredClipped
			s, err := scoreFresh(t, m, l)
			if err != nil {
				t.Fatal(err)
			}
			// The synthetic benchmarks have no ceiling policy; the RSA
			// metrics compute the Nili upper bound on their test parts.
			want := scoring.Conventions{Ceiling: "upper", Transform: "squared-clipped"}
			if math.IsNaN(s.Ceiling) {
				want.Ceiling = "none"
			}
			if s.Conventions != want {
				t.Errorf("conventions %+v, want %+v", s.Conventions, want)
			}
			usesUnits := map[benchmarks.MetricKind]bool{benchmarks.MetricRSA: true, benchmarks.MetricReweightedRSA: true,
				benchmarks.MetricTimeResolvedRSA: true, benchmarks.MetricVariancePartitioning: true}
			l.Benchmark.Conventions.Features = benchmarks.FeaturesZScore
			_, err = scoreFresh(t, m, l)
			if usesUnits[kind] && err != nil {
				t.Errorf("features zscore: %v", err)
			}
			if !usesUnits[kind] && (err == nil || !strings.Contains(err.Error(), "does not apply")) {
				t.Errorf("features zscore on %s: %v, want an error saying the metric does not apply it", kind, err)
			}
			l.Benchmark.Conventions.Features = ""

			// The lower bound: a lower ceiling where there is one, said so;
			// ridge encoding (its ceiling is the responses' reliability)
			// refuses it.
			l.Benchmark.Ceiling.Bound = ceiling.BoundLower
			lo, err := scoreFresh(t, m, l)
			switch {
			case kind == benchmarks.MetricRidge:
				if err == nil || !strings.Contains(err.Error(), "does not use") {
					t.Errorf("bound lower on ridge: %v, want an error saying ridge does not use it", err)
				}
			case err != nil:
				t.Errorf("bound lower: %v", err)
			case math.IsNaN(s.Ceiling):
				if !math.IsNaN(lo.Ceiling) || lo.Conventions.Ceiling != "none" {
					t.Errorf("bound lower without a ceiling: %v (%q)", lo.Ceiling, lo.Conventions.Ceiling)
				}
			default:
				if !(lo.Ceiling < s.Ceiling) || lo.Conventions.Ceiling != "lower" || lo.Raw != s.Raw {
					t.Errorf("bound lower: ceiling %v (%q), raw %v; upper %v, raw %v", lo.Ceiling, lo.Conventions.Ceiling, lo.Raw, s.Ceiling, s.Raw)
				}
			}

			// The halves bound needs each subject's two triangles: the
			// synthetic data have none, and the metrics that compute their
			// own Nili bounds cannot use them; each says so.
			l.Benchmark.Ceiling.Bound = ceiling.BoundHalves
			_, err = scoreFresh(t, m, l)
			wantErr := map[benchmarks.MetricKind]string{benchmarks.MetricRSA: "two triangles", benchmarks.MetricRemix: "two triangles",
				benchmarks.MetricReweightedRSA: "cannot compute", benchmarks.MetricFeatureWeightedRSA: "cannot compute",
				benchmarks.MetricTimeResolvedRSA: "cannot compute", benchmarks.MetricRidge: "does not use"}[kind]
			if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
				t.Errorf("bound halves: %v, want an error saying %q", err, wantErr)
			}
		})
	}
}
