package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/reweight"
)

// reweightedRSA fits non-negative weights of the layers' RDMs (package
// reweight) over stimulus folds × leave-one-subject-out.
//
// Raw is reweight.Result.Mean (mean over stimulus folds of the mean over
// held-out subjects of compare(weighted RDM, subject) on held-out
// stimuli), SE over stimulus folds, Ceiling the per-fold Nili upper bound
// (the lower one under the policy's lower or leave-one-subject-out bound)
// on the test pairs (averaged), CI a two-way bootstrap of the cells
// (stimulus folds × subject folds). Layer is the layer with the largest
// mean weight. SelectionData (CrossValidated) holds the Values
// "best_single_mean", "best_single_se" (the best single layer chosen on the
// same training data, the baseline reweighting must beat), "gain",
// "gain_se" (paired over stimulus folds), "ceiling_lower", the
// LayerValues "weight" (mean NNLS weight of every layer with one) and the
// set "best_single" (the layer most often best alone). Layers holds each
// layer's plain RSA score on all stimuli.
type reweightedRSA struct{ spacedLayers }

func (reweightedRSA) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if _, err := upperOrLower(b, "reweighted RSA", 0, 0); err != nil {
		return scoring.Score{}, err
	}
	n := l.Stimuli.Len()
	layerRDMs, kept, method, err := e.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return scoring.Score{}, err
	}
	folds, err := stimulusFolds(b, n)
	if err != nil {
		return scoring.Score{}, err
	}
	res, err := reweight.CV(layerRDMs, l.RDMs, reweight.Config{StimulusFolds: folds, Method: method, Intercept: true})
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: reweighted RSA: %w", ErrBadModel, err)
	}
	// Mean weight per layer over cells, and how often each layer was the
	// best single layer on the training data.
	w := make([]float64, len(kept))
	bestVotes := make([]int, len(kept))
	for _, c := range res.Cells {
		for k, v := range c.Weights {
			w[k] += v / float64(len(res.Cells))
		}
		if c.BestLayer >= 0 {
			bestVotes[c.BestLayer]++
		}
	}
	top, best := 0, 0
	for k := range w {
		if w[k] > w[top] {
			top = k
		}
		if bestVotes[k] > bestVotes[best] {
			best = k
		}
	}
	ceil, err := upperOrLower(b, "reweighted RSA", res.CeilingUpper, res.CeilingLower)
	if err != nil {
		return scoring.Score{}, err
	}
	s := scoring.Score{Raw: res.Mean, SE: res.SE, Ceiling: ceil, Layer: kept[top].ID}
	var sb strings.Builder
	subjFolds := "leave-one-subject-out"
	if len(l.RDMs) == 1 {
		subjFolds = "one subject (stimuli held out only)"
	}
	fmt.Fprintf(&sb, "reweighted RSA: NNLS weights of %d layer RDMs fitted on %d stimulus folds (seed %d) × %s, scored on held-out stimuli and subjects; ",
		len(kept), max(b.Metric.Folds, 2), b.Metric.Seed, subjFolds)
	gain := make([]float64, len(res.FoldScores))
	for f := range gain {
		gain[f] = res.FoldScores[f] - res.FoldBestSingle[f]
	}
	g, gse := MeanSE(gain)
	fmt.Fprintf(&sb, "best single layer on the same training data %.4f ± %.4f (most often %s); gain over it %+.4f ± %.4f (paired over stimulus folds); ceiling lower %.4f; mean weights:",
		res.BestSingleMean, res.BestSingleSE, kept[best].ID, g, gse, res.CeilingLower)
	for k, v := range w {
		if v > 0 {
			fmt.Fprintf(&sb, " %s %.4g", kept[k].ID, v)
		}
	}
	s.Selection = sb.String()
	s.Seed = b.Metric.Seed
	s.SelectionData = scoring.Selection{Method: scoring.CrossValidated, Splits: max(b.Metric.Folds, 2), Seed: b.Metric.Seed,
		PerSplit:    append([]float64(nil), res.FoldScores...),
		Values:      map[string]float64{"best_single_mean": res.BestSingleMean, "best_single_se": res.BestSingleSE, "gain": g, "gain_se": gse, "ceiling_lower": res.CeilingLower},
		LayerValues: map[string]map[string]float64{"weight": {}}, Sets: map[string][]string{"best_single": {kept[best].ID}}}
	for k, v := range w {
		if v > 0 {
			s.SelectionData.LayerValues["weight"][kept[k].ID] = v
		}
	}
	// Two-way bootstrap of the cells: stimulus folds and subject folds
	// drawn with replacement.
	nf, ng := len(res.FoldScores), len(res.Cells)/len(res.FoldScores)
	s.CILow, s.CIHigh = e.bootstrap(b.Metric.Seed, func(rr *rand.Rand) float64 {
		var sum float64
		for range nf {
			f := rr.IntN(nf)
			for range ng {
				sum += res.Cells[f*ng+rr.IntN(ng)].Score
			}
		}
		return sum / float64(nf*ng)
	})
	if s.Layers, err = rsaProfile(b, n, layerRDMs, l.RDMs, kept, method, fullCeiling(l)); err != nil {
		return scoring.Score{}, err
	}
	if e.rdms != nil {
		// The reported model RDM: the layers mixed by their mean weights.
		// (Computed only when kept.)
		mix := make([]float64, len(layerRDMs[0]))
		for k, v := range layerRDMs {
			if w[k] > 0 {
				for i, x := range v {
					mix[i] += w[k] * x
				}
			}
		}
		if err := e.putModelRDM(ctx, m, b, n, mix); err != nil {
			return scoring.Score{}, err
		}
	}
	return s, nil
}
