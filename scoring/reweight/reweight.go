// Package reweight implements reweighted RSA: the brain RDM modelled as a
// non-negative linear combination of several model RDMs (typically the
// layers of one network), with the weights fitted on some stimuli and
// subjects and the fit scored on disjoint stimuli and other subjects.
//
// What it answers: how well can a network's representations, allowed to
// be mixed across layers by a small number of non-negative weights,
// account for a brain region's geometry on stimuli and people it was not
// fitted to? Use it when no single layer is expected to match a region
// (Khaligh-Razavi & Kriegeskorte 2014; Storrs et al. 2021, J Cogn
// Neurosci 33:2044), and compare it with BestSingle, the single layer
// chosen on the same training data, to see whether mixing helps.
//
// The procedure (CV): stimuli are dealt into K folds and subjects into G
// folds. For every pair (stimulus fold f, subject fold g), the training
// target is the mean RDM of the subjects outside g on the pairs of stimuli
// both outside f; the weights are the NNLS solution of that target on the
// layer RDMs on the same pairs (optionally with a free intercept, which is
// the same as centring target and predictors). The prediction on the pairs
// of stimuli both inside f is compared (rsa.Compare) with each subject in
// g, and the mean over those subjects is the cell's score. Pairs with one
// stimulus in and one out of f are used by neither side. With a single
// subject fold (G = 1, for instance a group RDM) training and test
// subjects coincide and only stimuli are held out. The reported score is
// the mean over stimulus folds of the mean over subject folds, with the
// standard error over stimulus folds; the ceiling is the Nili noise
// ceiling of all subjects on each fold's test pairs, averaged, whose lower
// bound is the fair reference for held-out subjects.
package reweight

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

var (
	// ErrNonFinite reports a NaN or Inf in an RDM or a system.
	ErrNonFinite = errors.New("reweight: non-finite value")
	// ErrShape reports RDM vectors of mismatched length or a bad fold array.
	ErrShape = errors.New("reweight: bad shape")
	// ErrNoConvergence reports an NNLS problem that exceeded its iterations.
	ErrNoConvergence = errors.New("reweight: NNLS did not converge")
)

// KFold returns the fold (0…k−1) of each of n items, shuffled with a PCG
// seeded (seed, 0) and dealt into k contiguous parts, the first n mod k
// parts one larger (the layout of sklearn's KFold(shuffle=True), not its
// random stream). It panics unless 2 ≤ k ≤ n.
func KFold(n, k int, seed uint64) []int {
	if k < 2 || k > n {
		panic("reweight: KFold needs 2 ≤ k ≤ n")
	}
	perm := rand.New(rand.NewPCG(seed, 0)).Perm(n)
	fold := make([]int, n)
	pos := 0
	for f := 0; f < k; f++ {
		size := n / k
		if f < n%k {
			size++
		}
		for _, i := range perm[pos : pos+size] {
			fold[i] = f
		}
		pos += size
	}
	return fold
}

// UpperIndex is the position of pair (i, j), i < j, in the upper-triangle
// vector of an n×n RDM (row-major, as rdm.Upper).
func UpperIndex(n, i, j int) int { return i*(2*n-i-1)/2 + j - i - 1 }

// Pairs returns the positions in an n-stimulus RDM vector of the pairs
// whose two stimuli are both in idx (idx increasing), in row-major order:
// the RDM of the sub-matrix idx×idx.
func Pairs(n int, idx []int) []int {
	out := make([]int, 0, len(idx)*(len(idx)-1)/2)
	for a, i := range idx {
		for _, j := range idx[a+1:] {
			out = append(out, UpperIndex(n, i, j))
		}
	}
	return out
}

// Gather returns v at positions pos.
func Gather(v []float64, pos []int) []float64 {
	out := make([]float64, len(pos))
	for i, p := range pos {
		out[i] = v[p]
	}
	return out
}

// StimuliFromPairs returns n with n(n−1)/2 == m, or an error.
func StimuliFromPairs(m int) (int, error) {
	n := int(math.Round((1 + math.Sqrt(1+8*float64(m))) / 2))
	if n*(n-1)/2 != m || n < 3 {
		return 0, fmt.Errorf("%w: %d is not the length of an RDM vector of at least 3 stimuli", ErrShape, m)
	}
	return n, nil
}

