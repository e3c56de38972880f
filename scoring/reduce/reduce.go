// Package reduce shrinks wide layer activations to a few dimensions before
// regression: PCA fitted on one set of stimuli (reference images) and
// applied to another, and Gaussian random projection. Both implement
// Reducer, which works on float32 mini-batches so a layer can be reduced as
// its activations arrive, without holding every image.
//
// PCA matches sklearn's PCA(svd_solver="full"): features centred with the
// reference means, no whitening, components ordered by decreasing variance,
// signs fixed as sklearn's svd_flip does (the largest-magnitude reference
// score of each component is positive). It is computed exactly, from the
// n×n Gram matrix of the centred reference set when n ≤ q (accumulated in
// float64 over feature chunks, so q = 10^6 needs n² + k·q memory, never q²)
// or from the q×q covariance otherwise. Through the Gram, a component's
// relative accuracy is about 1e-16 times the ratio of the largest variance
// to its own, ample for the leading components kept for regression.
// FitPCARandomized (Halko et al. 2011) fits reference sets too large for an
// n×n Gram in O((n+q)·(k+p)) memory.
package reduce

import (
	"errors"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// Reducer maps rows of q features to OutDim features.
type Reducer interface {
	OutDim() int
	// Transform writes the reduced rows of x into dst (x.Rows × OutDim).
	// It panics if the shapes do not fit; NaNs in x propagate to dst.
	Transform(dst, x linalg.Matrix[float32])
}

// Errors for bad data, wrapped with details.
var (
	ErrShape     = errors.New("reduce: bad shape")
	ErrNonFinite = errors.New("reduce: NaN or Inf in input")
	ErrRank      = errors.New("reduce: fewer informative directions than components")
)

// chunkCols is the feature-chunk width of the float64 accumulations.
const chunkCols = 1024

// PCA is a fitted principal component projection.
type PCA struct {
	Mean       []float64              // q reference means
	Components linalg.Matrix[float32] // k×q, unit rows, by decreasing variance
	// Variance holds the variance along each component (ddof 1), sklearn's
	// explained_variance_.
	Variance []float64
}

// OutDim returns the number of components.
func (p *PCA) OutDim() int { return p.Components.Rows }

// FitPCA fits k components on the rows (stimuli) of x. It returns an error
// wrapping ErrShape when k is not in 1…min(n,q) or n < 2, ErrNonFinite for
// NaN/Inf, and ErrRank when the centred data have fewer than k nonzero
// directions.
func FitPCA[T linalg.Float](x linalg.Matrix[T], k int) (*PCA, error) {
	n, q := x.Rows, x.Cols
	if n < 2 || q < 1 {
		return nil, fmt.Errorf("%w: PCA needs at least 2 stimuli and 1 feature, got %d×%d", ErrShape, n, q)
	}
	if k < 1 || k > min(n, q) {
		return nil, fmt.Errorf("%w: %d components requested from %d×%d data (need 1…%d)", ErrShape, k, n, q, min(n, q))
	}
	mean, err := columnMeans(x)
	if err != nil {
		return nil, err
	}
	p := &PCA{Mean: mean, Components: linalg.NewMatrix[float32](k, q), Variance: make([]float64, k)}
	// scores (n×k) of the reference set, for the sign convention.
	scores := linalg.NewMatrix[float64](n, k)
	var lambda []float64
	if n <= q {
		g := linalg.NewMatrix[float64](n, n)
		forChunks(x, mean, func(c0 int, xc linalg.Matrix[float64]) {
			linalg.Syrk(false, 1, xc, 1, g)
		})
		lambda = make([]float64, n)
		if err := linalg.SymEig(g, lambda); err != nil {
			return nil, fmt.Errorf("reduce: PCA: %w", err)
		}
		if err := checkRank(lambda, k); err != nil {
			return nil, err
		}
		// Eigenvector u of the Gram with eigenvalue λ: scores s·u (s = √λ),
		// component Xcᵀu/s.
		u := linalg.NewMatrix[float64](n, k)
		for i := range n {
			for c := range k {
				u.Data[i*k+c] = g.At(i, n-1-c)
			}
		}
		cmp := linalg.NewMatrix[float64](k, chunkCols)
		forChunks(x, mean, func(c0 int, xc linalg.Matrix[float64]) {
			w := xc.Cols
			cw := cmp.Slice(0, k, 0, w)
			linalg.Gemm(true, false, 1, u, xc, 0, cw)
			for c := range k {
				inv := 1 / math.Sqrt(lambda[n-1-c])
				dst := p.Components.Row(c)[c0 : c0+w]
				for j, v := range cw.Row(c) {
					dst[j] = float32(v * inv)
				}
			}
		})
		for i := range n {
			for c := range k {
				scores.Data[i*k+c] = u.At(i, c) * math.Sqrt(lambda[n-1-c])
			}
		}
	} else {
		xc := linalg.NewMatrix[float64](n, q)
		for i := range n {
			for j, v := range x.Row(i) {
				xc.Data[i*q+j] = float64(v) - mean[j]
			}
		}
		cov := linalg.NewMatrix[float64](q, q)
		linalg.Syrk(true, 1, xc, 0, cov)
		lambda = make([]float64, q)
		if err := linalg.SymEig(cov, lambda); err != nil {
			return nil, fmt.Errorf("reduce: PCA: %w", err)
		}
		if err := checkRank(lambda, k); err != nil {
			return nil, err
		}
		v := linalg.NewMatrix[float64](q, k)
		for j := range q {
			for c := range k {
				v.Data[j*k+c] = cov.At(j, q-1-c)
				p.Components.Data[c*q+j] = float32(cov.At(j, q-1-c))
			}
		}
		linalg.Gemm(false, false, 1, xc, v, 0, scores)
	}
	m := len(lambda)
	for c := range k {
		p.Variance[c] = lambda[m-1-c] / float64(n-1)
	}
	flipSigns(p, scores)
	return p, nil
}

// columnMeans returns the mean of every column of x, refusing NaN and Inf.
func columnMeans[T linalg.Float](x linalg.Matrix[T]) ([]float64, error) {
	mean := make([]float64, x.Cols)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%w: %g at stimulus %d, feature %d", ErrNonFinite, f, i, j)
			}
			mean[j] += f
		}
	}
	for j := range mean {
		mean[j] /= float64(x.Rows)
	}
	return mean, nil
}

