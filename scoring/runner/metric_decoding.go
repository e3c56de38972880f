package runner

import (
	"context"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/decode"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/ridge"
)

// decoding predicts each layer's principal components from every
// session's responses (package decode). With one session the layer is
// chosen on the selection part of each seeded split of its stimuli and
// scored on the test part (both by cross-validated ridge within the
// part); with several, on a seeded half of the sessions and scored on the
// rest, as for ridge encoding.
//
// The score of a layer is the mean over folds of the median over
// components of held-out Pearson r. No ceiling (the split-half
// reliability bounds encoding, not decoding). SelectionData
// (HeldOutStimuli or HeldOutSessions) has the Values "components" and
// "folds".
type decoding struct{ spacedLayers }

func (decoding) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if err := noFeatures(b); err != nil {
		return scoring.Score{}, err
	}
	rcfg := ridge.Config{Folds: max(b.Metric.Folds, 2), Alphas: b.Metric.Alphas, Seed: b.Metric.Seed}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	policy := splitPolicy(b)
	s := scoring.Score{Ceiling: math.NaN()}
	method := scoring.HeldOutStimuli
	// full[session][layer]: cross-validated score on all the session's
	// stimuli (the profile, and the table of a multi-session benchmark).
	full := make([][]float64, len(l.Sessions))
	var t Table
	ncomp := b.Metric.Components
	for si, sess := range l.Sessions {
		n := sess.Stimuli.Len()
		brain := linalg.NewMatrix[float64](n, sess.Targets)
		for i := 0; i < sess.Targets; i++ {
			for j := 0; j < n; j++ {
				brain.Data[j*sess.Targets+i] = sess.Responses[i*n+j]
			}
		}
		label := b.ID
		if sess.ID != "" {
			label += " session " + sess.ID
		}
		pcs := make([]linalg.Matrix[float64], len(layers))
		err := e.forEachGroup(ctx, m, label, images{sess.Stimuli}, layers, func(group []models.Layer, f *features) error {
			for _, ly := range group {
				x := f.data[ly.ID]
				k := min(ncomp, x.Cols, n-1)
				if p, _, err := decode.PCScores(x, k); err == nil {
					pcs[pos[ly.ID]] = p
				} // else: a constant layer cannot compete (NaN)
				delete(f.data, ly.ID)
			}
			return nil
		})
		if err != nil {
			return scoring.Score{}, err
		}
		cv := func(idx []int, k int) (float64, float64, error) {
			if pcs[k].Rows == 0 {
				return math.NaN(), math.NaN(), nil
			}
			res, err := ridge.CV(rowsOf(brain, idx), rowsOf(pcs[k], idx), rcfg)
			if err != nil {
				return math.NaN(), math.NaN(), fmt.Errorf("%w: decoding layer %s, %s: %w", ErrBadModel, layers[k].ID, label, err)
			}
			return res.Mean, math.NaN(), nil
		}
		full[si] = make([]float64, len(layers))
		for k := range layers {
			if full[si][k], _, err = cv(allIndices(n), k); err != nil {
				return scoring.Score{}, err
			}
		}
		if len(l.Sessions) == 1 {
			splits, pol, err := partSplits(b, n, sess.Stimuli.Labels(), 3*max(b.Metric.Folds, 2))
			if err != nil {
				return scoring.Score{}, err
			}
			policy = pol
			if t, err = splitTable(splits, len(layers), cv); err != nil {
				return scoring.Score{}, fmt.Errorf("%w: decoding: %w", ErrBadModel, err)
			}
			s.Selection = fmt.Sprintf("decoding: ridge from the responses to the first %d principal components of each of %d layers, %d folds (seed %d) within each part, median r over components; "+
				"layer chosen on the selection part of %d seeded splits (seed %d), scored on the test part", ncomp, len(layers), rcfg.Folds, rcfg.Seed, len(splits), policy.Seed)
		}
	}
	if len(l.Sessions) > 1 {
		splits, err := MakeSplits(len(l.Sessions), nil, policy, 1)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		mean := func(sessions []int) []float64 {
			out := make([]float64, len(layers))
			for k := range out {
				for _, si := range sessions {
					out[k] += full[si][k] / float64(len(sessions))
				}
			}
			return out
		}
		if t, err = fillTable(splits, func(_ int, part []int, _ bool) ([]float64, float64, error) { return mean(part), math.NaN(), nil }); err != nil {
			return scoring.Score{}, fmt.Errorf("%w: decoding: %w", ErrBadModel, err)
		}
		method = scoring.HeldOutSessions
		s.Selection = fmt.Sprintf("decoding: ridge from the responses to the first %d principal components of each of %d layers, %d folds (seed %d), median r over components; "+
			"layer chosen on half of the %d sessions in %d seeded splits (seed %d), scored on the rest", ncomp, len(layers), rcfg.Folds, rcfg.Seed, len(l.Sessions), len(splits), policy.Seed)
	}
	sel, err := t.Select1()
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: decoding: %w", ErrBadModel, err)
	}
	s.Raw, s.SE, s.Layer = sel.Raw, sel.SE, layers[sel.Layer].ID
	s.CILow, s.CIHigh = e.bootstrap(policy.Seed, meanStat(sel.PerSplit))
	s.SelectionData = heldOut(method, policy, sel, layers)
	s.SelectionData.Values = map[string]float64{"components": float64(ncomp), "folds": float64(rcfg.Folds)}
	for k, ly := range layers {
		var v []float64
		for si := range full {
			v = append(v, full[si][k])
		}
		mean, se := MeanSE(v)
		s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: mean, Ceiled: math.NaN(), SE: se})
	}
	s.Seed = b.Metric.Seed
	return s, nil
}