// Config selects the folds and the comparison of CV.
type Config struct {
	// StimulusFolds gives each stimulus's fold (0…K−1, K ≥ 2, every fold
	// with at least 3 stimuli). Use KFold for seeded folds or pass another
	// tool's folds to reproduce them.
	StimulusFolds []int
	// SubjectFolds gives each subject's fold; nil means leave one subject
	// out (or a single fold when there is one subject).
	SubjectFolds []int
	// Method compares predicted and brain RDMs; "" means Spearman.
	Method rsa.Method
	// Intercept adds a free (unconstrained) constant to the weighted sum.
	Intercept bool
	// SkipBestSingle leaves Cell.BestLayer at −1 and BestSingle at NaN,
	// saving the ranking of every layer on the training pairs of every
	// cell (when the layers are feature components, as in package fwrsa,
	// a "best single component" is no useful baseline).
	SkipBestSingle bool
}

// Cell is the outcome of one (stimulus fold, subject fold) pair.
type Cell struct {
	StimulusFold, SubjectFold int
	// Weights are the non-negative layer weights; Intercept is zero unless
	// Config.Intercept.
	Weights   []float64
	Intercept float64
	// Score is the mean over test subjects of the comparison between the
	// weighted RDM and the subject's RDM on the test pairs (NaN if all
	// weights are zero, so the prediction is constant).
	Score float64
	// BestLayer is the single layer whose RDM compares best with the
	// training target on the training pairs; BestSingle is its score on
	// the test pairs and subjects, the baseline that reweighting must beat.
	BestLayer  int
	BestSingle float64
}

// Result is the outcome of CV.
type Result struct {
	Cells []Cell // stimulus-fold-major
	// Score and BestSingle: per stimulus fold, the mean over subject folds.
	FoldScores, FoldBestSingle []float64
	// Mean ± SE over stimulus folds of FoldScores and FoldBestSingle.
	Mean, SE                     float64
	BestSingleMean, BestSingleSE float64
	// Ceiling of all subjects on each fold's test pairs, averaged over
	// folds (NaN with one subject).
	CeilingUpper, CeilingLower float64
}

