package runner

import (
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// RSAEvaluator scores model RDMs against subjects' RDMs on any subset of the
// stimuli: the score of a layer is the mean over subjects of the comparison
// between the layer's RDM and the subject's RDM restricted to the subset;
// the ceiling is Bound on the same subset (ceiling.RSABound; NaN with a
// single subject or group RDM), or for BoundHalves each subject's two
// triangles compared on the subset (ceiling.Halves, defined for one
// subject too).
type RSAEvaluator struct {
	N        int         // stimuli
	Layers   [][]float64 // per layer, the model RDM as an upper-triangle vector
	Subjects [][]float64 // per subject, the brain RDM as an upper-triangle vector
	Method   rsa.Method
	Pool     ceiling.Pool  // how the ceiling pools subjects; "" is the plain mean
	Bound    ceiling.Bound // which ceiling; "" is the Nili upper bound
	// Halves are the subjects' two triangles (benchmarks.Loaded.Halves),
	// for BoundHalves.
	Halves [2][][]float64
}

// Subset implements Evaluator.
func (e *RSAEvaluator) Subset(idx []int) (SubsetScorer, error) {
	if len(idx) < 3 {
		return nil, fmt.Errorf("rsa subset: %d stimuli, need at least 3", len(idx))
	}
	s := &rsaSubset{e: e, idx: idx, subj: make([][]float64, len(e.Subjects))}
	for i, v := range e.Subjects {
		s.subj[i] = subUpper(e.N, v, idx)
	}
	if e.Method != rsa.KendallTauA {
		s.z = make([][]float64, len(s.subj))
		for i, v := range s.subj {
			z, err := standardize(v, e.Method)
			if err != nil {
				return nil, fmt.Errorf("subject %d on %d stimuli: %w", i, len(idx), err)
			}
			s.z[i] = z
		}
	}
	return s, nil
}

type rsaSubset struct {
	e    *RSAEvaluator
	idx  []int
	subj [][]float64 // subject upper vectors on the subset
	z    [][]float64 // their standardised (ranked for Spearman) versions
}

// Score returns the mean over subjects of compare(layer RDM, subject RDM).
// Pearson and Spearman are computed as the mean product of standardised
// (ranked) vectors, identical to rsa.Compare up to rounding.
func (s *rsaSubset) Score(layer int) (float64, error) {
	m := subUpper(s.e.N, s.e.Layers[layer], s.idx)
	var sum float64
	if s.z == nil {
		for i, v := range s.subj {
			r, err := rsa.Compare(m, v, s.e.Method)
			if err != nil {
				return math.NaN(), fmt.Errorf("subject %d: %w", i, err)
			}
			sum += r
		}
		return sum / float64(len(s.subj)), nil
	}
	zm, err := standardize(m, s.e.Method)
	if err != nil {
		return math.NaN(), nil // a constant model RDM has no defined correlation: not a candidate
	}
	for _, zs := range s.z {
		var d float64
		for k, x := range zm {
			d += x * zs[k]
		}
		sum += d / float64(len(zm))
	}
	return sum / float64(len(s.z)), nil
}

// Ceiling implements SubsetScorer.
func (s *rsaSubset) Ceiling() (float64, error) {
	if s.e.Bound == ceiling.BoundHalves {
		h := s.e.Halves
		if len(h[0]) == 0 || len(h[0]) != len(h[1]) {
			return math.NaN(), fmt.Errorf("the ceiling bound halves needs each subject's two triangles, and the data have %d and %d (is the RDM set's form split-half-similarity or cv-dissimilarity?)", len(h[0]), len(h[1]))
		}
		a, b := make([][]float64, len(h[0])), make([][]float64, len(h[1]))
		for i := range a {
			a[i], b[i] = subUpper(s.e.N, h[0][i], s.idx), subUpper(s.e.N, h[1][i], s.idx)
		}
		c, _, err := ceiling.Halves(a, b, s.e.Method)
		return c, err
	}
	if len(s.subj) < 2 {
		return math.NaN(), nil
	}
	return ceiling.RSABound(s.subj, s.e.Method, s.e.Pool, s.e.Bound)
}

// subUpper returns the upper-triangle vector of the RDM restricted to idx,
// given the upper-triangle vector v of the full n×n RDM.
func subUpper(n int, v []float64, idx []int) []float64 {
	if len(idx) == n {
		return v
	}
	out := make([]float64, 0, len(idx)*(len(idx)-1)/2)
	for a, i := range idx {
		for _, j := range idx[a+1:] {
			out = append(out, v[upperIndex(n, i, j)])
		}
	}
	return out
}

// upperIndex is the position of pair (i, j), i < j, in an upper-triangle vector.
func upperIndex(n, i, j int) int { return i*(2*n-i-1)/2 + j - i - 1 }

// standardize returns x (ranked for Spearman) centred and scaled by its
// population sd (rsa.Standardize), so that the mean product of two such
// vectors is their correlation.
func standardize(x []float64, m rsa.Method) ([]float64, error) {
	z := make([]float64, len(x))
	if !rsa.Standardize(z, x, m) {
		return nil, fmt.Errorf("constant or non-finite RDM vector")
	}
	return z, nil
}
