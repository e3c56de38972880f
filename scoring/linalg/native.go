//go:build cgo && !purego

package linalg

/*
#cgo LDFLAGS: -lopenblas -llapacke
#include <lapacke.h>
*/
import "C"

import (
	"fmt"

	"gonum.org/v1/netlib/blas/netlib"
)

const backendName = "openblas"

var (
	blas64Impl = netlib.Implementation{}
	blas32Impl = netlib.Implementation{}
)

func symEig64(n int, a []float64, lda int, w []float64) error {
	info := C.LAPACKE_dsyevd(C.LAPACK_ROW_MAJOR, 'V', 'U', C.lapack_int(n),
		(*C.double)(&a[0]), C.lapack_int(lda), (*C.double)(&w[0]))
	if info != 0 {
		return fmt.Errorf("%w: LAPACKE_dsyevd info %d", ErrNoConvergence, int(info))
	}
	return nil
}

func symEig32(n int, a []float32, lda int, w []float32) error {
	info := C.LAPACKE_ssyevd(C.LAPACK_ROW_MAJOR, 'V', 'U', C.lapack_int(n),
		(*C.float)(&a[0]), C.lapack_int(lda), (*C.float)(&w[0]))
	if info != 0 {
		return fmt.Errorf("%w: LAPACKE_ssyevd info %d", ErrNoConvergence, int(info))
	}
	return nil
}
