package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/scoringtest"
)

// oneBenchmark opens the one in-memory benchmark it holds.
type oneBenchmark struct{ l *benchmarks.Loaded }

func (o oneBenchmark) Open(_ context.Context, ref string) (*benchmarks.Loaded, error) {
	if ref != o.l.Benchmark.ID {
		return nil, fmt.Errorf("no benchmark %s", ref)
	}
	return o.l, nil
}

// scoreWith scores through a runner whose table holds metric alone.
func scoreWith(kind benchmarks.MetricKind, metric Metric) scoringtest.ScoreFunc {
	return func(ctx context.Context, m *scoringtest.Model, l *benchmarks.Loaded) (scoring.Score, error) {
		cfg := DefaultConfig()
		cfg.Bootstrap = 200
		cfg.Fresh = true
		r, err := newRunner(cfg, oneBenchmark{l}, nil, nil, nil, map[benchmarks.MetricKind]Metric{kind: metric})
		if err != nil {
			return scoring.Score{}, err
		}
		out, err := r.Run(ctx, m, []string{l.Benchmark.ID})
		if err != nil {
			return scoring.Score{}, err
		}
		return out[0], nil
	}
}

// firstSplit is the first of the benchmark's seeded splits, as the
// metrics draw them.
func firstSplit(b *benchmarks.Benchmark, n int, labels []string) ([]int, []int, error) {
	splits, _, err := partSplits(b, n, labels, 1)
	if err != nil {
		return nil, nil, err
	}
	return splits[0].Select, splits[0].Test, nil
}

// TestConformance runs the conformance suite on every metric of the table.
func TestConformance(t *testing.T) {
	for kind, metric := range metrics {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			scoringtest.Run(t, kind, scoreWith(kind, metric), firstSplit)
		})
	}
}

// leakyRSA is RSA that chooses the layer on the test part of each split
// and reports it on the selection part: it chooses on the data it
// reports, the leak the suite must catch.
type leakyRSA struct{ rsaMetric }

func (leakyRSA) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	metric, method, err := rdmSettings(b)
	if err != nil {
		return scoring.Score{}, err
	}
	v, err := e.modelRDMs(ctx, m, b.ID, images{l.Stimuli}, layers, metric, "")
	if err != nil {
		return scoring.Score{}, err
	}
	n := l.Stimuli.Len()
	ev := &RSAEvaluator{N: n, Layers: v, Subjects: l.RDMs, Method: method}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3)
	if err != nil {
		return scoring.Score{}, err
	}
	swapped := make([]Split, len(splits))
	for i, sp := range splits {
		swapped[i] = Split{Select: sp.Test, Test: sp.Select}
	}
	cand := make([]int, len(layers))
	for i := range cand {
		cand[i] = i
	}
	sel, err := SelectHeldOut(ev, swapped, cand)
	if err != nil {
		return scoring.Score{}, err
	}
	s := scoring.Score{Layer: layers[sel.Layer].ID, Raw: sel.Raw, SE: sel.SE, Ceiling: sel.Ceiling, Seed: policy.Seed}
	s.SelectionData = heldOut(scoring.HeldOutStimuli, policy, sel, layers)
	s.CILow, s.CIHigh = e.bootstrapDrawn(policy.Seed, rsaSplitStat(ev, swapped, sel.Chosen))
	return s, nil
}

// TestConformanceCatchesLeak: the suite fails a metric that chooses its
// layer on the test stimuli.
func TestConformanceCatchesLeak(t *testing.T) {
	errs := scoringtest.Check(t.Context(), benchmarks.MetricRSA, scoreWith(benchmarks.MetricRSA, leakyRSA{}), firstSplit)
	leak := false
	for _, err := range errs {
		t.Log(err)
		leak = leak || errors.Is(err, scoringtest.ErrLeak)
	}
	if !leak {
		t.Fatalf("the suite passed a metric that selects on the test stimuli (failures: %v)", errs)
	}
}

