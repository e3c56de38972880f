package reweight

import (
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// NNLS solves min ‖A x − b‖₂ subject to x ≥ 0 for the m×k matrix a with
// the active-set method of Lawson and Hanson (1974, ch. 23), the algorithm
// behind scipy.optimize.nnls. It returns x and the residual norm ‖A x − b‖.
// Inputs are not modified. It panics if len(b) != a.Rows.
//
// The work is done on the cross-products AᵀA and Aᵀb (NNLSGram), which
// costs one k×k Gram matrix plus O(k³) per active-set change, independent
// of m: hundreds of layer RDMs of thousands of pairs fit in milliseconds.
func NNLS(a linalg.Matrix[float64], b []float64) (x []float64, rnorm float64, err error) {
	if len(b) != a.Rows {
		panic("reweight: len(b) != a.Rows")
	}
	k := a.Cols
	ata := linalg.NewMatrix[float64](k, k)
	linalg.Syrk(true, 1, a, 0, ata)
	linalg.Symmetrize(ata)
	atb := make([]float64, k)
	for i := 0; i < a.Rows; i++ {
		row, bi := a.Row(i), b[i]
		for j, v := range row {
			atb[j] += v * bi
		}
	}
	x, err = NNLSGram(ata, atb)
	if err != nil {
		return nil, math.NaN(), err
	}
	var ss float64
	for i := 0; i < a.Rows; i++ {
		r := -b[i]
		for j, v := range a.Row(i) {
			r += v * x[j]
		}
		ss += r * r
	}
	return x, math.Sqrt(ss), nil
}

// NNLSGram solves the NNLS problem given its normal equations: ata = AᵀA
// (k×k, symmetric) and atb = Aᵀb. This is the "fast NNLS" form of Bro and
// de Jong (1997, J Chemometrics 11:393), the same iterations as
// Lawson–Hanson. A column that is numerically a combination of the columns
// already in the passive set (its Cholesky pivot falls below 1e-12 of its
// diagonal) is left at zero: with nearly collinear layer RDMs this keeps
// the solve well posed where an unguarded normal-equation solve would blow
// up. Inputs are not modified. It returns ErrNoConvergence after 3k outer
// iterations (scipy's default limit).
func NNLSGram(ata linalg.Matrix[float64], atb []float64) ([]float64, error) {
	k := len(atb)
	if ata.Rows != k || ata.Cols != k {
		panic("reweight: ata is not len(atb)×len(atb)")
	}
	for _, v := range atb {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: non-finite Aᵀb", ErrNonFinite)
		}
	}
	var norm1 float64
	for j := 0; j < k; j++ {
		var s float64
		for i := 0; i < k; i++ {
			v := ata.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: non-finite AᵀA", ErrNonFinite)
			}
			s += math.Abs(v)
		}
		norm1 = max(norm1, s)
	}
	tol := 10 * 2.220446049250313e-16 * norm1 * float64(k)

	x := make([]float64, k)
	s := make([]float64, k)
	w := make([]float64, k)
	passive := make([]bool, k)
	banned := make([]bool, k)
	var set []int
	chol := make([]float64, k*k)
	rhs := make([]float64, k)

	// solve sets s[set] to the least-squares solution on the passive set
	// and s elsewhere to zero; it reports the position in set of a
	// dependent column, or -1.
	solve := func() int {
		p := len(set)
		for i := range s {
			s[i] = 0
		}
		// Cholesky AᵀA[P,P] = L Lᵀ, row-major in chol (p×p).
		for i := 0; i < p; i++ {
			for j := 0; j <= i; j++ {
				sum := ata.At(set[i], set[j])
				for l := 0; l < j; l++ {
					sum -= chol[i*p+l] * chol[j*p+l]
				}
				if i == j {
					if sum <= 1e-12*ata.At(set[i], set[i]) || sum <= 0 {
						return i
					}
					chol[i*p+i] = math.Sqrt(sum)
				} else {
					chol[i*p+j] = sum / chol[j*p+j]
				}
			}
		}
		for i := 0; i < p; i++ {
			sum := atb[set[i]]
			for l := 0; l < i; l++ {
				sum -= chol[i*p+l] * rhs[l]
			}
			rhs[i] = sum / chol[i*p+i]
		}
		for i := p - 1; i >= 0; i-- {
			sum := rhs[i]
			for l := i + 1; l < p; l++ {
				sum -= chol[l*p+i] * s[set[l]]
			}
			s[set[i]] = sum / chol[i*p+i]
		}
		return -1
	}
	gradient := func() {
		for j := 0; j < k; j++ {
			g := atb[j]
			for _, i := range set {
				g -= ata.At(j, i) * x[i]
			}
			w[j] = g
		}
	}
	removeFromSet := func(pos int) {
		passive[set[pos]] = false
		set = append(set[:pos], set[pos+1:]...)
	}

	gradient()
	for iter := 0; ; iter++ {
		if iter >= 3*k {
			return nil, fmt.Errorf("%w after %d iterations", ErrNoConvergence, iter)
		}
		best, bj := tol, -1
		for j := 0; j < k; j++ {
			if !passive[j] && !banned[j] && w[j] > best {
				best, bj = w[j], j
			}
		}
		if bj < 0 {
			break
		}
		passive[bj] = true
		set = append(set, bj)
		if d := solve(); d >= 0 {
			banned[set[d]] = true
			removeFromSet(d)
			if solve() >= 0 {
				return nil, fmt.Errorf("%w: passive set became singular (rounding at the collinearity threshold)", ErrNoConvergence)
			}
			continue
		}
		for {
			alpha, argmin := math.Inf(1), -1
			for _, i := range set {
				if s[i] <= 0 {
					if a := x[i] / (x[i] - s[i]); a < alpha {
						alpha, argmin = a, i
					}
				}
			}
			if argmin < 0 {
				break
			}
			for _, i := range set {
				x[i] += alpha * (s[i] - x[i])
			}
			x[argmin] = 0 // the step stops where it reaches zero; rounding may leave a residue
			for pos := len(set) - 1; pos >= 0; pos-- {
				if i := set[pos]; x[i] <= 0 {
					x[i] = 0
					removeFromSet(pos)
				}
			}
			if solve() >= 0 {
				return nil, fmt.Errorf("%w: passive set became singular (rounding at the collinearity threshold)", ErrNoConvergence)
			}
		}
		for _, i := range set {
			x[i] = s[i]
		}
		gradient()
	}
	out := make([]float64, k)
	for _, i := range set {
		out[i] = x[i]
	}
	return out, nil
}
