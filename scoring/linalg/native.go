//go:build cgo && !purego

package linalg

/*
#cgo LDFLAGS: -lopenblas -llapacke
#include <lapacke.h>
// OpenBLAS's thread control (declared here: not every cblas.h has it).
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
char *openblas_get_corename(void);
*/
import "C"

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/netlib/blas/netlib"
)

const backendName = "openblas"

var (
	blas64Impl = netlib.Implementation{}
	blas32Impl = netlib.Implementation{}
)

// The eigensolvers call the LAPACK routine directly (LAPACKE_*_work with
// column-major layout) with workspaces owned by Go and reused across calls:
// LAPACKE's high-level wrappers malloc a transposed copy of the matrix and
// the workspace on every call, and glibc keeps the freed memory in the
// arena of whichever OS thread made the call, so resident memory grew by
// ~15 MB per 800×800 decomposition. A symmetric matrix stored row-major
// with its upper triangle is, byte for byte, the column-major matrix with
// its lower triangle, so no copy is needed; the eigenvectors come back as
// columns of the column-major result, i.e. rows of ours, and are
// transposed in place.

var (
	work64 cache[float64]
	work32 cache[float32]
	iworks cache[C.lapack_int]
)

// cache keeps one workspace (the largest returned) for the next call;
// concurrent callers beyond the first allocate their own. (A sync.Pool
// keeps one per processor, which doubled the memory here.)
type cache[T any] struct {
	mu  sync.Mutex
	buf []T
}

func (c *cache[T]) get(n int) []T {
	c.mu.Lock()
	b := c.buf
	c.buf = nil
	c.mu.Unlock()
	if cap(b) < n {
		b = make([]T, n)
	}
	return b[:n]
}

func (c *cache[T]) put(b []T) {
	c.mu.Lock()
	if cap(b) > cap(c.buf) {
		c.buf = b
	}
	c.mu.Unlock()
}

var shared struct {
	mu    sync.Mutex
	users int
	saved C.int
}

func shareBLAS(workers int) func() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.users == 0 {
		shared.saved = C.openblas_get_num_threads()
		C.openblas_set_num_threads(max(1, shared.saved/C.int(workers)))
	}
	shared.users++
	return func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.users--; shared.users == 0 {
			C.openblas_set_num_threads(shared.saved)
		}
	}
}

// dsyevdQuery asks dsyevd for its optimal workspaces at order n ≥ 1.
func dsyevdQuery(n int) (lw, liw int, err error) {
	var qw C.double
	var qiw C.lapack_int
	var a, w C.double
	if info := C.LAPACKE_dsyevd_work(C.LAPACK_COL_MAJOR, 'V', 'L', C.lapack_int(n), &a, C.lapack_int(n), &w, &qw, -1, &qiw, -1); info != 0 {
		return 0, 0, fmt.Errorf("%w: LAPACKE_dsyevd_work query info %d", ErrNoConvergence, int(info))
	}
	return max(1, int(qw)), max(1, int(qiw)), nil
}

func symEig64(n int, a []float64, lda int, w []float64, scratch []float64) error {
	lw, liw, err := dsyevdQuery(n)
	if err != nil {
		return err
	}
	iwork := iworks.get(liw)
	defer iworks.put(iwork)
	work := scratch
	if len(work) < lw {
		work = work64.get(lw)
		defer work64.put(work)
	}
	info := C.LAPACKE_dsyevd_work(C.LAPACK_COL_MAJOR, 'V', 'L', C.lapack_int(n),
		(*C.double)(&a[0]), C.lapack_int(lda), (*C.double)(&w[0]),
		(*C.double)(&work[0]), C.lapack_int(min(len(work), math.MaxInt32)), &iwork[0], C.lapack_int(len(iwork)))
	if info != 0 {
		return fmt.Errorf("%w: LAPACKE_dsyevd_work info %d", ErrNoConvergence, int(info))
	}
	transposeSquare(n, a, lda)
	return nil
}

