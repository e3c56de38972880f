// Package varpart partitions the variance of a brain RDM between two or
// three sets of predictor RDMs: how much each set explains uniquely, and
// how much is shared by two or by all of them.
//
// What it answers: does a layer explain brain geometry beyond what a
// low-level model (or an earlier layer, or a categorical model) already
// explains? Use it to compare families of predictors rather than to rank
// networks; the parts are differences of R² values and can be slightly
// negative when predictors suppress each other or out-of-sample fits are
// noisy (Groen et al. 2018 eLife 7:e32962; Lescroart et al. 2015).
//
// Every non-empty union of sets is fitted by ordinary least squares with
// an intercept (as sklearn's LinearRegression) on the RDM vector, and its
// R² is 1 − SSE/SST (sklearn's r2_score). Let f(X) be the R² of the union
// of the sets in X and U the set of all sets. The part shared by exactly
// the sets in S (and none outside) is the Möbius inversion
//
//	part(S) = Σ_{Y ⊆ S} (−1)^{|S|−|Y|} (f(U) − f(U∖Y)),
//
// so unique(A) = f(U) − f(U∖{A}), and with three sets
// shared(A,B only) = f(A∪C) + f(B∪C) − f(C) − f(U) and
// shared(A,B,C) = f(A)+f(B)+f(C) − f(A∪B) − f(A∪C) − f(B∪C) + f(U).
// The parts sum to f(U).
//
// CV holds stimuli out: the fit uses the pairs of training stimuli, the R²
// the pairs of held-out stimuli (pairs across the two are unused), and R²
// values are averaged over folds before partitioning. Fit is the in-sample
// version. The target is one RDM vector: pass the mean over subjects, or
// call once per subject and average the parts.
package varpart

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

var (
	// ErrShape reports mismatched vector lengths, a bad number of sets or
	// bad folds.
	ErrShape = errors.New("varpart: bad shape")
	// ErrNonFinite reports NaN or Inf in an RDM vector.
	ErrNonFinite = errors.New("varpart: non-finite value")
	// ErrSingular reports a rank-deficient design (a predictor that is
	// constant or a combination of others on the training pairs).
	ErrSingular = errors.New("varpart: rank-deficient predictors")
)

// Result holds the R² of every union of sets and the partition.
// Indices are bit masks over the sets: mask 0b011 is sets 0 and 1.
type Result struct {
	Sets int
	// R2[mask] is the R² of the union of the sets in mask (R2[0] = 0); for
	// CV the mean over folds of held-out R².
	R2 []float64
	// Parts[mask] is the variance shared by exactly the sets in mask:
	// Parts[1<<i] is set i's unique part. Parts[0] = 0.
	Parts []float64
	// FoldR2[f][mask] is R2 on fold f (CV only).
	FoldR2 [][]float64
}

// Unique returns set i's unique part.
func (r *Result) Unique(i int) float64 { return r.Parts[1<<i] }

// Shared returns the part shared by exactly the listed sets.
func (r *Result) Shared(sets ...int) float64 {
	mask := 0
	for _, s := range sets {
		mask |= 1 << s
	}
	return r.Parts[mask]
}