// flipSigns applies sklearn's svd_flip(u_based_decision=True): each
// component's sign makes its largest-magnitude reference score positive.
func flipSigns(p *PCA, scores linalg.Matrix[float64]) {
	for c := range p.Components.Rows {
		bi, bv := 0, -1.0
		for i := range scores.Rows {
			if a := math.Abs(scores.At(i, c)); a > bv {
				bi, bv = i, a
			}
		}
		if scores.At(bi, c) < 0 {
			for j, v := range p.Components.Row(c) {
				p.Components.Row(c)[j] = -v
			}
		}
	}
}

// checkRank refuses components with a zero (relative to rounding) variance:
// their direction is arbitrary.
func checkRank(lambda []float64, k int) error {
	m := len(lambda)
	top := lambda[m-1]
	tol := float64(m) * 1e-13 * top // rounding level of the eigensolver
	if top <= 0 || lambda[m-k] <= tol {
		r := 0
		for _, l := range lambda {
			if l > tol {
				r++
			}
		}
		return fmt.Errorf("%w: the centred data have rank %d < %d components", ErrRank, r, k)
	}
	return nil
}

// forChunks calls f with the centred float64 copy of every feature chunk.
func forChunks[T linalg.Float](x linalg.Matrix[T], mean []float64, f func(c0 int, xc linalg.Matrix[float64])) {
	n, q := x.Rows, x.Cols
	cw := min(chunkCols, q)
	buf := linalg.NewMatrix[float64](n, cw)
	for c0 := 0; c0 < q; c0 += cw {
		w := min(cw, q-c0)
		b := buf.Slice(0, n, 0, w)
		for i := range n {
			src, dst := x.Row(i)[c0:c0+w], b.Row(i)
			for j, v := range src {
				dst[j] = float64(v) - mean[c0+j]
			}
		}
		f(c0, b)
	}
}

// Transform writes (x − Mean)·Componentsᵀ into dst. Centring is done in
// float64 per chunk before rounding to float32, so large feature means do
// not cancel.
func (p *PCA) Transform(dst, x linalg.Matrix[float32]) {
	k, q := p.Components.Rows, p.Components.Cols
	if x.Cols != q || dst.Rows != x.Rows || dst.Cols != k {
		panic("reduce: PCA.Transform shape mismatch")
	}
	n := x.Rows
	cw := min(chunkCols, q)
	buf := linalg.NewMatrix[float32](n, cw)
	for c0 := 0; c0 < q; c0 += cw {
		w := min(cw, q-c0)
		b := buf.Slice(0, n, 0, w)
		for i := range n {
			src, d := x.Row(i)[c0:c0+w], b.Row(i)
			for j, v := range src {
				d[j] = float32(float64(v) - p.Mean[c0+j])
			}
		}
		beta := float32(1)
		if c0 == 0 {
			beta = 0
		}
		linalg.Gemm(false, true, 1, b, p.Components.Slice(0, k, c0, c0+w), beta, dst)
	}
}