func symEig32(n int, a []float32, lda int, w []float32) error {
	var lw C.float
	var liw C.lapack_int
	info := C.LAPACKE_ssyevd_work(C.LAPACK_COL_MAJOR, 'V', 'L', C.lapack_int(n),
		(*C.float)(&a[0]), C.lapack_int(lda), (*C.float)(&w[0]), &lw, -1, &liw, -1)
	if info != 0 {
		return fmt.Errorf("%w: LAPACKE_ssyevd_work query info %d", ErrNoConvergence, int(info))
	}
	// The query answers in float32, which rounds sizes above 2^24 down.
	work, iwork := work32.get(max(1, int(lw)+int(lw)>>20)), iworks.get(max(1, int(liw)))
	defer work32.put(work)
	defer iworks.put(iwork)
	info = C.LAPACKE_ssyevd_work(C.LAPACK_COL_MAJOR, 'V', 'L', C.lapack_int(n),
		(*C.float)(&a[0]), C.lapack_int(lda), (*C.float)(&w[0]),
		(*C.float)(&work[0]), C.lapack_int(len(work)), &iwork[0], C.lapack_int(len(iwork)))
	if info != 0 {
		return fmt.Errorf("%w: LAPACKE_ssyevd_work info %d", ErrNoConvergence, int(info))
	}
	transposeSquare(n, a, lda)
	return nil
}

// dsytrdQuery asks dsytrd and dorgtr for their optimal workspace at order
// n ≥ 1 (the larger of the two).
func dsytrdQuery(n int) (int, error) {
	var q1, q2, a, d, e, tau C.double
	if info := C.LAPACKE_dsytrd_work(C.LAPACK_COL_MAJOR, 'L', C.lapack_int(n), &a, C.lapack_int(n), &d, &e, &tau, &q1, -1); info != 0 {
		return 0, fmt.Errorf("%w: LAPACKE_dsytrd_work query info %d", ErrNoConvergence, int(info))
	}
	if info := C.LAPACKE_dorgtr_work(C.LAPACK_COL_MAJOR, 'L', C.lapack_int(n), &a, C.lapack_int(n), &tau, &q2, -1); info != 0 {
		return 0, fmt.Errorf("%w: LAPACKE_dorgtr_work query info %d", ErrNoConvergence, int(info))
	}
	return max(1, int(q1), int(q2)), nil
}

// tridiag64 runs dsytrd then dorgtr on the column-major view of a (the
// same symmetric matrix), so the column-major Q lands in a as Qᵀ row-major.
func tridiag64(n int, a []float64, lda int, d, e, scratch []float64) error {
	lw, err := dsytrdQuery(n)
	if err != nil {
		return err
	}
	work := scratch
	if len(work) < lw+n {
		work = work64.get(lw + n)
		defer work64.put(work)
	}
	tau, work := work[:n], work[n:]
	lwork := C.lapack_int(min(len(work), math.MaxInt32))
	if info := C.LAPACKE_dsytrd_work(C.LAPACK_COL_MAJOR, 'L', C.lapack_int(n), (*C.double)(&a[0]), C.lapack_int(lda),
		(*C.double)(&d[0]), (*C.double)(&e[0]), (*C.double)(&tau[0]), (*C.double)(&work[0]), lwork); info != 0 {
		return fmt.Errorf("%w: LAPACKE_dsytrd_work info %d", ErrNoConvergence, int(info))
	}
	if info := C.LAPACKE_dorgtr_work(C.LAPACK_COL_MAJOR, 'L', C.lapack_int(n), (*C.double)(&a[0]), C.lapack_int(lda),
		(*C.double)(&tau[0]), (*C.double)(&work[0]), lwork); info != 0 {
		return fmt.Errorf("%w: LAPACKE_dorgtr_work info %d", ErrNoConvergence, int(info))
	}
	return nil
}

// tridiagWorkLen is tridiag64's scratch length at order n.
func tridiagWorkLen(n int) int {
	if n == 0 {
		return 0
	}
	lw, err := dsytrdQuery(n)
	if err != nil {
		return 0
	}
	return lw + n
}

// symEigWorkLen is dsyevd's optimal workspace for order n.
func symEigWorkLen(n int) int {
	if n == 0 {
		return 0
	}
	lw, _, err := dsyevdQuery(n)
	if err != nil {
		return 0
	}
	return lw
}

// kernels names the CPU kernels OpenBLAS chose at load (its core name:
// "Haswell", "SkylakeX", "Cooperlake", ...), which $OPENBLAS_CORETYPE
// overrides.
func kernels() string { return C.GoString(C.openblas_get_corename()) }

// blasThreads and setBLASThreads expose OpenBLAS's setting to tests.
func blasThreads() int     { return int(C.openblas_get_num_threads()) }
func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
