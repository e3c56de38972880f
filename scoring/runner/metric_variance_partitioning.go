package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/reweight"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/varpart"
)

// variancePartitioning partitions the held-out R² of the mean brain RDM
// between consecutive depth sets of the layers (package varpart).
//
// Raw is the held-out R² of the union of all sets (mean over stimulus
// folds), SE over folds, no ceiling, CI a bootstrap of the folds.
// SelectionData (CrossValidated) holds every part as a Value ("unique
// early", "shared early+late", ...) and the layers of each set as Sets.
// Layer is the deepest layer of the set with the largest unique part.
// Layers holds each layer's own held-out R².
type variancePartitioning struct{ spacedLayers }

func (variancePartitioning) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	layerRDMs, kept, _, err := e.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return scoring.Score{}, err
	}
	layerRDMs, kept = distinctRDMs(layerRDMs, kept)
	names := b.Metric.Sets
	if len(kept) < len(names) {
		return scoring.Score{}, fmt.Errorf("%w: %d layers with a defined RDM, need at least one per set (%d sets)", ErrBadModel, len(kept), len(names))
	}
	// Consecutive depth parts of (nearly) equal size.
	sets := make([][][]float64, len(names))
	members := make([][]string, len(names))
	for k := range kept {
		si := k * len(names) / len(kept)
		sets[si] = append(sets[si], layerRDMs[k])
		members[si] = append(members[si], kept[k].ID)
	}
	target := make([]float64, len(l.RDMs[0]))
	for _, v := range l.RDMs {
		for i, x := range v {
			target[i] += x / float64(len(l.RDMs))
		}
	}
	folds, err := stimulusFolds(b, n)
	if err != nil {
		return scoring.Score{}, err
	}
	res, err := varpart.CV(target, sets, folds)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: variance partitioning of %d layers: %w (collinear layer RDMs: use fewer layers, e.g. layers: 8)", ErrBadModel, len(kept), err)
	}
	full := len(res.R2) - 1
	perFold := make([]float64, len(res.FoldR2))
	for f, v := range res.FoldR2 {
		perFold[f] = v[full]
	}
	s := scoring.Score{Raw: res.R2[full], Ceiling: math.NaN()}
	_, s.SE = MeanSE(perFold)
	s.CILow, s.CIHigh = e.bootstrap(b.Metric.Seed, meanStat(perFold))
	s.SelectionData = scoring.Selection{Method: scoring.CrossValidated, Splits: len(perFold), Seed: b.Metric.Seed,
		PerSplit: slices.Clone(perFold), Values: map[string]float64{}, Sets: map[string][]string{}}
	var sb strings.Builder
	fmt.Fprintf(&sb, "variance partitioning of the mean RDM of %d subjects, held-out R² over %d stimulus folds (seed %d):", len(l.RDMs), len(perFold), b.Metric.Seed)
	bestUnique := 0
	for mask := 1; mask <= full; mask++ {
		var in []string
		for i, name := range names {
			if mask&(1<<i) != 0 {
				in = append(in, name)
			}
		}
		kind := "shared"
		if len(in) == 1 {
			kind = "unique"
			if res.Parts[mask] > res.Parts[1<<bestUnique] {
				bestUnique = slices.Index(names, in[0])
			}
		}
		fmt.Fprintf(&sb, " %s %s %.4f;", kind, strings.Join(in, "+"), res.Parts[mask])
		s.SelectionData.Values[kind+" "+strings.Join(in, "+")] = res.Parts[mask]
	}
	for i, name := range names {
		fmt.Fprintf(&sb, " set %s = %s;", name, strings.Join(members[i], ","))
		s.SelectionData.Sets[name] = slices.Clone(members[i])
	}
	s.Selection = strings.TrimSuffix(sb.String(), ";")
	s.Layer = members[bestUnique][len(members[bestUnique])-1]
	// Profile: each layer alone, the same folds.
	for k, ly := range kept {
		var r2 []float64
		for f := 0; f < len(perFold); f++ {
			var tr, te []int
			for i, ff := range folds {
				if ff == f {
					te = append(te, i)
				} else {
					tr = append(tr, i)
				}
			}
			v, err := varpart.OLSR2(target, [][]float64{layerRDMs[k]}, reweight.Pairs(n, tr), reweight.Pairs(n, te))
			if err != nil {
				v = math.NaN()
			}
			r2 = append(r2, v)
		}
		mean, se := MeanSE(r2)
		s.Layers = append(s.Layers, scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: mean, Ceiled: math.NaN(), SE: se})
	}
	s.Seed = b.Metric.Seed
	return s, nil
}

// distinctRDMs drops every layer whose RDM is an affine copy of an
// earlier kept one (Pearson r > 1 − 1e-9: an activation that only clips
// or rescales its input, whose RDM would make least squares singular).
func distinctRDMs(rdms [][]float64, layers []models.Layer) ([][]float64, []models.Layer) {
	var outR [][]float64
	var outL []models.Layer
	var z [][]float64
	for k, v := range rdms {
		zk, err := standardize(v, rsa.Pearson)
		if err != nil {
			continue
		}
		dup := false
		for _, zj := range z {
			var d float64
			for i, x := range zk {
				d += x * zj[i]
			}
			if d/float64(len(zk)) > 1-1e-9 {
				dup = true
				break
			}
		}
		if !dup {
			z = append(z, zk)
			outR = append(outR, v)
			outL = append(outL, layers[k])
		}
	}
	return outR, outL
}
