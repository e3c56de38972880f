package reduce

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// RandomizedConfig tunes FitPCARandomized.
type RandomizedConfig struct {
	Oversample int    // extra random directions beyond k (default 10)
	PowerIters int    // subspace iterations, each sharpening a slowly decaying spectrum (default 7, as sklearn's n_iter="auto" for few components)
	Seed       uint64 // the Gaussian test matrix
}

// FitPCARandomized fits k components by randomized subspace iteration
// (Halko, Martinsson & Tropp 2011, algorithm 4.4), for reference sets too
// large for the exact n×n Gram (FitPCA): memory is O((n + q)·(k+p)), time
// O(n·q·(k+p)·(2·iters+2)). Signs and variances follow FitPCA (sklearn's
// conventions). The leading components agree with the exact ones to the
// accuracy the spectrum's decay allows; more power iterations buy more.
func FitPCARandomized[T linalg.Float](x linalg.Matrix[T], k int, cfg RandomizedConfig) (*PCA, error) {
	n, q := x.Rows, x.Cols
	if cfg.Oversample == 0 {
		cfg.Oversample = 10
	}
	if cfg.PowerIters == 0 {
		cfg.PowerIters = 7
	}
	if n < 2 || q < 1 {
		return nil, fmt.Errorf("%w: PCA needs at least 2 stimuli and 1 feature, got %d×%d", ErrShape, n, q)
	}
	if k < 1 || k > min(n, q) {
		return nil, fmt.Errorf("%w: %d components requested from %d×%d data (need 1…%d)", ErrShape, k, n, q, min(n, q))
	}
	if cfg.Oversample < 0 || cfg.PowerIters < 0 {
		return nil, fmt.Errorf("%w: negative oversampling or power iterations", ErrShape)
	}
	l := min(k+cfg.Oversample, n, q)
	mean, err := columnMeans(x)
	if err != nil {
		return nil, err
	}
	// Y = Xc·Ω, Ω q×l Gaussian, accumulated over feature chunks.
	r := rand.New(rand.NewPCG(cfg.Seed, 0x4a1ac0))
	omega := linalg.NewMatrix[float64](q, l)
	for i := range omega.Data {
		omega.Data[i] = r.NormFloat64()
	}
	y := linalg.NewMatrix[float64](n, l)
	z := linalg.NewMatrix[float64](q, l)
	mulXc := func(dst, right linalg.Matrix[float64]) { // dst (n×l) = Xc·right (q×l)
		linalg.Scale(0, dst)
		forChunks(x, mean, func(c0 int, xc linalg.Matrix[float64]) {
			linalg.Gemm(false, false, 1, xc, right.Slice(c0, c0+xc.Cols, 0, l), 1, dst)
		})
	}
	mulXcT := func(dst, left linalg.Matrix[float64]) { // dst (q×l) = Xcᵀ·left (n×l)
		forChunks(x, mean, func(c0 int, xc linalg.Matrix[float64]) {
			linalg.Gemm(true, false, 1, xc, left, 0, dst.Slice(c0, c0+xc.Cols, 0, l))
		})
	}
	mulXc(y, omega)
	orthonormalize(y)
	for range cfg.PowerIters {
		mulXcT(z, y)
		orthonormalize(z)
		mulXc(y, z)
		orthonormalize(y)
	}
	// B = Qᵀ·Xc (l×q) is Zᵀ with Z = Xcᵀ·Q; its SVD from the l×l Gram B·Bᵀ.
	mulXcT(z, y)
	g := linalg.NewMatrix[float64](l, l)
	linalg.Syrk(true, 1, z, 0, g)
	lambda := make([]float64, l)
	if err := linalg.SymEig(g, lambda); err != nil {
		return nil, fmt.Errorf("reduce: randomized PCA: %w", err)
	}
	if err := checkRank(lambda, k); err != nil {
		return nil, err
	}
	// Component c = Bᵀu/σ = Z·u/σ; its scores on the reference set Q·u·σ.
	u := linalg.NewMatrix[float64](l, k)
	for i := range l {
		for c := range k {
			u.Data[i*k+c] = g.At(i, l-1-c)
		}
	}
	comp := linalg.NewMatrix[float64](q, k)
	linalg.Gemm(false, false, 1, z, u, 0, comp)
	scores := linalg.NewMatrix[float64](n, k)
	linalg.Gemm(false, false, 1, y, u, 0, scores)
	p := &PCA{Mean: mean, Components: linalg.NewMatrix[float32](k, q), Variance: make([]float64, k)}
	for c := range k {
		s := math.Sqrt(lambda[l-1-c])
		p.Variance[c] = lambda[l-1-c] / float64(n-1)
		for j := range q {
			p.Components.Data[c*q+j] = float32(comp.At(j, c) / s)
		}
	}
	flipSigns(p, scores)
	return p, nil
}

// orthonormalize replaces the columns of a (rows ≥ cols) by an orthonormal
// basis of their span (thin QR, gonum).
func orthonormalize(a linalg.Matrix[float64]) {
	m := mat.NewDense(a.Rows, a.Cols, nil)
	for i := range a.Rows {
		m.SetRow(i, a.Row(i))
	}
	var qr mat.QR
	qr.Factorize(m)
	var qm mat.Dense
	qr.QTo(&qm)
	for i := range a.Rows {
		for j := range a.Cols {
			a.Data[i*a.Stride+j] = qm.At(i, j)
		}
	}
}