// TestConformanceDecoyIsStrong: the leak check has power for every metric
// that chooses on held-out splits. Told that the selection part is the
// test part, the suite puts the decoy's signal on the selection part,
// where an honest metric must choose it, and so reports a leak.
func TestConformanceDecoyIsStrong(t *testing.T) {
	selectionAsTest := func(b *benchmarks.Benchmark, n int, labels []string) ([]int, []int, error) {
		sel, test, err := firstSplit(b, n, labels)
		return test, sel, err
	}
	for kind, metric := range metrics {
		if kind.Advanced() && kind != benchmarks.MetricFeatureWeightedRSA && kind != benchmarks.MetricDecoding &&
			kind != benchmarks.MetricRemix && kind != benchmarks.MetricTimeResolvedRSA {
			continue // cross-validated: nothing chosen, no leak check
		}
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			errs := scoringtest.Check(t.Context(), kind, scoreWith(kind, metric), selectionAsTest)
			for _, err := range errs {
				if errors.Is(err, scoringtest.ErrLeak) {
					return
				}
			}
			t.Errorf("the decoy on the selection part was not chosen: the leak check has no power for %s (failures %v)", kind, errs)
		})
	}
}

// failingModel's extraction fails with errBroken.
type failingModel struct{ *scoringtest.Model }

var errBroken = errors.New("broken graph")

func (failingModel) Extract(context.Context, models.Stimuli, []models.Layer, models.Consumer, models.Progress) error {
	return errBroken
}

// TestErrorsReachTheCause: a failure is classed (ErrBadModel) and its
// cause stays reachable with errors.Is through every wrapping.
func TestErrorsReachTheCause(t *testing.T) {
	for _, kind := range []benchmarks.MetricKind{benchmarks.MetricRSA, benchmarks.MetricRidge, benchmarks.MetricDecoding} {
		m, l, err := scoringtest.Benchmark(t.Context(), kind, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Fresh = true
		r, err := NewRunner(cfg, oneBenchmark{l}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Run(t.Context(), failingModel{m}, []string{l.Benchmark.ID})
		if !errors.Is(err, ErrBadModel) || !errors.Is(err, errBroken) {
			t.Errorf("%s: error %v: want both ErrBadModel and the cause", kind, err)
		}
	}
}

// poisonedModel's activations are those of its Model, except that value 3
// of stimulus 1 in every layer is bad.
type poisonedModel struct {
	*scoringtest.Model
	bad float32
}

func (p poisonedModel) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, pr models.Progress) error {
	return p.Model.Extract(ctx, stim, layers, models.ConsumerFunc(func(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
		for i, row := range rows {
			if first+i == 1 && len(row) > 3 {
				row[3] = p.bad
			}
		}
		return c.Consume(ctx, l, first, rows)
	}), pr)
}

// TestNonFiniteActivationsRefused: a NaN or ±Inf activation fails the
// scoring as the model's fault (ErrBadModel), naming the stimulus, the
// activation and its value; finite extremes pass.
func TestNonFiniteActivationsRefused(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		bad  float32
		want string // "" when it must score
	}{
		{float32(math.NaN()), "activation 3 is NaN"},
		{inf, "activation 3 is +Inf"},
		{-inf, "activation 3 is -Inf"},
		{math.MaxFloat32, ""},
		{-math.MaxFloat32, ""},
		{math.SmallestNonzeroFloat32, ""},
	} {
		m, l, err := scoringtest.Benchmark(t.Context(), benchmarks.MetricRidge, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Fresh, cfg.Bootstrap = true, 0
		r, err := NewRunner(cfg, oneBenchmark{l}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Run(t.Context(), poisonedModel{m, c.bad}, []string{l.Benchmark.ID})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("activation %v: %v, want a score", c.bad, err)
		case c.want != "" && (!errors.Is(err, ErrBadModel) || !strings.Contains(fmt.Sprint(err), c.want) || !strings.Contains(fmt.Sprint(err), "stimulus 1")):
			t.Errorf("activation %v: error %v, want ErrBadModel naming stimulus 1 and %q", c.bad, err, c.want)
		}
	}
}
