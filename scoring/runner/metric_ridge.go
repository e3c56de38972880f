package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/scoring/stats"
)

// ridgeConfig is the benchmark's encoding settings.
func ridgeConfig(b *benchmarks.Benchmark) ridge.Config {
	return ridge.Config{Folds: max(b.Metric.Folds, 2), Alphas: b.Metric.Alphas, Seed: b.Metric.Seed}
}

// fitSideBySide calls fit with each layer of group and its features on up
// to k goroutines, and drops the layer's features from f when its fit
// returns; the errors are joined. Each fit must write only what is its
// layer's own (and what it shares under a lock of its own): the results
// are then those of a loop.
func fitSideBySide(k int, group []models.Layer, f *features, fit func(models.Layer, linalg.Matrix[float32]) error) error {
	var mu sync.Mutex
	errs := make([]error, len(group))
	parallelForN(k, len(group), func(i int) {
		ly := group[i]
		mu.Lock()
		x := f.data[ly.ID]
		mu.Unlock()
		errs[i] = fit(ly, x)
		mu.Lock()
		delete(f.data, ly.ID)
		mu.Unlock()
	})
	return errors.Join(errs...)
}

// ridgeLayersAtOnce is how many layers' ridge fits run side by side on a
// session of n stimuli and p targets. One fit keeps two workers busy only
// while both have a fold to diagonalise (5 folds on 2 workers leave one
// idle for the last), and the Gram and the Pearson r between them are
// serial; two fits at once fill those gaps (cowley2023.V4.public's ridge
// fits in the main job: 106 s → 87 s). Only where the fits are small: each
// holds its n×p predictions and its folds' decompositions.
func ridgeLayersAtOnce(n, p int) int {
	if runtime.GOMAXPROCS(0) < 2 || 8*int64(n)*int64(max(n, p)) > 32<<20 {
		return 1
	}
	return 2
}

var layersAtOnce = ridgeLayersAtOnce // a test sets 1 and 2

