package runner

import (
	"context"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/fwrsa"
	"github.com/cortexbench/cortexbench/scoring/reweight"
)

// featureWeightedRSA weights each layer's principal components (package
// fwrsa). The layer is chosen on the selection part of each seeded split
// (its cross-validated score there) and scored by the same
// cross-validation on the disjoint test part. Choosing it from the other
// outer folds' scores instead would leak: every fold's weights are fitted
// on the stimuli of the other folds, so fold scores share pairs.
//
// Per layer, reweight.CV on the squared differences of its first
// Components principal components; Raw is the mean over splits, SE over
// splits, Ceiling the Nili bound of the test parts (upper, or lower for
// the policy's lower and leave-one-subject-out bounds), CI a bootstrap
// of the splits. Layers holds each layer's cross-validated score on all
// stimuli. SelectionData (HeldOutStimuli) has the Values "components" and
// "stimulus_folds".
type featureWeightedRSA struct{ spacedLayers }

func (featureWeightedRSA) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if err := noFeatures(b); err != nil {
		return scoring.Score{}, err
	}
	// The ceiling the policy asks for, from a cross-validation result.
	ceilOf := func(res *reweight.Result) (float64, error) {
		return upperOrLower(b, "feature-weighted RSA", res.CeilingUpper, res.CeilingLower)
	}
	if _, err := upperOrLower(b, "feature-weighted RSA", 0, 0); err != nil {
		return scoring.Score{}, err
	}
	n := l.Stimuli.Len()
	_, method, err := rdmSettings(b)
	if err != nil {
		return scoring.Score{}, err
	}
	folds, err := stimulusFolds(b, n)
	if err != nil {
		return scoring.Score{}, err
	}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	// Components per layer, on all stimuli (unsupervised: no brain data).
	comps := make([][][]float64, len(layers))
	ncomp := make([]int, len(layers))
	err = e.forEachGroup(ctx, m, b.ID, images{l.Stimuli}, layers, func(group []models.Layer, f *features) error {
		for _, ly := range group {
			x := f.data[ly.ID]
			k := min(b.Metric.Components, x.Cols, n-1)
			if c, err := fwrsa.PCComponents(x, k); err == nil {
				comps[pos[ly.ID]], ncomp[pos[ly.ID]] = c, k
			} // else: a constant layer cannot compete (NaN)
			delete(f.data, ly.ID)
		}
		return nil
	})
	if err != nil {
		return scoring.Score{}, err
	}
	cv := func(idx []int, k int) (*reweight.Result, error) {
		if comps[k] == nil {
			return nil, nil
		}
		c := make([][]float64, len(comps[k]))
		for i, v := range comps[k] {
			c[i] = subUpper(n, v, idx)
		}
		subj := make([][]float64, len(l.RDMs))
		for i, v := range l.RDMs {
			subj[i] = subUpper(n, v, idx)
		}
		fo := folds
		if len(idx) != n {
			fo = reweight.KFold(len(idx), max(b.Metric.Folds, 2), b.Metric.Seed)
		}
		res, err := fwrsa.CV(c, subj, reweight.Config{StimulusFolds: fo, Method: method})
		if err != nil {
			return nil, nil // undefined for this layer on this part
		}
		return res, nil
	}
	s := scoring.Score{}
	for k, ly := range layers {
		res, _ := cv(allIndices(n), k)
		if res == nil {
			s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: math.NaN(), Ceiled: math.NaN(), SE: math.NaN()})
			continue
		}
		c, _ := ceilOf(res)
		s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: res.Mean, Ceiled: ceiledBy(b, res.Mean, c), SE: res.SE})
	}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3*max(b.Metric.Folds, 2)) // folds of at least 3
	if err != nil {
		return scoring.Score{}, err
	}
	t, err := splitTable(splits, len(layers), func(part []int, k int) (float64, float64, error) {
		res, _ := cv(part, k)
		if res == nil {
			return math.NaN(), math.NaN(), nil
		}
		c, _ := ceilOf(res)
		return res.Mean, c, nil
	})
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: feature-weighted RSA: %w", ErrBadModel, err)
	}
	sel, err := t.Select1()
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: feature-weighted RSA: %w", ErrBadModel, err)
	}
	s.Raw, s.SE, s.Ceiling, s.Layer = sel.Raw, sel.SE, sel.Ceiling, layers[sel.Layer].ID
	s.CILow, s.CIHigh = e.bootstrap(policy.Seed, meanStat(sel.PerSplit))
	s.Selection = fmt.Sprintf("feature-weighted RSA: NNLS weights of the first %d principal components of each of %d layers, %d stimulus folds (seed %d) × leave-one-subject-out within each part; "+
		"layer chosen on the selection part of %d seeded splits (seed %d), scored on the test part", ncomp[sel.Layer], len(layers), max(b.Metric.Folds, 2), b.Metric.Seed, len(splits), policy.Seed)
	s.SelectionData = heldOut(scoring.HeldOutStimuli, policy, sel, layers)
	s.SelectionData.Values = map[string]float64{"components": float64(ncomp[sel.Layer]), "stimulus_folds": float64(max(b.Metric.Folds, 2))}
	s.Seed = b.Metric.Seed
	return s, nil
}
