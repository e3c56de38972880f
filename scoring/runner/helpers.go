package runner

import (
	"fmt"
	"math"
	"slices"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reweight"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// Helpers shared by the metrics.

// splitPolicy is the benchmark's split policy (DefaultSplitPolicy when it
// names none).
func splitPolicy(b *benchmarks.Benchmark) SplitPolicy {
	p := SplitPolicy{Splits: b.Splits.Count, SelectFraction: b.Splits.SelectionFraction, Seed: b.Splits.Seed}
	if p.Splits == 0 {
		p = DefaultSplitPolicy
	}
	return p
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rowsOf copies the given rows of x.
func rowsOf[T linalg.Float](x linalg.Matrix[T], idx []int) linalg.Matrix[T] {
	out := linalg.NewMatrix[T](len(idx), x.Cols)
	for i, r := range idx {
		copy(out.Row(i), x.Row(r))
	}
	return out
}

// stimulusFolds deals n stimuli into the benchmark's folds, refusing
// folds of fewer than 3 stimuli (a fold's RDM needs 3 pairs).
func stimulusFolds(b *benchmarks.Benchmark, n int) ([]int, error) {
	k := max(b.Metric.Folds, 2)
	if n < 3*k {
		return nil, fmt.Errorf("%w: %s has %d stimuli, too few for %d stimulus folds of at least 3", ErrInternal, b.ID, n, k)
	}
	return reweight.KFold(n, k, b.Metric.Seed), nil
}

// rsaProfile returns each layer's plain RSA score on all stimuli, ceiled
// by ceil under b's transform.
func rsaProfile(b *benchmarks.Benchmark, n int, layerRDMs, subjects [][]float64, layers []models.Layer, method rsa.Method, ceil float64) ([]scoring.LayerScore, error) {
	ev := &RSAEvaluator{N: n, Layers: layerRDMs, Subjects: subjects, Method: method}
	full, err := ev.Subset(allIndices(n))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	out := make([]scoring.LayerScore, len(layers))
	for k, ly := range layers {
		v, err := full.Score(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		out[k] = scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: v, Ceiled: ceiledBy(b, v, ceil)}
	}
	return out, nil
}

// splitTable fills a selection Table over the benchmark's seeded splits
// of n stimuli: for every split, score(part, layer) on the selection part
// for every layer, and on the test part for the layer chosen there only
// (the other test entries stay NaN and are never read). score returns the
// layer's cross-validated score within the part (NaN when undefined) and
// the ceiling on the part (NaN for none), kept for the test parts.
func splitTable(splits []Split, layers int, score func(part []int, layer int) (float64, float64, error)) (Table, error) {
	var sel []float64 // the current split's selection row
	return fillTable(splits, func(_ int, part []int, test bool) ([]float64, float64, error) {
		if !test {
			sel = make([]float64, layers)
			for k := range layers {
				v, _, err := score(part, k)
				if err != nil {
					return nil, 0, err
				}
				sel[k] = v
			}
			return sel, 0, nil
		}
		best, bestV := -1, math.Inf(-1)
		for k, v := range sel {
			if v > bestV { // NaN compares false
				best, bestV = k, v
			}
		}
		if best < 0 {
			return nil, 0, ErrNoLayer
		}
		row := slices.Repeat([]float64{math.NaN()}, layers)
		v, c, err := score(part, best)
		if err != nil {
			return nil, 0, err
		}
		row[best] = v
		return row, c, nil
	})
}

// partSplits draws the benchmark's seeded splits of n stimuli (stratified
// by labels when the benchmark says so), each part at least minPart.
func partSplits(b *benchmarks.Benchmark, n int, labels []string, minPart int) ([]Split, SplitPolicy, error) {
	policy := splitPolicy(b)
	if !b.Splits.StratifyByLabel {
		labels = nil
	}
	splits, err := MakeSplits(n, labels, policy, minPart)
	if err != nil {
		return nil, policy, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	return splits, policy, nil
}

// heldOut is the typed selection of a layer chosen on held-out splits:
// layers are the candidates sel's positions refer to.
func heldOut(method scoring.SelectionMethod, policy SplitPolicy, sel Selection, layers []models.Layer) scoring.Selection {
	out := scoring.Selection{Method: method, Splits: len(sel.PerSplit), Seed: policy.Seed, PerSplit: slices.Clone(sel.PerSplit)}
	for _, c := range sel.Chosen {
		out.Chosen = append(out.Chosen, layers[c].ID)
	}
	return out
}