// sessionScores runs ridge encoding of every session's targets from every
// layer and returns res[session][layer]. Sessions that show the same
// images in the same order (one stimulus set shown to several subjects)
// share one extraction: each layer's features are fitted to each of
// their targets in turn.
func sessionScores(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) ([][]*ridge.Result, error) {
	b := l.Benchmark
	cfg := ridgeConfig(b)
	// Only the scores are kept: block by block, without the predictions.
	cfg.DropPredictions = true
	res := make([][]*ridge.Result, len(l.Sessions))
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	var order []string
	together := map[string][]int{} // stimulus key → its sessions
	for si, sess := range l.Sessions {
		res[si] = make([]*ridge.Result, len(layers))
		k := StimulusKey(sess.Stimuli.Set())
		if together[k] == nil {
			order = append(order, k)
		}
		together[k] = append(together[k], si)
	}
	for _, k := range order {
		group := together[k]
		first := l.Sessions[group[0]]
		n := first.Stimuli.Len()
		label := b.ID
		if first.ID != "" {
			label += " session " + first.ID
		}
		if len(group) > 1 {
			label += fmt.Sprintf(" and %d more sessions of its images", len(group)-1)
		}
		done := 0
		var mu sync.Mutex
		targets := 0
		for _, si := range group {
			targets = max(targets, l.Sessions[si].Targets)
		}
		err := e.forEachGroup(ctx, m, label, images{first.Stimuli}, layers, func(lys []models.Layer, f *features) error {
			// each layer's features fit every session of the group before
			// they are dropped
			return fitSideBySide(layersAtOnce(n, targets), lys, f, func(ly models.Layer, x linalg.Matrix[float32]) error {
				for _, si := range group {
					sess := l.Sessions[si]
					// targets × stimuli as stored, read in place (no transposed copy)
					y := linalg.View(sess.Targets, n, sess.Responses)
					out, err := ridge.CVT(x, y, cfg)
					if err != nil {
						sl := b.ID
						if sess.ID != "" {
							sl += " session " + sess.ID
						}
						return fmt.Errorf("%w: ridge on layer %s, %s: %w", ErrBadModel, ly.ID, sl, err)
					}
					mu.Lock()
					res[si][pos[ly.ID]] = out
					done++
					e.progress(Event{Model: m.Name(), Benchmark: label, Stage: "scoring", Done: done, Total: len(layers) * len(group), Message: "layer " + ly.ID})
					mu.Unlock()
				}
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ridgeMetric predicts every target from a layer's features by ridge
// regression, the penalty chosen per target by inner cross-validation
// (package ridge). The layer is chosen on seeded splits of the sessions
// (several) or of the stimuli (one); a private benchmark scores the layer
// committed on its partner on all its data.
type ridgeMetric struct{ ridgeCandidates }

// Score scores a public encoding benchmark. With several sessions
// the layer is chosen on a seeded half of the sessions and scored on the
// other half (sessions have disjoint images and neurons); with one, on
// seeded halves of its stimuli.
func (ridgeMetric) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if err := ridgeConventions(b); err != nil {
		return scoring.Score{}, err
	}
	policy := splitPolicy(b)
	ceil := math.NaN()
	if l.Ceiling.Valid {
		ceil = l.Ceiling.Reliability
	}
	s := scoring.Score{Selection: b.SelectionPolicy(), Seed: policy.Seed}
	if len(l.Sessions) >= 2 {
		res, err := sessionScores(ctx, e, m, l, layers)
		if err != nil {
			return scoring.Score{}, err
		}
		splits, err := MakeSplits(len(l.Sessions), nil, policy, 1)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		t, err := fillTable(splits, func(_ int, part []int, _ bool) ([]float64, float64, error) {
			return meanOver(res, part, len(layers)), ceil, nil
		})
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: %w", ErrBadModel, err)
		}
		sel, err := t.Select1()
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: %w", ErrBadModel, err)
		}
		s.Layer, s.Raw, s.SE, s.Ceiling = layers[sel.Layer].ID, sel.Raw, sel.SE, ceil
		s.Selection = fmt.Sprintf("%d seeded splits of the %d sessions (seed %d): chosen on half, scored on the rest", policy.Splits, len(l.Sessions), policy.Seed)
		s.SelectionData = heldOut(scoring.HeldOutSessions, policy, sel, layers)
		all := make([]int, len(l.Sessions))
		for i := range all {
			all[i] = i
		}
		profile := meanOver(res, all, len(layers))
		for k, ly := range layers {
			s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: profile[k], Ceiled: ceiledBy(b, profile[k], ceil)})
		}
		s.CILow, s.CIHigh = e.bootstrap(policy.Seed, sessionStat(res, splitSessions(splits), sel.Chosen))
		return s, nil
	}
	return ridgeStimulusSplits(ctx, e, m, l, layers, ceil, s)
}

// meanOver returns, per layer, the mean over the given sessions of the
// session's cross-validated score (mean over folds of the median r).
func meanOver(res [][]*ridge.Result, sessions []int, layers int) []float64 {
	out := make([]float64, layers)
	for k := range out {
		var v []float64
		for _, s := range sessions {
			v = append(v, res[s][k].Mean)
		}
		out[k] = stats.Mean(v)
	}
	return out
}

// ridgeStimulusSplits chooses the layer on seeded halves of one session's
// stimuli: per split, ridge CV within the selection part picks the layer,
// ridge CV within the test part scores it.
func ridgeStimulusSplits(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer, ceil float64, s scoring.Score) (scoring.Score, error) {
	b := l.Benchmark
	sess := l.Sessions[0]
	n := sess.Stimuli.Len()
	cfg := ridgeConfig(b)
	splits, policy, err := partSplits(b, n, sess.Stimuli.Labels(), 2*cfg.Folds)
	if err != nil {
		return scoring.Score{}, err
	}
	// Each layer's cross-validated score within each part, [split][layer],
	// filled while the layer's features are held.
	selScore, testScore := make([][]float64, len(splits)), make([][]float64, len(splits))
	for i := range splits {
		selScore[i] = make([]float64, len(layers))
		testScore[i] = make([]float64, len(layers))
	}
	yt := linalg.NewMatrix[float64](n, sess.Targets)
	for i := 0; i < sess.Targets; i++ {
		for j := 0; j < n; j++ {
			yt.Data[j*sess.Targets+i] = sess.Responses[i*n+j]
		}
	}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	full := make([]*ridge.Result, len(layers))
	testRes := make([][]*ridge.Result, len(splits)) // [split][layer]
	for i := range testRes {
		testRes[i] = make([]*ridge.Result, len(layers))
	}
	err = e.forEachGroup(ctx, m, b.ID, images{sess.Stimuli}, layers, func(group []models.Layer, f *features) error {
		// each layer writes only its own column k
		return fitSideBySide(layersAtOnce(n, sess.Targets), group, f, func(ly models.Layer, x linalg.Matrix[float32]) error {
			k := pos[ly.ID]
			res, err := ridge.CV(x, yt, cfg)
			if err != nil {
				return fmt.Errorf("%w: ridge on layer %s: %w", ErrBadModel, ly.ID, err)
			}
			full[k] = res
			for si, sp := range splits {
				for part, idx := range [][]int{sp.Select, sp.Test} {
					res, err := ridge.CV(rowsOf(x, idx), rowsOf(yt, idx), cfg)
					if err != nil {
						return fmt.Errorf("%w: ridge on layer %s, split %d: %w", ErrBadModel, ly.ID, si, err)
					}
					res.Predictions = linalg.Matrix[float64]{}
					if part == 0 {
						selScore[si][k] = res.Mean
					} else {
						testScore[si][k] = res.Mean
						testRes[si][k] = res
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return scoring.Score{}, err
	}
	t, err := fillTable(splits, func(si int, _ []int, test bool) ([]float64, float64, error) {
		if test {
			return testScore[si], ceil, nil
		}
		return selScore[si], 0, nil
	})
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	sel, err := t.Select1()
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	s.Layer, s.Raw, s.SE, s.Ceiling = layers[sel.Layer].ID, sel.Raw, sel.SE, ceil
	for k, ly := range layers {
		s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: full[k].Mean, Ceiled: ceiledBy(b, full[k].Mean, ceil), SE: full[k].SE})
	}
	s.SelectionData = heldOut(scoring.HeldOutStimuli, policy, sel, layers)
	s.CILow, s.CIHigh = e.bootstrap(policy.Seed, targetStat(testRes, sel.Chosen))
	return s, nil
}

// ScoreLayer scores the committed layer on every session.
func (ridgeMetric) ScoreLayer(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layer models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if err := ridgeConventions(b); err != nil {
		return scoring.Score{}, err
	}
	var s scoring.Score
	res, err := sessionScores(ctx, e, m, l, []models.Layer{layer})
	if err != nil {
		return scoring.Score{}, err
	}
	per := make([]float64, len(res))
	for i := range res {
		per[i] = res[i][0].Mean
	}
	s.Raw, s.SE = MeanSE(per)
	if len(per) == 1 {
		s.SE = res[0][0].SE
	}
	s.Ceiling = math.NaN()
	if l.Ceiling.Valid {
		s.Ceiling = l.Ceiling.Reliability
	}
	all := make([]int, len(res))
	for i := range all {
		all[i] = i
	}
	s.CILow, s.CIHigh = e.bootstrap(b.Metric.Seed, sessionStat(res, [][]int{all}, []int{0}))
	return s, nil
}

// ridgeConventions refuses the conventions ridge encoding does not apply:
// feature handling (the regression standardises its own features) and a
// ceiling bound (its ceiling is the responses' split-half reliability).
func ridgeConventions(b *benchmarks.Benchmark) error {
	if err := noFeatures(b); err != nil {
		return err
	}
	return onlyUpper(b)
}
