package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/stats"
	"github.com/cortexbench/cortexbench/scoring/timersa"
)

// timeResolvedRSA compares every layer with the brain RDMs at every time;
// the layer and the time are chosen on the selection part of each split.
//
// The layer and the time point are chosen on the selection part of each
// seeded split of stimuli (largest mean-over-subjects score) and scored
// on the test part at that time; Ceiling is the Nili upper bound (the
// lower one under the policy's lower or leave-one-subject-out bound) of
// the test part at that time. SelectionData (HeldOutStimuli) has the Values
// "median_chosen_time", "peak_time" and "peak_score" (the chosen layer's
// full-data peak) and, per split, the chosen layer. Layers holds each
// layer's full-data peak score (SE over subjects at the peak). Seed stays
// 0, as it always has for this metric (the split seed is in
// SelectionData).
type timeResolvedRSA struct{ allCandidates }

func (timeResolvedRSA) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if _, err := upperOrLower(b, "time-resolved RSA", 0, 0); err != nil {
		return scoring.Score{}, err
	}
	n := l.Stimuli.Len()
	layerRDMs, kept, method, err := e.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return scoring.Score{}, err
	}
	data := timersa.Data{N: n, Times: l.Times, RDMs: l.TimeRDMs}
	curves, err := timersa.ScoreLayers(data, layerRDMs, method)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: time-resolved RSA: %w", ErrBadModel, err)
	}
	var ceilCurve timersa.Ceiling
	if len(l.TimeRDMs) >= 2 {
		if ceilCurve, err = timersa.NoiseCeiling(data, method); err != nil {
			return scoring.Score{}, fmt.Errorf("%w: ceiling curve: %w", ErrInternal, err)
		}
	}
	s := scoring.Score{Selection: b.SelectionPolicy()}
	for k, ly := range kept {
		c := curves[k]
		ceil := math.NaN()
		if ceilCurve.Upper != nil {
			ceil, _ = upperOrLower(b, "time-resolved RSA", ceilCurve.Upper[c.Peak], ceilCurve.Lower[c.Peak])
		}
		s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: c.PeakScore, Ceiled: ceiledBy(b, c.PeakScore, ceil), SE: c.SE[c.Peak]})
	}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3)
	if err != nil {
		return scoring.Score{}, err
	}
	sub := func(idx []int) (timersa.Data, [][]float64) {
		d := timersa.Data{N: len(idx), Times: l.Times, RDMs: make([][][]float64, len(l.TimeRDMs))}
		for si, subj := range l.TimeRDMs {
			d.RDMs[si] = make([][]float64, len(subj))
			for t, v := range subj {
				d.RDMs[si][t] = subUpper(n, v, idx)
			}
		}
		ls := make([][]float64, len(layerRDMs))
		for k, v := range layerRDMs {
			ls[k] = subUpper(n, v, idx)
		}
		return d, ls
	}
	type pick struct{ layer, time int }
	var perSplit, ceils []float64
	var picks []pick
	var testSubj [][]float64 // per split, the chosen layer's score per test subject
	votes := map[int]int{}
	for si, sp := range splits {
		d, ls := sub(sp.Select)
		sc, err := timersa.ScoreLayers(d, ls, method)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: split %d selection part: %w", ErrBadModel, si, err)
		}
		best, bestV := pick{-1, -1}, math.Inf(-1)
		for k, c := range sc {
			for t, v := range c.Score {
				if v > bestV {
					best, bestV = pick{k, t}, v
				}
			}
		}
		if best.layer < 0 {
			return scoring.Score{}, fmt.Errorf("%w: split %d: %w", ErrBadModel, si, ErrNoLayer)
		}
		d, ls = sub(sp.Test)
		tc, err := timersa.ScoreLayers(d, [][]float64{ls[best.layer]}, method)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: split %d test part: %w", ErrBadModel, si, err)
		}
		perSplit = append(perSplit, tc[0].Score[best.time])
		per := make([]float64, len(d.RDMs))
		for s := range per {
			per[s] = tc[0].Subject[s][best.time]
		}
		testSubj = append(testSubj, per)
		ceil := math.NaN()
		if len(d.RDMs) >= 2 {
			at := make([][]float64, len(d.RDMs))
			for s := range at {
				at[s] = d.RDMs[s][best.time]
			}
			c, err := ceiling.RSACeiling(at, method)
			if err != nil {
				return scoring.Score{}, fmt.Errorf("%w: split %d test ceiling: %w", ErrInternal, si, err)
			}
			ceil, _ = upperOrLower(b, "time-resolved RSA", c.Upper, c.Lower)
		}
		ceils = append(ceils, ceil)
		picks = append(picks, best)
		votes[best.layer]++
	}
	layer := picks[0].layer
	for k := range kept {
		if votes[k] > votes[layer] {
			layer = k
		}
	}
	s.Raw, s.SE = MeanSE(perSplit)
	s.Ceiling = stats.Mean(ceils)
	s.Layer = kept[layer].ID
	var times []float64
	for _, p := range picks {
		times = append(times, l.Times[p.time])
	}
	c := curves[layer]
	s.Selection += fmt.Sprintf("; layer and time chosen on the selection part: median chosen time %.4g s; full-data peak of %s at %.4g s, score %.4f",
		median(times), s.Layer, c.PeakTime, c.PeakScore)
	s.SelectionData = scoring.Selection{Method: scoring.HeldOutStimuli, Splits: len(splits), Seed: policy.Seed, PerSplit: slices.Clone(perSplit),
		Values: map[string]float64{"median_chosen_time": median(times), "peak_time": c.PeakTime, "peak_score": c.PeakScore}}
	for _, p := range picks {
		s.SelectionData.Chosen = append(s.SelectionData.Chosen, kept[p.layer].ID)
	}
	// Subjects resampled within each split's test part, choices fixed.
	s.CILow, s.CIHigh = e.bootstrap(policy.Seed, func(rr *rand.Rand) float64 {
		var sum float64
		for _, per := range testSubj {
			var m float64
			for range per {
				m += per[rr.IntN(len(per))]
			}
			sum += m / float64(len(per))
		}
		return sum / float64(len(testSubj))
	})
	if err := e.putModelRDM(ctx, m, b, n, layerRDMs[layer]); err != nil {
		return scoring.Score{}, err
	}
	return s, nil
}