// Partition returns the parts from the R² of every union (r2 indexed by
// bit mask over k sets, len 2^k). It panics if len(r2) is not a power of 2.
func Partition(r2 []float64) []float64 {
	if len(r2) < 2 || len(r2)&(len(r2)-1) != 0 {
		panic("varpart: len(r2) is not a power of two")
	}
	full := len(r2) - 1
	g := func(y int) float64 { // f(U) − f(U∖Y)
		if y == 0 {
			return 0
		}
		return r2[full] - r2[full&^y]
	}
	parts := make([]float64, len(r2))
	for s := 1; s <= full; s++ {
		for y := s; ; y = (y - 1) & s { // every subset of s
			sign := 1.0
			if popcount(s^y)%2 == 1 {
				sign = -1
			}
			parts[s] += sign * g(y)
			if y == 0 {
				break
			}
		}
	}
	return parts
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

// Fit computes the in-sample R² of every union of sets and the partition.
// target is the brain RDM vector; sets[i] lists the RDM vectors of set i
// (2 or 3 sets, each non-empty). Inputs are not modified.
func Fit(target []float64, sets [][][]float64) (*Result, error) {
	if err := check(target, sets); err != nil {
		return nil, err
	}
	all := make([]int, len(target))
	for i := range all {
		all[i] = i
	}
	r2, err := unionR2(target, sets, all, all)
	if err != nil {
		return nil, err
	}
	return &Result{Sets: len(sets), R2: r2, Parts: Partition(r2)}, nil
}

// CV computes the R² of every union of sets on held-out stimuli, averaged
// over folds, and its partition. stimulusFolds gives each of the n stimuli
// (target is an n-stimulus RDM vector) its fold 0…K−1, K ≥ 2, every fold
// with at least 3 stimuli.
func CV(target []float64, sets [][][]float64, stimulusFolds []int) (*Result, error) {
	if err := check(target, sets); err != nil {
		return nil, err
	}
	n := int(math.Round((1 + math.Sqrt(1+8*float64(len(target)))) / 2))
	if n*(n-1)/2 != len(target) {
		return nil, fmt.Errorf("%w: target length %d is not n(n−1)/2", ErrShape, len(target))
	}
	if len(stimulusFolds) != n {
		return nil, fmt.Errorf("%w: %d stimulus folds for %d stimuli", ErrShape, len(stimulusFolds), n)
	}
	k := 0
	for i, f := range stimulusFolds {
		if f < 0 {
			return nil, fmt.Errorf("%w: stimulus %d has negative fold %d", ErrShape, i, f)
		}
		k = max(k, f+1)
	}
	if k < 2 {
		return nil, fmt.Errorf("%w: one stimulus fold, need at least 2", ErrShape)
	}
	res := &Result{Sets: len(sets), R2: make([]float64, 1<<len(sets))}
	for f := 0; f < k; f++ {
		var tr, te []int
		for i, ff := range stimulusFolds {
			if ff == f {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		if len(te) < 3 {
			return nil, fmt.Errorf("%w: stimulus fold %d has %d stimuli, need at least 3", ErrShape, f, len(te))
		}
		r2, err := unionR2(target, sets, pairs(n, tr), pairs(n, te))
		if err != nil {
			return nil, fmt.Errorf("stimulus fold %d: %w", f, err)
		}
		res.FoldR2 = append(res.FoldR2, r2)
		for m, v := range r2 {
			res.R2[m] += v / float64(k)
		}
	}
	res.Parts = Partition(res.R2)
	return res, nil
}

// unionR2 fits every union of sets on the train positions and returns its
// R² on the test positions, indexed by mask.
func unionR2(y []float64, sets [][][]float64, train, test []int) ([]float64, error) {
	r2 := make([]float64, 1<<len(sets))
	for mask := 1; mask < len(r2); mask++ {
		var preds [][]float64
		for i, s := range sets {
			if mask&(1<<i) != 0 {
				preds = append(preds, s...)
			}
		}
		v, err := OLSR2(y, preds, train, test)
		if err != nil {
			return nil, fmt.Errorf("sets %b: %w", mask, err)
		}
		r2[mask] = v
	}
	return r2, nil
}

// OLSR2 fits y on the predictor vectors by least squares with an intercept
// using positions train and returns R² = 1 − SSE/SST on positions test
// (SST about the test mean, as sklearn's r2_score).
func OLSR2(y []float64, preds [][]float64, train, test []int) (float64, error) {
	p := len(preds)
	if len(train) <= p+1 {
		return math.NaN(), fmt.Errorf("%w: %d training pairs for %d predictors", ErrShape, len(train), p)
	}
	xm := make([]float64, p)
	var ym float64
	for _, r := range train {
		ym += y[r]
		for j, v := range preds {
			xm[j] += v[r]
		}
	}
	ym /= float64(len(train))
	for j := range xm {
		xm[j] /= float64(len(train))
	}
	x := mat.NewDense(len(train), p, nil)
	yc := mat.NewVecDense(len(train), nil)
	for i, r := range train {
		yc.SetVec(i, y[r]-ym)
		for j, v := range preds {
			x.Set(i, j, v[r]-xm[j])
		}
	}
	var qr mat.QR
	qr.Factorize(x)
	var rr mat.Dense
	qr.RTo(&rr)
	var rmax float64
	for j := 0; j < p; j++ {
		rmax = max(rmax, math.Abs(rr.At(j, j)))
	}
	for j := 0; j < p; j++ {
		if math.Abs(rr.At(j, j)) <= 1e-10*rmax || rmax == 0 {
			return math.NaN(), fmt.Errorf("%w: predictor %d", ErrSingular, j)
		}
	}
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, yc); err != nil {
		return math.NaN(), fmt.Errorf("%w: %w", ErrSingular, err)
	}
	var tm float64
	for _, r := range test {
		tm += y[r]
	}
	tm /= float64(len(test))
	var sse, sst float64
	for _, r := range test {
		pred := ym
		for j, v := range preds {
			pred += beta.AtVec(j) * (v[r] - xm[j])
		}
		sse += (y[r] - pred) * (y[r] - pred)
		sst += (y[r] - tm) * (y[r] - tm)
	}
	if sst == 0 {
		return math.NaN(), fmt.Errorf("%w: constant target on the test pairs", ErrShape)
	}
	return 1 - sse/sst, nil
}

func check(target []float64, sets [][][]float64) error {
	if len(sets) < 2 || len(sets) > 3 {
		return fmt.Errorf("%w: %d predictor sets, need 2 or 3", ErrShape, len(sets))
	}
	if err := finite("target", target); err != nil {
		return err
	}
	for i, s := range sets {
		if len(s) == 0 {
			return fmt.Errorf("%w: predictor set %d is empty", ErrShape, i)
		}
		for j, v := range s {
			if len(v) != len(target) {
				return fmt.Errorf("%w: set %d predictor %d has length %d, target %d", ErrShape, i, j, len(v), len(target))
			}
			if err := finite(fmt.Sprintf("set %d predictor %d", i, j), v); err != nil {
				return err
			}
		}
	}
	return nil
}

func finite(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %s entry %d is %v", ErrNonFinite, what, i, x)
		}
	}
	return nil
}

func pairs(n int, idx []int) []int {
	out := make([]int, 0, len(idx)*(len(idx)-1)/2)
	for a, i := range idx {
		for _, j := range idx[a+1:] {
			out = append(out, i*(2*n-i-1)/2+j-i-1)
		}
	}
	return out
}
