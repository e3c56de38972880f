package ridge

import (
	"math"
	"slices"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// The tridiagonal route. With few targets, the eigendecomposition of a
// fold's training kernel is most of the fold's work (issue 18: 800 of them
// at order 960 were ~80% of cowley2023.V4.public's ridge time), yet
// leave-one-out selection needs no eigenvectors: with K' = Kc + 11ᵀ
// reduced to K' = H·T·Hᵀ (T tridiagonal, H orthogonal: LAPACK dsytrd and
// dorgtr, ~60% of dsyevd's time) and T + αI = L·D·Lᵀ (L unit lower
// bidiagonal, O(m) per alpha),
//
//	(K' + αI)⁻¹ = H·(T + αI)⁻¹·Hᵀ,
//	dual coefficients  c = H·(T + αI)⁻¹·(Hᵀ·yc),
//	LOO denominator   G_ii = Σ_k ((L⁻¹·Hᵀ)_ki)² / D_k − 1/(m(m+α)),
//
// the same quantities as the eigen route's V·diag(w)·Vᵀ up to rounding. The
// last term removes the intercept direction 1/√m (an eigenvector of K' of
// eigenvalue m, as Kc·1 = 0), which the eigen route gives weight 0; in c
// its share is (1ᵀ·yc)/(m(m+α)) = 0 for centred targets, and in the test
// predictions (Kt·1) = 0. The route has no eigenvalues, so no alpha
// compression: every alpha's residuals go through the product, which is
// why it is taken only for few targets (useTridiag).

// useTridiag reports whether a fold of m training stimuli and p targets
// selects its alphas (na of them, leave-one-out) faster by the tridiagonal
// route. It saves ~40% of an eigendecomposition (~40 ms at m = 960 here,
// growing as m³) and costs, per target and alpha, O(m) solves that the
// eigen route replaces by a scaling (~10 ns per element more: p·na ≤
// m²/300 keeps that below the saving); in float32 selection it can also
// lose alpha compression, at most the products of na−2 alphas (2m²p
// flops each), so there p·(na−2) ≤ m as well. The choice depends on the
// sizes only, so results do not depend on the machine.
func useTridiag(m, p, na int, f64 bool) bool {
	switch forceTridiag {
	case 1:
		return true
	case -1:
		return false
	}
	return m > 1 && p*na <= m*m/300 && (f64 || p*max(na-2, 0) <= m)
}

// forceTridiag overrides useTridiag (tests run both routes): 1 takes the
// tridiagonal route for every leave-one-out kernel fold, -1 never.
var forceTridiag = 0

// triFactor is T + αI = L·D·Lᵀ: l[k] is L's subdiagonal entry in row k
// (l[0] = 0), dinv[k] = 1/D_k.
type triFactor struct {
	l, dinv []float64
}

// tridiag holds the factors of T + αI for every alpha of the grid, in grid
// order (T itself is not needed after factoring).
type tridiag struct {
	alphas []float64
	fac    []triFactor
}

// factorTridiag factors T + αI for each alpha; false when a pivot is not
// positive and finite (T + αI not numerically positive definite: an alpha
// far below the kernel's rounding), where the eigen route is used instead.
func factorTridiag(d, e, alphas []float64) (*tridiag, bool) {
	m := len(d)
	t := &tridiag{alphas: slices.Clone(alphas), fac: make([]triFactor, len(alphas))}
	for a, al := range alphas {
		l, dinv := make([]float64, m), make([]float64, m)
		piv := d[0] + al
		for k := range m {
			if k > 0 {
				l[k] = e[k-1] / piv
				piv = d[k] + al - l[k]*e[k-1]
			}
			if !(piv > 0) || math.IsInf(piv, 0) {
				return nil, false
			}
			dinv[k] = 1 / piv
		}
		t.fac[a] = triFactor{l: l, dinv: dinv}
	}
	return t, true
}

// solveCols overwrites each column c of z (r×w) with (T + α I)⁻¹ z[:, c],
// α the alpha of factor fac[group[c]] (group nil: fac[0] for every column).
// The sweeps run over rows, so each step is a loop over contiguous columns.
func solveCols(z mat, fac []triFactor, group []int) {
	r, w := z.Rows, z.Cols
	if r == 0 || w == 0 {
		return
	}
	if group == nil {
		group = make([]int, w)
	}
	g := group[:w]
	// L·y = z, top down.
	for k := 1; k < r; k++ {
		prev, cur := z.Row(k - 1)[:w], z.Row(k)[:w]
		for c, s := range g {
			cur[c] -= fac[s].l[k] * prev[c]
		}
	}
	// D·Lᵀ·x = y, bottom up.
	last := z.Row(r - 1)[:w]
	for c, s := range g {
		last[c] *= fac[s].dinv[r-1]
	}
	for k := r - 2; k >= 0; k-- {
		next, cur := z.Row(k + 1)[:w], z.Row(k)[:w]
		for c, s := range g {
			f := fac[s]
			cur[c] = cur[c]*f.dinv[k] - f.l[k+1]*next[c]
		}
	}
}

// tridiagDecomp reduces Kc + 11ᵀ (kc is overwritten) to tridiagonal form
// and makes the leave-one-out denominators of every alpha; setCoef then
// brings in the targets, as for kernelDecomp. A nil decomp with a nil
// error means the factors failed (factorTridiag) and kc is lost: the
// caller makes the kernels again for kernelDecomp.
func tridiagDecomp(kc, kt mat, alphas []float64, w, scratch *work) (*decomp, error) {
	m := kc.Rows
	for i := range m {
		r := kc.Row(i)
		for j := range r {
			r[j]++
		}
	}
	dg, e := make([]float64, m), make([]float64, max(m-1, 0))
	var ws []float64
	if scratch != nil {
		ws = scratch.slab().grow(linalg.TridiagonalizeWorkLen(m))
	}
	if err := linalg.Tridiagonalize(kc, dg, e, ws); err != nil {
		return nil, err
	}
	t, ok := factorTridiag(dg, e, alphas)
	if !ok {
		return nil, nil
	}
	// kc holds Hᵀ: row k is column k of H, so L⁻¹·Hᵀ is a top-down sweep
	// over rows, and G_ii sums its squares column by column.
	na := len(alphas)
	diag := w.mat64("triDiag", na, m)
	y := make([]float64, m)
	for a, f := range t.fac {
		g := diag.Row(a)
		clear(g)
		clear(y)
		for k := range m {
			h, l, dv := kc.Row(k), f.l[k], f.dinv[k]
			h, y := h[:m], y[:m]
			for i, v := range h {
				yi := v - l*y[i]
				y[i] = yi
				g[i] += yi * yi * dv
			}
		}
	}
	inv := make([]float64, m*na)
	fm := float64(m)
	for a, al := range alphas {
		g, c := diag.Row(a), 1/(fm*(fm+al))
		for i := range m {
			inv[i*na+a] = 1 / (g[i] - c)
		}
	}
	linalg.TransposeSquare(kc) // now H: row i is stimulus i
	d := &decomp{basis: kc, skip: -1, tri: t, inv: inv}
	// The test kernel itself, kept for predict: Kt·(H·b) costs 2m²p + 2smp
	// flops against 2sm² + 2smp for Kt·H first, less whenever p < s, and
	// useTridiag's p·na ≤ m²/300 keeps p far below the s ≈ m/(folds−1)
	// held-out stimuli of a fold.
	d.test = w.mat64("test", kt.Rows, m)
	for i := range kt.Rows {
		copy(d.test.Row(i), kt.Row(i)[:m])
	}
	d.bandsF32 = []band[float32]{{k0: 0, k1: m, tri: t}}
	return d, nil
}

// triFill writes, for targets j0…j0+w-1 and every alpha s of the grid,
// (T + α_s I)⁻¹ times their coefficients into b (m × w·ns, column j·ns+s,
// as band.scaled), solving in float64 in wk's buffer.
func triFill[T linalg.Float](b linalg.Matrix[T], t *tridiag, coef mat, j0, w int, wk *work) {
	ns, r := len(t.fac), coef.Rows
	z := wk.mat64("triZ", r, w*ns)
	group := intBuf(wk, "triGroup", w*ns)
	for c := range group {
		group[c] = c % ns
	}
	for k := range r {
		src, dst := coef.Row(k)[j0:j0+w], z.Row(k)
		for j, v := range src {
			o := dst[j*ns : (j+1)*ns]
			for s := range o {
				o[s] = v
			}
		}
	}
	solveCols(z, t.fac, group)
	for k := range r {
		src, dst := z.Row(k), b.Row(k)[:w*ns]
		for c, v := range src {
			dst[c] = T(v)
		}
	}
}
