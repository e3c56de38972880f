// Package decode predicts a model layer's features (or their principal
// components) from brain responses with cross-validated ridge regression:
// the mirror image of the encoding benchmark.
//
// What it answers: how much of what a layer represents can be read out of
// the recorded neurons or voxels? Encoding asks whether the layer explains
// the brain; decoding asks whether the brain carries the layer's
// information. A layer whose top components are decodable but which
// encodes the brain poorly has extra dimensions the brain lacks, and the
// reverse. Use it next to encoding, with Components set (typically 10–100)
// because raw layers have far more features than stimuli.
//
// CV is ridge.CV with the brain responses (stimuli × neurons) as the
// predictors and the layer's features, or the scores of its first
// Components principal components, as the targets: outer folds over
// stimuli, the penalty chosen per target on the training part, held-out
// Pearson r per target. The components are fitted on all stimuli
// (unsupervised, so no target leaks into the regression; their directions
// use every stimulus, as in the usual PCA-then-decode analyses); PC scores
// are computed in float32 by reduce.PCA.
package decode

import (
	"fmt"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
	"github.com/cortexbench/cortexbench/scoring/ridge"
)

// Config selects the targets and the cross-validation.
type Config struct {
	// Components is the number of principal components of the features to
	// decode; 0 decodes every feature.
	Components int
	// Ridge selects folds, penalties and seed (see ridge.Config).
	Ridge ridge.Config
}

// Result is the outcome of CV.
type Result struct {
	// Ridge holds per-target held-out r, medians, chosen penalties and
	// predictions, with the targets as its columns.
	Ridge *ridge.Result
	// Targets are what was decoded: the features, or their PC scores
	// (stimuli × Components).
	Targets linalg.Matrix[float64]
	// Variance is the variance of each decoded component (nil for raw
	// features), to weight or truncate the per-component scores.
	Variance []float64
}

// PCScores returns the scores (stimuli × k) of the first k principal
// components of features, fitted on all its rows, and their variances.
// The brain side of decoding is the same for every layer, so a runner
// scoring many layers can stack every layer's PCScores side by side and
// make one CV call on the stacked targets: ridge then decomposes the brain
// responses once per fold for all layers (see BenchmarkLayersStacked).
func PCScores[U linalg.Float](features linalg.Matrix[U], k int) (linalg.Matrix[float64], []float64, error) {
	pca, err := reduce.FitPCA(features, k)
	if err != nil {
		return linalg.Matrix[float64]{}, nil, fmt.Errorf("decode: principal components of the features: %w", err)
	}
	x32 := linalg.NewMatrix[float32](features.Rows, features.Cols)
	for i := 0; i < features.Rows; i++ {
		dst, src := x32.Row(i), features.Row(i)
		for j, v := range src {
			dst[j] = float32(v)
		}
	}
	pcs := linalg.NewMatrix[float32](features.Rows, k)
	pca.Transform(pcs, x32)
	out := linalg.NewMatrix[float64](features.Rows, k)
	for i, v := range pcs.Data {
		out.Data[i] = float64(v)
	}
	return out, append([]float64(nil), pca.Variance...), nil
}

// CV decodes features (stimuli × q) from brain (stimuli × neurons).
// Inputs are not modified. Errors wrap ridge's and reduce's sentinels.
func CV[T, U linalg.Float](brain linalg.Matrix[T], features linalg.Matrix[U], cfg Config) (*Result, error) {
	if brain.Rows != features.Rows {
		return nil, fmt.Errorf("decode: %d stimuli of brain responses but %d of features: %w", brain.Rows, features.Rows, ridge.ErrShape)
	}
	res := &Result{}
	if cfg.Components == 0 {
		res.Targets = linalg.NewMatrix[float64](features.Rows, features.Cols)
		for i := 0; i < features.Rows; i++ {
			dst, src := res.Targets.Row(i), features.Row(i)
			for j, v := range src {
				dst[j] = float64(v)
			}
		}
	} else {
		var err error
		res.Targets, res.Variance, err = PCScores(features, cfg.Components)
		if err != nil {
			return nil, err
		}
	}
	r, err := ridge.CV(brain, res.Targets, cfg.Ridge)
	if err != nil {
		return nil, fmt.Errorf("decode: ridge from brain to features: %w", err)
	}
	res.Ridge = r
	return res, nil
}