// CV runs cross-validated reweighted RSA. layers[l] is the RDM vector
// (upper triangle, as rdm.Upper) of model layer l; subjects[s] is subject
// s's brain RDM vector; all of one length n(n−1)/2. Inputs are not
// modified. It returns an error naming the problem for mismatched lengths,
// bad folds or non-finite values.
func CV(layers, subjects [][]float64, cfg Config) (*Result, error) {
	if len(layers) == 0 || len(subjects) == 0 {
		return nil, fmt.Errorf("%w: %d layers and %d subjects, need at least one of each", ErrShape, len(layers), len(subjects))
	}
	m := len(subjects[0])
	n, err := StimuliFromPairs(m)
	if err != nil {
		return nil, err
	}
	if err := checkVectors("layer", layers, m); err != nil {
		return nil, err
	}
	if err := checkVectors("subject", subjects, m); err != nil {
		return nil, err
	}
	method := cfg.Method
	if method == "" {
		method = rsa.Spearman
	}
	sf, k, err := checkFolds("stimulus", cfg.StimulusFolds, n, 3)
	if err != nil {
		return nil, err
	}
	subjFolds := cfg.SubjectFolds
	if subjFolds == nil {
		subjFolds = make([]int, len(subjects))
		for i := range subjFolds {
			subjFolds[i] = i
		}
	}
	gf, g, err := checkFolds("subject", subjFolds, len(subjects), 1)
	if err != nil {
		return nil, err
	}

	res := &Result{}
	nl := len(layers)
	var ceilU, ceilL float64
	for f := 0; f < k; f++ {
		var trainIdx, testIdx []int
		for i, ff := range sf {
			if ff == f {
				testIdx = append(testIdx, i)
			} else {
				trainIdx = append(trainIdx, i)
			}
		}
		trainPairs, testPairs := Pairs(n, trainIdx), Pairs(n, testIdx)
		// Training design: pairs × layers, centred for the intercept.
		a := linalg.NewMatrix[float64](len(trainPairs), nl)
		colMean := make([]float64, nl)
		for l, v := range layers {
			for r, p := range trainPairs {
				a.Data[r*nl+l] = v[p]
				colMean[l] += v[p]
			}
			colMean[l] /= float64(len(trainPairs))
		}
		if cfg.Intercept {
			for r := 0; r < a.Rows; r++ {
				row := a.Row(r)
				for l := range row {
					row[l] -= colMean[l]
				}
			}
		}
		ata := linalg.NewMatrix[float64](nl, nl)
		linalg.Syrk(true, 1, a, 0, ata)
		linalg.Symmetrize(ata)
		testLayers := make([][]float64, nl)
		trainZ := make([][]float64, nl)
		for l, v := range layers {
			testLayers[l] = Gather(v, testPairs)
			if method != rsa.KendallTauA && !cfg.SkipBestSingle {
				trainZ[l] = standardize(Gather(v, trainPairs), method)
			}
		}
		// Test subjects standardised once per fold (nil when constant).
		var testZ [][]float64
		if method != rsa.KendallTauA {
			testZ = make([][]float64, len(subjects))
			for i, v := range subjects {
				testZ[i] = standardize(Gather(v, testPairs), method)
			}
		}
		if len(subjects) >= 2 {
			test := make([][]float64, len(subjects))
			for s, v := range subjects {
				test[s] = Gather(v, testPairs)
			}
			c, err := ceiling.RSACeiling(test, method)
			if err != nil {
				return nil, fmt.Errorf("ceiling on stimulus fold %d: %w", f, err)
			}
			ceilU += c.Upper
			ceilL += c.Lower
		}
		var foldScore, foldBest float64
		for gg := 0; gg < g; gg++ {
			cell, err := fitCell(layers, subjects, gf, g, gg, trainPairs, testPairs, a, ata, colMean, testLayers, trainZ, testZ, method, cfg)
			if err != nil {
				return nil, fmt.Errorf("stimulus fold %d, subject fold %d: %w", f, gg, err)
			}
			cell.StimulusFold = f
			res.Cells = append(res.Cells, cell)
			foldScore += cell.Score
			foldBest += cell.BestSingle
		}
		res.FoldScores = append(res.FoldScores, foldScore/float64(g))
		res.FoldBestSingle = append(res.FoldBestSingle, foldBest/float64(g))
	}
	res.Mean, res.SE = meanSE(res.FoldScores)
	res.BestSingleMean, res.BestSingleSE = meanSE(res.FoldBestSingle)
	res.CeilingUpper, res.CeilingLower = math.NaN(), math.NaN()
	if len(subjects) >= 2 {
		res.CeilingUpper, res.CeilingLower = ceilU/float64(k), ceilL/float64(k)
	}
	return res, nil
}

