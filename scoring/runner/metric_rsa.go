package runner

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// rsaMetric compares every candidate layer's RDM with each subject's RDM
// (mean over subjects), the layer chosen on the selection part of seeded
// splits of the stimuli and scored on the test part. A private benchmark
// scores the layer committed on its partner on all its stimuli.
type rsaMetric struct{ allCandidates }

func (rsaMetric) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	method, err := rsa.ParseMethod(b.Metric.Comparison)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	metric, err := rdm.ParseMetric(b.Metric.Distance)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	layerRDMs, err := e.modelRDMs(ctx, m, b.ID, images{l.Stimuli}, layers, metric, b.Conventions.Features)
	if err != nil {
		return scoring.Score{}, err
	}
	ev, kept, splits, policy, sel, err := rsaSelect(e, l, layerRDMs, layers, method, "on these stimuli")
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	// The per-layer profile: every layer on all stimuli.
	start := time.Now()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	full, err := ev.Subset(all)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	fullCeil := fullCeiling(l)
	s := scoring.Score{Layer: kept[sel.Layer].ID, Selection: b.SelectionPolicy(), Seed: policy.Seed}
	s.SelectionData = heldOut(scoring.HeldOutStimuli, policy, sel, kept)
	for k, ly := range kept {
		v, err := full.Score(k)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: v, Ceiled: ceiledBy(b, v, fullCeil)})
	}
	e.timings.add(stageSelection, start)
	s.Raw, s.SE = sel.Raw, sel.SE
	s.Ceiling = sel.Ceiling
	if len(l.RDMs) < 2 && ev.Bound != ceiling.BoundHalves {
		s.Ceiling = math.NaN()
	}
	s.CILow, s.CIHigh = e.bootstrapDrawn(policy.Seed, rsaSplitStat(ev, splits, sel.Chosen))
	if err := e.putModelRDM(ctx, m, b, n, ev.Layers[sel.Layer]); err != nil {
		return scoring.Score{}, err
	}
	return s, nil
}

// ScoreLayer scores the committed layer on all stimuli.
func (rsaMetric) ScoreLayer(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layer models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	var s scoring.Score
	method, err := rsa.ParseMethod(b.Metric.Comparison)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	metric, err := rdm.ParseMetric(b.Metric.Distance)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	n := l.Stimuli.Len()
	v, err := e.modelRDMs(ctx, m, b.ID, images{l.Stimuli}, []models.Layer{layer}, metric, b.Conventions.Features)
	if err != nil {
		return scoring.Score{}, err
	}
	if v[0] == nil {
		return scoring.Score{}, fmt.Errorf("%w: layer %s has no defined %s RDM on %s's stimuli", ErrBadModel, layer.ID, metric, b.ID)
	}
	per := make([]float64, len(l.RDMs))
	for i, subj := range l.RDMs {
		if per[i], err = rsa.Compare(v[0], subj, method); err != nil {
			return scoring.Score{}, fmt.Errorf("%w: subject %d: %w", ErrBadModel, i, err)
		}
	}
	s.Raw, s.SE = MeanSE(per)
	s.Ceiling = fullCeiling(l)
	// Kept for server-side comparisons; never served for a private benchmark.
	if err := e.putModelRDM(ctx, m, b, n, v[0]); err != nil {
		return scoring.Score{}, err
	}
	ev := &RSAEvaluator{N: n, Layers: v, Subjects: l.RDMs, Method: method, Pool: ceiling.Pool(b.Ceiling.Pool), Bound: b.Ceiling.Bound, Halves: l.Halves}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	s.CILow, s.CIHigh = e.bootstrapDrawn(b.Splits.Seed, rsaSplitStat(ev, []Split{{Test: all}}, []int{0}))
	return s, nil
}

// rsaSelect chooses among layer RDMs (nil: the layer has no defined RDM and
// cannot compete) on the benchmark's held-out splits of its stimuli.
// what says which RDMs, for the error when none is defined.
func rsaSelect(e *Env, l *benchmarks.Loaded, layerRDMs [][]float64, layers []models.Layer, method rsa.Method, what string) (*RSAEvaluator, []models.Layer, []Split, SplitPolicy, Selection, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	bd, err := bound(b)
	if err != nil {
		return nil, nil, nil, SplitPolicy{}, Selection{}, err
	}
	ev := &RSAEvaluator{N: n, Subjects: l.RDMs, Method: method, Pool: ceiling.Pool(b.Ceiling.Pool), Bound: bd, Halves: l.Halves}
	var cand []int
	var kept []models.Layer
	for i, v := range layerRDMs {
		if v != nil {
			cand = append(cand, len(ev.Layers))
			ev.Layers = append(ev.Layers, v)
			kept = append(kept, layers[i])
		}
	}
	if len(cand) == 0 {
		return nil, nil, nil, SplitPolicy{}, Selection{}, fmt.Errorf("%w: no layer gives a defined RDM %s", ErrBadModel, what)
	}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3)
	if err != nil {
		return nil, nil, nil, policy, Selection{}, err
	}
	start := time.Now()
	c0 := e.timings.get().Ceilings
	sel, err := selectHeldOut(ev, splits, cand, e.timings)
	e.timings.addDuration(stageSelection, time.Since(start)-(e.timings.get().Ceilings-c0))
	if err != nil {
		return nil, nil, nil, policy, Selection{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	return ev, kept, splits, policy, sel, nil
}
