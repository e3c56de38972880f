// Package fwrsa implements feature-weighted RSA: a model RDM built as a
// non-negative weighted sum of per-feature-group RDMs, with the weights
// fitted on training stimuli and the weighted RDM scored on held-out
// stimuli and subjects.
//
// What it answers: could the brain region's geometry be this layer's,
// once the layer's features are allowed different importances? Plain RSA
// weighs every unit equally, so a layer can be penalised for the scale of
// irrelevant units; feature weighting removes that arbitrariness at the
// cost of fitting (Jozwik, Kriegeskorte, Mur 2016, Neuropsychologia
// 83:201; Khaligh-Razavi, Henriksson, Kay, Kriegeskorte 2017, J Math
// Psychol 76:184). Use it per layer with feature groups (channels, spatial
// blocks) or principal components — a few to a hundred weights; one
// weight per unit of a large layer overfits and is slow.
//
// The components are squared Euclidean distances within each group:
// component g of pair (i, j) is Σ_{f∈g} (x_if − x_jf)², so the weighted
// sum Σ_g w_g·component_g is the squared Euclidean distance after scaling
// group g's features by √w_g. The fit is reweight.CV on the components:
// NNLS on the pairs of training stimuli against the mean RDM of training
// subjects, scored on the pairs of test stimuli against held-out subjects
// (see package reweight for the folds and the ceiling).
package fwrsa

import (
	"errors"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
	"github.com/cortexbench/cortexbench/scoring/reweight"
)

var (
	// ErrShape reports a group array that does not match the features.
	ErrShape = errors.New("fwrsa: bad shape")
	// ErrNonFinite reports NaN or Inf in the features.
	ErrNonFinite = errors.New("fwrsa: non-finite value")
)

// Components returns one RDM vector (upper triangle, n(n−1)/2 pairs) per
// feature group: groups[f] ∈ 0…G−1 is feature f's group, −1 leaves it out;
// every group from 0 to the largest must have a feature. x is stimuli ×
// features and is not modified.
func Components[T linalg.Float](x linalg.Matrix[T], groups []int) ([][]float64, error) {
	if len(groups) != x.Cols {
		return nil, fmt.Errorf("%w: %d group labels for %d features", ErrShape, len(groups), x.Cols)
	}
	if x.Rows < 3 {
		return nil, fmt.Errorf("%w: %d stimuli, need at least 3", ErrShape, x.Rows)
	}
	g := 0
	for f, v := range groups {
		if v < -1 {
			return nil, fmt.Errorf("%w: feature %d has group %d", ErrShape, f, v)
		}
		g = max(g, v+1)
	}
	used := make([]bool, g)
	for _, v := range groups {
		if v >= 0 {
			used[v] = true
		}
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("%w: group %d has no features", ErrShape, i)
		}
	}
	for i := 0; i < x.Rows; i++ {
		for f, v := range x.Row(i) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%w: stimulus %d feature %d is %v", ErrNonFinite, i, f, v)
			}
		}
	}
	n := x.Rows
	out := make([][]float64, g)
	for k := range out {
		out[k] = make([]float64, n*(n-1)/2)
	}
	acc := make([]float64, g)
	p := 0
	for i := 0; i < n; i++ {
		ri := x.Row(i)
		for j := i + 1; j < n; j++ {
			rj := x.Row(j)
			for k := range acc {
				acc[k] = 0
			}
			for f, gr := range groups {
				if gr >= 0 {
					d := float64(ri[f]) - float64(rj[f])
					acc[gr] += d * d
				}
			}
			for k, v := range acc {
				out[k][p] = v
			}
			p++
		}
	}
	return out, nil
}

// PCComponents returns the components of the first k principal components
// of x (fitted on all its rows by reduce.FitPCA; PC scores in float32):
// component c of pair (i, j) is (s_ic − s_jc)².
func PCComponents[T linalg.Float](x linalg.Matrix[T], k int) ([][]float64, error) {
	pca, err := reduce.FitPCA(x, k)
	if err != nil {
		return nil, fmt.Errorf("fwrsa: principal components: %w", err)
	}
	x32 := linalg.NewMatrix[float32](x.Rows, x.Cols)
	for i := 0; i < x.Rows; i++ {
		for j, v := range x.Row(i) {
			x32.Data[i*x.Cols+j] = float32(v)
		}
	}
	s := linalg.NewMatrix[float32](x.Rows, k)
	pca.Transform(s, x32)
	groups := make([]int, k)
	for i := range groups {
		groups[i] = i
	}
	return Components(s, groups)
}

// CV fits and scores the weighting of components (from Components or
// PCComponents) against subjects' RDM vectors; it is reweight.CV with
// SkipBestSingle set (a single feature group is no meaningful baseline;
// compare with plain RSA of the layer instead).
func CV(components, subjects [][]float64, cfg reweight.Config) (*reweight.Result, error) {
	cfg.SkipBestSingle = true
	return reweight.CV(components, subjects, cfg)
}