func fitCell(layers, subjects [][]float64, gf []int, g, gg int, trainPairs, testPairs []int,
	a, ata linalg.Matrix[float64], colMean []float64, testLayers, trainZ, testZ [][]float64,
	method rsa.Method, cfg Config) (Cell, error) {
	intercept := cfg.Intercept
	nl := len(layers)
	var trainSubj, testSubj []int
	for s, ff := range gf {
		if ff == gg {
			testSubj = append(testSubj, s)
		}
		if ff != gg || g == 1 {
			trainSubj = append(trainSubj, s)
		}
	}
	y := make([]float64, len(trainPairs))
	for _, s := range trainSubj {
		for r, p := range trainPairs {
			y[r] += subjects[s][p]
		}
	}
	var yMean float64
	for r := range y {
		y[r] /= float64(len(trainSubj))
		yMean += y[r]
	}
	yMean /= float64(len(y))
	atb := make([]float64, nl)
	for r := range y {
		yr := y[r]
		if intercept {
			yr -= yMean
		}
		for l, v := range a.Row(r) {
			atb[l] += v * yr
		}
	}
	w, err := NNLSGram(ata, atb)
	if err != nil {
		return Cell{}, err
	}
	cell := Cell{SubjectFold: gg, Weights: w}
	if intercept {
		cell.Intercept = yMean
		for l := range w {
			cell.Intercept -= w[l] * colMean[l]
		}
	}
	pred := make([]float64, len(testPairs))
	for r := range pred {
		pred[r] = cell.Intercept
	}
	for l, wl := range w {
		if wl != 0 {
			for r, v := range testLayers[l] {
				pred[r] += wl * v
			}
		}
	}
	var tests [][]float64
	if testZ == nil {
		tests = make([][]float64, len(testSubj))
		for i, s := range testSubj {
			tests[i] = Gather(subjects[s], testPairs)
		}
	}
	score := func(pred []float64) float64 {
		if testZ == nil {
			return meanCompare(pred, tests, method)
		}
		z := standardize(pred, method)
		if z == nil {
			return math.NaN()
		}
		var sum float64
		for _, s := range testSubj {
			if testZ[s] == nil {
				return math.NaN()
			}
			sum += dot(z, testZ[s]) / float64(len(z))
		}
		return sum / float64(len(testSubj))
	}
	cell.Score = score(pred)

	// The best single layer, chosen on the training pairs and subjects.
	cell.BestLayer = -1
	cell.BestSingle = math.NaN()
	if cfg.SkipBestSingle {
		return cell, nil
	}
	best := math.Inf(-1)
	var yz []float64
	if method != rsa.KendallTauA {
		yz = standardize(y, method)
	}
	for l := range layers {
		var r float64
		if yz != nil {
			if trainZ[l] == nil {
				continue
			}
			r = dot(trainZ[l], yz) / float64(len(yz))
		} else {
			r, err = rsa.Compare(Gather(layers[l], trainPairs), y, method)
			if err != nil {
				continue
			}
		}
		if r > best {
			best, cell.BestLayer = r, l
		}
	}
	if cell.BestLayer >= 0 {
		cell.BestSingle = score(testLayers[cell.BestLayer])
	}
	return cell, nil
}

// meanCompare is the mean over subjects of rsa.Compare(pred, subject); NaN
// if any comparison is undefined (a constant vector).
func meanCompare(pred []float64, subjects [][]float64, m rsa.Method) float64 {
	var sum float64
	for _, v := range subjects {
		r, err := rsa.Compare(pred, v, m)
		if err != nil {
			return math.NaN()
		}
		sum += r
	}
	return sum / float64(len(subjects))
}

// standardize is rsa.Standardize into a new slice; nil for a constant
// or non-finite vector.
func standardize(x []float64, m rsa.Method) []float64 {
	z := make([]float64, len(x))
	if !rsa.Standardize(z, x, m) {
		return nil
	}
	return z
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func meanSE(x []float64) (mean, se float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss/float64(len(x)-1)) / math.Sqrt(float64(len(x)))
}

func checkVectors(what string, vs [][]float64, m int) error {
	for i, v := range vs {
		if len(v) != m {
			return fmt.Errorf("%w: %s %d RDM vector has length %d, want %d", ErrShape, what, i, len(v), m)
		}
		for j, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%w: %s %d RDM vector entry %d is %v", ErrNonFinite, what, i, j, x)
			}
		}
	}
	return nil
}

// checkFolds validates a fold array of n items and returns it with the
// number of folds; every fold needs at least minSize items.
func checkFolds(what string, folds []int, n, minSize int) ([]int, int, error) {
	if len(folds) != n {
		return nil, 0, fmt.Errorf("%w: %d %s folds for %d %ss", ErrShape, len(folds), what, n, what)
	}
	k := 0
	for i, f := range folds {
		if f < 0 {
			return nil, 0, fmt.Errorf("%w: %s %d has negative fold %d", ErrShape, what, i, f)
		}
		k = max(k, f+1)
	}
	size := make([]int, k)
	for _, f := range folds {
		size[f]++
	}
	for f, c := range size {
		if c < minSize {
			return nil, 0, fmt.Errorf("%w: %s fold %d has %d members, need at least %d", ErrShape, what, f, c, minSize)
		}
	}
	if what == "stimulus" && k < 2 {
		return nil, 0, fmt.Errorf("%w: one stimulus fold, need at least 2 to hold stimuli out", ErrShape)
	}
	return folds, k, nil
}
