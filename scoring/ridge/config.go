// Package ridge fits ridge-regression encoding models with cross-validation:
// each target (neuron, voxel) is predicted from the features of a network
// layer, the penalty chosen per target on training data only, and the
// held-out predictions scored by Pearson r.
//
// The model is sklearn's Ridge with fit_intercept=True: features and targets
// are centred with the means of the training part of each fold, the
// intercept is not penalised, and features are not scaled unless
// Config.Standardize asks for it (then by the training standard deviation,
// ddof 0, as sklearn's StandardScaler does; zero-variance features are left
// unscaled).
//
// Two equivalent solvers are used. When there are more features than
// training stimuli (the usual case for network layers) CV works in the
// n×n kernel space: the Gram matrix of X is computed once (in float64: one
// DSYRK when the features are nearly centred, else over centred feature
// chunks), each fold's centred training kernel and test–train cross
// kernel are derived from it algebraically, and one symmetric
// eigendecomposition per fold serves every alpha. Otherwise it works in the
// q×q feature space (one eigendecomposition of the training covariance per
// fold). Neither path forms the q×p primal coefficients.
//
// With leave-one-out selection of few targets (at most about m/(alphas−2)
// of them, or any number with Float64Selection) the kernel path replaces
// the eigendecomposition by a tridiagonal reduction, Kc + 11ᵀ = H·T·Hᵀ
// (LAPACK dsytrd and dorgtr, ~60% of the eigensolver's time), and one
// O(m) factorisation of T + αI per alpha: the leave-one-out denominators,
// the dual coefficients and the predictions follow from H and those
// factors exactly, up to rounding (tri.go). It forgoes alpha compression,
// which needs eigenvalues, hence the limit on targets. On the built-in
// benchmarks it moves 69 of the main job's 11,178 numbers, by at most
// 1.5e-15, and no chosen layer (TestMainJobScoresMatchGolden).
//
// The alpha of each target is chosen on the training part of each outer fold
// only: by exact leave-one-out (InnerFolds 0, the generalised
// cross-validation of sklearn's RidgeCV with alpha_per_target=True, which
// gives the same choices) or by an inner K-fold split (sum of squared
// errors over the inner folds). The selection errors of all alphas are
// computed with one batched matrix product per block of targets, in float32
// unless Config.Float64Selection is set; the final predictions for the
// chosen alpha are always computed in float64 and never depend on that
// setting except through the chosen alpha.
//
// Alpha compression (float32 selection only): every selection quantity is
// linear in the weights 1/(λ_k+α) of the eigenvalues λ_k, and when the
// spectrum is narrow compared with the grid those weight vectors are, to
// 1e-6 relative for every eigenvalue, combinations of a few of them; only
// those alphas then go through the large product and the rest follow by
// combination (checked at run time; otherwise every alpha is computed). On
// random features 4 of 20 alphas suffice; on the wide spectra of network
// activations it usually finds no gain. With few such alphas the squared
// errors of all alphas are summed through the quadratic form in the few
// computed residuals (one float64 product per pair and one GEMM), not by
// forming every alpha's residual.
//
// Parallelism: on two or more processors, two workers fit the folds, each
// with its share of OpenBLAS's threads (linalg.ShareBLAS): one
// diagonalises the next fold while the other fits blocks of targets of the
// folds already diagonalised. An eigendecomposition gains little from a
// second BLAS thread and the code between BLAS calls is serial, so this
// finishes sooner than one BLAS-threaded fold after another. Which worker
// computes a task never changes its result; the number of workers (like
// OpenBLAS's thread count) changes rounding only: predictions agree to
// ~1e-12, and an alpha choice can differ only where two alphas' selection
// errors tie to within their rounding (float32 selection: ~1e-6 relative,
// see Float64Selection).
//
// Fit is the same selection on all stimuli at once, without outer folds:
// sklearn's RidgeCV(alpha_per_target=True), the model to keep when an
// encoding model is fitted on a whole training set to predict new stimuli;
// Predict applies it.
//
// Responses stored targets × stimuli (as benchmarks keep them) go to CVT,
// which reads them in place, block by block, instead of a transposed copy.
//
// Memory: besides the inputs and the outputs, CV holds the n×n Gram matrix,
// the m×m eigenvectors of at most two folds in progress, and per worker
// m×256 float64 target blocks and one scratch slab (~10 MB at m = 800) lent
// in turn to LAPACK and to the selection buffers; X is never copied whole,
// nor is y (blocks of targets are centred, and with CVT gathered, one at a
// time). Nothing is proportional to targets × alphas. With
// DropPredictions the n×p predictions (the largest output) are replaced
// by a few n×256 blocks and, when that is smaller, the decompositions of
// all folds.
package ridge

import (
	"errors"
	"fmt"
	"math"
)

