// Package linalg is the numerical backend of the scoring math: dense row-major
// matrices of float32 or float64, the BLAS calls the math needs, and the native
// LAPACK decompositions on its hot paths.
//
// With cgo (the default build) BLAS and LAPACK go to OpenBLAS and LAPACKE
// (Debian libopenblas-dev, liblapacke-dev). Built with the tag purego, or
// without cgo, the same functions run on gonum's pure-Go BLAS and LAPACK:
// the results agree to rounding, only the speed differs (gonum's Go
// symmetric eigensolver is about ten times slower than LAPACKE's dsyevd).
//
// OpenBLAS threads itself over all cores; callers must not run BLAS calls
// from several goroutines at once.
package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Float is the element type of the matrices the scoring math accepts.
type Float interface{ float32 | float64 }

// Matrix is a dense row-major view: element (i, j) is Data[i*Stride+j].
type Matrix[T Float] struct {
	Rows, Cols, Stride int
	Data               []T
}

// NewMatrix allocates a zeroed rows×cols matrix.
func NewMatrix[T Float](rows, cols int) Matrix[T] {
	return Matrix[T]{Rows: rows, Cols: cols, Stride: cols, Data: make([]T, rows*cols)}
}

// View wraps data (len ≥ rows*cols, row-major, contiguous) without copying.
func View[T Float](rows, cols int, data []T) Matrix[T] {
	if len(data) < rows*cols {
		panic("linalg: data shorter than rows*cols")
	}
	return Matrix[T]{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

// Row returns row i without copying.
func (m Matrix[T]) Row(i int) []T { return m.Data[i*m.Stride : i*m.Stride+m.Cols] }

// At returns element (i, j).
func (m Matrix[T]) At(i, j int) T { return m.Data[i*m.Stride+j] }

// Slice returns the view of rows [r0,r1) and columns [c0,c1) without copying.
func (m Matrix[T]) Slice(r0, r1, c0, c1 int) Matrix[T] {
	if r0 < 0 || r1 > m.Rows || r0 > r1 || c0 < 0 || c1 > m.Cols || c0 > c1 {
		panic("linalg: slice out of range")
	}
	if r0 == r1 || c0 == c1 {
		return Matrix[T]{Rows: r1 - r0, Cols: c1 - c0, Stride: max(m.Stride, 1)}
	}
	return Matrix[T]{Rows: r1 - r0, Cols: c1 - c0, Stride: m.Stride, Data: m.Data[r0*m.Stride+c0 : (r1-1)*m.Stride+c1]}
}

// Backend names the BLAS/LAPACK in use: "openblas" or "gonum".
func Backend() string { return backendName }

// Kernels names the CPU kernels the BLAS runs: OpenBLAS's core name
// ("Haswell", "Cooperlake", ...; chosen for the CPU at load, or forced by
// $OPENBLAS_CORETYPE), empty for gonum. Two machines, or two environments,
// with different kernels round float sums differently, and a side-by-side
// timing is like for like only when both sides run the same kernels.
func Kernels() string { return kernels() }

// Float64 returns the float64 BLAS in use (OpenBLAS or gonum).
func Float64() blas.Float64 { return blas64Impl }

// Float32 returns the float32 BLAS in use (OpenBLAS or gonum).
func Float32() blas.Float32 { return blas32Impl }

// UseForGonum makes gonum's mat and stat packages use the same BLAS.
// Only cmd calls this, once at start-up.
func UseForGonum() {
	blas64.Use(blas64Impl)
	blas32.Use(blas32Impl)
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C, op(X) = Xᵀ when the flag is set.
func Gemm[T Float](tA, tB bool, alpha T, a, b Matrix[T], beta T, c Matrix[T]) {
	m, k := a.Rows, a.Cols
	if tA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if tB {
		kb, n = n, kb
	}
	if k != kb || c.Rows != m || c.Cols != n {
		panic("linalg: Gemm dimension mismatch")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		Scale(beta, c)
		return
	}
	switch any(alpha).(type) {
	case float64:
		blas64Impl.Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), f64(a.Data), a.Stride, f64(b.Data), b.Stride, float64(beta), f64(c.Data), c.Stride)
	case float32:
		blas32Impl.Sgemm(trans(tA), trans(tB), m, n, k, float32(alpha), f32(a.Data), a.Stride, f32(b.Data), b.Stride, float32(beta), f32(c.Data), c.Stride)
	}
}

// Syrk computes the upper triangle of C = alpha·A·Aᵀ + beta·C (or AᵀA when
// tA). The strict lower triangle of C is left untouched; see Symmetrize.
func Syrk[T Float](tA bool, alpha T, a Matrix[T], beta T, c Matrix[T]) {
	n, k := a.Rows, a.Cols
	if tA {
		n, k = k, n
	}
	if c.Rows != n || c.Cols != n {
		panic("linalg: Syrk dimension mismatch")
	}
	if n == 0 || k == 0 {
		if k == 0 && n > 0 {
			Scale(beta, c)
		}
		return
	}
	switch any(alpha).(type) {
	case float64:
		blas64Impl.Dsyrk(blas.Upper, trans(tA), n, k, float64(alpha), f64(a.Data), a.Stride, float64(beta), f64(c.Data), c.Stride)
	case float32:
		blas32Impl.Ssyrk(blas.Upper, trans(tA), n, k, float32(alpha), f32(a.Data), a.Stride, float32(beta), f32(c.Data), c.Stride)
	}
}

// Symmetrize copies the upper triangle of square c onto its lower triangle.
func Symmetrize[T Float](c Matrix[T]) {
	for i := 1; i < c.Rows; i++ {
		row := c.Data[i*c.Stride:]
		for j := 0; j < i; j++ {
			row[j] = c.Data[j*c.Stride+i]
		}
	}
}

// Scale multiplies every element of c by beta (beta 0 clears, NaNs included).
func Scale[T Float](beta T, c Matrix[T]) {
	for i := 0; i < c.Rows; i++ {
		r := c.Row(i)
		if beta == 0 {
			clear(r)
			continue
		}
		for j := range r {
			r[j] *= beta
		}
	}
}

// SymEigScratch is SymEig of a float64 matrix with LAPACK's workspace taken
// from scratch when it holds at least SymEigWorkLen(n) elements (so a
// caller can lend memory it uses for something else in between); otherwise
// as SymEig.
func SymEigScratch(a Matrix[float64], w []float64, scratch []float64) error {
	if a.Rows != a.Cols || len(w) < a.Rows {
		panic("linalg: SymEigScratch needs a square matrix and len(w) ≥ n")
	}
	if a.Rows == 0 {
		return nil
	}
	return symEig64(a.Rows, a.Data, a.Stride, w, scratch)
}

// SymEigWorkLen is the scratch length SymEigScratch uses at order n (0 when
// it uses none).
func SymEigWorkLen(n int) int { return symEigWorkLen(n) }

// Tridiagonalize reduces the symmetric matrix a (its upper triangle is
// read) to tridiagonal form, a = Q·T·Qᵀ with Q orthogonal (LAPACK dsytrd,
// then dorgtr to form Q): T's diagonal goes to d (n) and its off-diagonal
// to e (n−1). On return a holds Qᵀ: row k of a is column k of Q, a.At(k, i)
// = Q_ik (the transpose of SymEig's layout, so that one column of Q is
// contiguous). LAPACK's workspace comes from scratch when it holds at least
// TridiagonalizeWorkLen(n) elements. It costs about 60% of SymEig at order
// 1,000: no eigenvectors of T are computed.
func Tridiagonalize(a Matrix[float64], d, e []float64, scratch []float64) error {
	n := a.Rows
	if a.Cols != n || len(d) < n || len(e) < max(n-1, 0) {
		panic("linalg: Tridiagonalize needs a square matrix, len(d) ≥ n and len(e) ≥ n−1")
	}
	if n == 0 {
		return nil
	}
	if n == 1 {
		d[0], a.Data[0] = a.Data[0], 1
		return nil
	}
	return tridiag64(n, a.Data, a.Stride, d, e, scratch)
}

// TridiagonalizeWorkLen is the scratch length Tridiagonalize uses at order n
// (0 when it uses none).
func TridiagonalizeWorkLen(n int) int { return tridiagWorkLen(n) }

// transposeSquare transposes the n×n matrix with row stride lda in place.
func transposeSquare[T float32 | float64](n int, a []T, lda int) {
	for i := range n {
		for j := i + 1; j < n; j++ {
			a[i*lda+j], a[j*lda+i] = a[j*lda+i], a[i*lda+j]
		}
	}
}

// TransposeSquare transposes the square matrix a in place.
func TransposeSquare[T Float](a Matrix[T]) {
	if a.Rows != a.Cols {
		panic("linalg: TransposeSquare needs a square matrix")
	}
	transposeSquare(a.Rows, a.Data, a.Stride)
}

// ShareBLAS prepares for the given number of goroutines calling BLAS and
// LAPACK at once, each doing its own part of a computation: OpenBLAS's
// threads (a process-wide setting) are divided among them, so small
// products and the serial parts of LAPACK do not wait on thread hand-offs
// and the workers do not oversubscribe the cores. Call the returned
// function when done; the setting is restored when the last sharer
// releases it. Other BLAS calls in the meantime run with the reduced
// thread count (correctly). Without OpenBLAS it does nothing.
func ShareBLAS(workers int) (release func()) {
	if workers <= 1 {
		return func() {}
	}
	return shareBLAS(workers)
}

// SymEig computes all eigenvalues (ascending, into w) and eigenvectors of the
// symmetric n×n matrix a, whose upper triangle is read. On return column j
// of a holds the unit eigenvector of w[j]: a.At(i, j) is its component i.
func SymEig[T Float](a Matrix[T], w []T) error {
	if a.Rows != a.Cols || len(w) < a.Rows {
		panic("linalg: SymEig needs a square matrix and len(w) ≥ n")
	}
	if a.Rows == 0 {
		return nil
	}
	switch any(w).(type) {
	case []float64:
		return symEig64(a.Rows, f64(a.Data), a.Stride, f64(w), nil)
	default:
		return symEig32(a.Rows, f32(a.Data), a.Stride, f32(w))
	}
}
