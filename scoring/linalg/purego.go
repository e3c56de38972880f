//go:build !cgo || purego

package linalg

import (
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/lapack"
	lapackgo "gonum.org/v1/gonum/lapack/gonum"
)

const backendName = "gonum"

var (
	blas64Impl = gonum.Implementation{}
	blas32Impl = gonum.Implementation{}
)

func shareBLAS(int) func() { return func() {} }

func kernels() string { return "" }

func symEigWorkLen(int) int { return 0 }

func symEig64(n int, a []float64, lda int, w []float64, _ []float64) error {
	var impl lapackgo.Implementation
	work := []float64{0}
	impl.Dsyev(lapack.EVCompute, 'U', n, a, lda, w, work, -1)
	work = make([]float64, int(work[0]))
	if !impl.Dsyev(lapack.EVCompute, 'U', n, a, lda, w, work, len(work)) {
		return ErrNoConvergence
	}
	return nil
}

func tridiagWorkLen(int) int { return 0 }

// tridiag64 is gonum's Dsytrd and Dorgtr (row-major: Q lands in a as Q),
// then a transpose to tridiag64's convention.
func tridiag64(n int, a []float64, lda int, d, e, _ []float64) error {
	var impl lapackgo.Implementation
	tau := make([]float64, n)
	work := []float64{0}
	impl.Dsytrd('U', n, a, lda, d, e, tau, work, -1)
	lw := int(work[0])
	impl.Dorgtr('U', n, a, lda, tau, work, -1)
	work = make([]float64, max(1, lw, int(work[0])))
	impl.Dsytrd('U', n, a, lda, d, e, tau, work, len(work))
	impl.Dorgtr('U', n, a, lda, tau, work, len(work))
	transposeSquare(n, a, lda)
	return nil
}

// symEig32 runs in float64: gonum has no float32 LAPACK.
func symEig32(n int, a []float32, lda int, w []float32) error {
	a64 := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			a64[i*n+j] = float64(a[i*lda+j])
		}
	}
	w64 := make([]float64, n)
	if err := symEig64(n, a64, n, w64, nil); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		w[i] = float32(w64[i])
		for j := 0; j < n; j++ {
			a[i*lda+j] = float32(a64[i*n+j])
		}
	}
	return nil
}