// Errors returned for bad data or configuration; wrapped with details.
var (
	ErrConfig    = errors.New("ridge: invalid configuration")
	ErrShape     = errors.New("ridge: mismatched shapes")
	ErrNonFinite = errors.New("ridge: NaN or Inf in input")
	ErrFolds     = errors.New("ridge: invalid folds")
)

// DefaultAlphas returns the default penalty grid: 19 values log-spaced by
// half decades from 1e-2 to 1e7 (10^(-2+i/2), i = 0…18).
func DefaultAlphas() []float64 {
	a := make([]float64, 19)
	for i := range a {
		a[i] = math.Pow(10, -2+float64(i)/2)
	}
	return a
}

// Config selects the splits and the penalty grid of CV.
type Config struct {
	// Folds is the number of outer folds K (≥ 2). Stimuli are shuffled with
	// Seed and dealt into K contiguous parts as sklearn's KFold(shuffle=True)
	// does (the first n mod K parts one larger). Ignored (may be 0) when
	// FoldOf is set; if both are set they must agree.
	Folds int
	// FoldOf optionally gives the outer fold (0…K-1) of every stimulus, to
	// reproduce another tool's splits. Every id in 0…max must be used.
	FoldOf []int
	// Alphas is the penalty grid; nil means DefaultAlphas. Every value must
	// be positive and finite. Ties in the selection go to the earlier alpha.
	Alphas []float64
	// Seed seeds the outer shuffle (PCG with streams Seed, 0) and the inner
	// one (Seed, 1+fold).
	Seed uint64
	// InnerFolds is the number of inner folds used to choose alpha on each
	// training part; 0 means exact leave-one-out (sklearn RidgeCV).
	InnerFolds int
	// Standardize scales every feature by its training standard deviation.
	Standardize bool
	// Float64Selection computes the alpha-selection errors in float64 and
	// without alpha compression (several times slower). In float32 the
	// errors carry relative rounding of about 1e-6, which can flip the
	// choice between two alphas whose errors differ by less than that.
	Float64Selection bool
	// DropPredictions leaves Result.Predictions empty, for callers that
	// need only the scores: with leave-one-out selection and when the
	// folds' decompositions take less memory than the n×p predictions,
	// every fold is diagonalised first and the targets then go through
	// block by block, all folds of a block before the next, so that only
	// the predictions of the blocks in progress are held (R and FoldR are
	// computed per block). Every other field of the Result is bit for bit
	// the same as without it.
	DropPredictions bool
}

// Validate reports a configuration error, wrapping ErrConfig or ErrFolds.
// Checks that need the data (n, fold sizes) are done by CV.
func (c Config) Validate() error {
	if c.FoldOf == nil && c.Folds < 2 {
		return fmt.Errorf("%w: Folds = %d, need at least 2 (or a FoldOf assignment)", ErrConfig, c.Folds)
	}
	if c.Folds < 0 {
		return fmt.Errorf("%w: Folds = %d is negative", ErrConfig, c.Folds)
	}
	if c.Alphas != nil && len(c.Alphas) == 0 {
		return fmt.Errorf("%w: empty alpha grid", ErrConfig)
	}
	for i, a := range c.Alphas {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("%w: alpha[%d] = %g, every alpha must be positive and finite", ErrConfig, i, a)
		}
	}
	if c.InnerFolds < 0 || c.InnerFolds == 1 {
		return fmt.Errorf("%w: InnerFolds = %d, need 0 (leave-one-out) or at least 2", ErrConfig, c.InnerFolds)
	}
	if c.FoldOf != nil {
		k, err := foldCount(c.FoldOf)
		if err != nil {
			return err
		}
		if c.Folds != 0 && c.Folds != k {
			return fmt.Errorf("%w: Folds = %d but FoldOf uses %d folds", ErrFolds, c.Folds, k)
		}
	}
	return nil
}

func (c Config) alphas() []float64 {
	if c.Alphas == nil {
		return DefaultAlphas()
	}
	return c.Alphas
}

// foldCount checks that fold ids are 0…K-1, each used, and returns K.
func foldCount(foldOf []int) (int, error) {
	k := 0
	for i, f := range foldOf {
		if f < 0 {
			return 0, fmt.Errorf("%w: stimulus %d has negative fold id %d", ErrFolds, i, f)
		}
		k = max(k, f+1)
	}
	if k > len(foldOf) {
		return 0, fmt.Errorf("%w: fold id %d is larger than the number of stimuli %d", ErrFolds, k-1, len(foldOf))
	}
	used := make([]bool, k)
	for _, f := range foldOf {
		used[f] = true
	}
	for f, u := range used {
		if !u {
			return 0, fmt.Errorf("%w: fold id %d is unused (ids must be 0…%d, each used)", ErrFolds, f, k-1)
		}
	}
	if k < 2 {
		return 0, fmt.Errorf("%w: FoldOf uses %d fold, need at least 2", ErrFolds, k)
	}
	return k, nil
}
