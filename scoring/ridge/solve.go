package ridge

import (
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

type mat = linalg.Matrix[float64]

// rows is a selection of the rows of m; idx nil means every row.
type rows[T linalg.Float] struct {
	m   linalg.Matrix[T]
	idx []int
}

func (r rows[T]) n() int {
	if r.idx == nil {
		return r.m.Rows
	}
	return len(r.idx)
}

func (r rows[T]) row(i int) []T {
	if r.idx == nil {
		return r.m.Row(i)
	}
	return r.m.Row(r.idx[i])
}

// chunkCols is the feature-chunk width of the kernel accumulation: wide
// enough for DSYRK to run near peak, narrow enough that the float64 chunk
// buffers stay a few MB.
const chunkCols = 256

// kernels returns the centred training kernel Kc = Xc·Xcᵀ (m×m) and the
// test–train cross kernel Kt = (Xt−x̄)·Xcᵀ (s×m), where x̄ (and with std the
// feature scale) come from the training rows. Features are converted to
// float64 chunk by chunk so X is never copied whole.
func kernels[T linalg.Float](tr, te rows[T], std bool) (kc, kt mat) {
	m, s, q := tr.n(), te.n(), tr.m.Cols
	kc = linalg.NewMatrix[float64](m, m)
	kt = linalg.NewMatrix[float64](s, m)
	cw := min(chunkCols, q)
	bt := linalg.NewMatrix[float64](m, cw)
	bs := linalg.NewMatrix[float64](s, cw)
	mean := make([]float64, cw)
	scale := make([]float64, cw)
	for c0 := 0; c0 < q; c0 += cw {
		w := min(cw, q-c0)
		colStats(tr, c0, w, std, mean, scale)
		fillChunk(bt, tr, c0, w, mean, scale)
		fillChunk(bs, te, c0, w, mean, scale)
		t := bt.Slice(0, m, 0, w)
		linalg.Syrk(false, 1, t, 1, kc)
		if s > 0 {
			linalg.Gemm(false, true, 1, bs.Slice(0, s, 0, w), t, 1, kt)
		}
	}
	linalg.Symmetrize(kc)
	return kc, kt
}

// design returns the centred (and with std scaled) training and test
// feature matrices in float64 for the primal path, and the training means.
func design[T linalg.Float](tr, te rows[T], std bool) (xc, xt mat, mean []float64) {
	q := tr.m.Cols
	xc = linalg.NewMatrix[float64](tr.n(), q)
	xt = linalg.NewMatrix[float64](te.n(), q)
	mean = make([]float64, q)
	scale := make([]float64, q)
	colStats(tr, 0, q, std, mean, scale)
	fillChunk(xc, tr, 0, q, mean, scale)
	fillChunk(xt, te, 0, q, mean, scale)
	return xc, xt, mean
}

// colStats fills the training mean and the divisor (1, or the standard
// deviation with ddof 0; 1 for a constant feature, as StandardScaler) of
// features c0…c0+w-1.
func colStats[T linalg.Float](tr rows[T], c0, w int, std bool, mean, scale []float64) {
	m := tr.n()
	clear(mean[:w])
	for i := 0; i < m; i++ {
		r := tr.row(i)[c0 : c0+w]
		for c, v := range r {
			mean[c] += float64(v)
		}
	}
	for c := range w {
		mean[c] /= float64(m)
		scale[c] = 1
	}
	if !std {
		return
	}
	v2 := make([]float64, w)
	for i := 0; i < m; i++ {
		r := tr.row(i)[c0 : c0+w]
		for c, v := range r {
			d := float64(v) - mean[c]
			v2[c] += d * d
		}
	}
	for c := range w {
		if sd := math.Sqrt(v2[c] / float64(m)); sd > 0 {
			scale[c] = sd
		}
	}
}

func fillChunk[T linalg.Float](dst mat, src rows[T], c0, w int, mean, scale []float64) {
	for i := 0; i < src.n(); i++ {
		r := src.row(i)[c0 : c0+w]
		d := dst.Row(i)[:w]
		for c, v := range r {
			d[c] = (float64(v) - mean[c]) / scale[c]
		}
	}
}

// fromGram derives the centred kernels of a split from a Gram matrix g
// (of any translation of the features): centring with the training means is
// Kc_ij = g_ij − r_i − r_j + μ, r_i the mean of g_ij over training j and μ
// the mean of r over training i; the same formula gives the cross kernel.
func fromGram(g mat, train, test []int, wc, wt *work) (kc, kt mat) {
	m := len(train)
	rmean := func(i int) float64 {
		row := g.Row(i)
		s := 0.0
		for _, j := range train {
			s += row[j]
		}
		return s / float64(m)
	}
	rt := make([]float64, m)
	mu := 0.0
	for a, i := range train {
		rt[a] = rmean(i)
		mu += rt[a]
	}
	mu /= float64(m)
	kc = wc.mat64("kc", m, m)
	for a, i := range train {
		row, dst := g.Row(i), kc.Row(a)
		for b, j := range train {
			dst[b] = row[j] - rt[a] - rt[b] + mu
		}
	}
	kt = wt.mat64("kt", len(test), m)
	for a, i := range test {
		row, dst := g.Row(i), kt.Row(a)
		ri := rmean(i)
		for b, j := range train {
			dst[b] = row[j] - ri - rt[b] + mu
		}
	}
	return kc, kt
}

// decomp is a training part diagonalised once for every alpha. For a
// penalty α the fitted ridge model is, with p_k = 1/(λ_k+α):
//
//	kernel: c = V·diag(p)·Q, Q = Vᵀ·yc, test predictions Kt·V·diag(p)·Q + ȳ,
//	        exact LOO residual c_i / Σ_k V_ik² p_k (sklearn _RidgeGCV);
//	primal: fitted = Z·diag(p)·R, Z = Xc·U, R = Zᵀ·yc, test Xt·U·diag(p)·R + ȳ,
//	        LOO residual (yc − fitted)_i / (1 − 1/m − Σ_k Z_ik² p_k).
//
// In the kernel case the eigenvector along the ones vector (the intercept
// direction, made distinct by adding 11ᵀ as sklearn does) gets p = 0.
type decomp struct {
	basis  mat // m×r: V or Z
	lambda []float64
	skip   int // eigenvector index with p = 0, or -1
	test   mat // s×r: Kt·V or Xt·U
	coef   mat // r×p: Q or R
	primal bool
	rot    mat // primal: U, q×q (Fit's coefficients are U·diag(p)·R)
	// tri is set for the tridiagonal route (tri.go): basis is then H,
	// coef Hᵀ·yc, test the test kernel Kt itself (predictions are
	// Kt·(H·b): for few targets cheaper than forming Kt·H), and there are
	// no eigenvalues.
	tri *tridiag

	// What the selection needs besides the targets, made once per
	// decomposition (by CV before its blocks of targets go to the
	// workers, or lazily by the first call) and shared by every block (it
	// depends on the basis and the alphas only; every call on one
	// decomposition passes the same alphas).
	inv      []float64       // 1 / LOO denominator, [stimulus·len(alphas) + alpha]
	bandsF32 []band[float32] // alpha compression
}

// prepare makes what is missing of the selection set-up for LOO (loo) or
// held-out errors, in float64 (f64) or float32.
func (d *decomp) prepare(alphas []float64, f64, loo bool, wk *work) {
	if loo && d.inv == nil {
		d.inv = d.looInv(alphas, wk)
	}
	if f64 {
		return
	}
	if d.bandsF32 == nil {
		d.bandsF32 = d.bands(alphas)
	}
}

func (d *decomp) weights(alpha float64, dst []float64) {
	if d.tri != nil {
		panic("ridge: eigenvalue weights of a tridiagonal decomposition")
	}
	for k, l := range d.lambda {
		dst[k] = 1 / (l + alpha)
	}
	if d.skip >= 0 {
		dst[d.skip] = 0
	}
}

// kernelDecomp diagonalises Kc + 11ᵀ (kc is overwritten); setCoef then
// brings in the targets. The test-kernel product goes to w, LAPACK's
// workspace to scratch's slab (both may be nil).
func kernelDecomp(kc, kt mat, w, scratch *work) (*decomp, error) {
	m := kc.Rows
	for i := range m {
		r := kc.Row(i)
		for j := range r {
			r[j]++
		}
	}
	lambda := make([]float64, m)
	var ws []float64
	if scratch != nil {
		ws = scratch.slab().grow(linalg.SymEigWorkLen(m))
	}
	if err := linalg.SymEigScratch(kc, lambda, ws); err != nil {
		return nil, err
	}
	// The eigenvector closest to the ones vector (sklearn _find_smallest_angle).
	col := make([]float64, m)
	for i := range m {
		r := kc.Row(i)
		for k, v := range r {
			col[k] += v
		}
	}
	skip, best := 0, -1.0
	for k, v := range col {
		if math.Abs(v) > best {
			skip, best = k, math.Abs(v)
		}
	}
	d := &decomp{basis: kc, lambda: lambda, skip: skip}
	d.test = w.mat64("test", kt.Rows, m)
	linalg.Gemm(false, false, 1, kt, kc, 0, d.test)
	return d, nil
}

// primalDecomp diagonalises Xcᵀ·Xc; setCoef then brings in the targets.
func primalDecomp(xc, xt mat) (*decomp, error) {
	q := xc.Cols
	u := linalg.NewMatrix[float64](q, q)
	linalg.Syrk(true, 1, xc, 0, u)
	lambda := make([]float64, q)
	if err := linalg.SymEig(u, lambda); err != nil {
		return nil, err
	}
	for k, l := range lambda {
		lambda[k] = max(l, 0) // a tiny negative rounding of a zero eigenvalue
	}
	d := &decomp{lambda: lambda, skip: -1, primal: true, rot: u}
	d.basis = linalg.NewMatrix[float64](xc.Rows, q)
	linalg.Gemm(false, false, 1, xc, u, 0, d.basis)
	d.test = linalg.NewMatrix[float64](xt.Rows, q)
	linalg.Gemm(false, false, 1, xt, u, 0, d.test)
	return d, nil
}

// setCoef projects centred targets yc (m×w, any block of the targets)
// on the basis: coef = basisᵀ·yc, Q or R above.
func (d *decomp) setCoef(yc mat, w *work) {
	d.coef = w.mat64("coef", d.basis.Cols, yc.Cols)
	linalg.Gemm(true, false, 1, d.basis, yc, 0, d.coef)
}

// predict writes the test predictions for alpha[j] of target j into dst
// (s×p), adding ybar.
func (d *decomp) predict(dst mat, alpha, ybar []float64, wk *work) {
	r, p := d.coef.Rows, d.coef.Cols
	b := wk.mat64("yc", r, p) // the centred targets are no longer needed
	d.weighted(b, alpha, wk)
	if d.tri != nil { // the dual coefficients H·b, then Kt times them
		c := wk.mat64("dual", d.basis.Rows, p)
		linalg.Gemm(false, false, 1, d.basis, b, 0, c)
		b = c
	}
	linalg.Gemm(false, false, 1, d.test, b, 0, dst)
	for i := range dst.Rows {
		row := dst.Row(i)
		for j := range row {
			row[j] += ybar[j]
		}
	}
}

// weighted writes diag(weights of alpha[j])·coef[:, j] for every target j
// into b (r×p): the fitted model's coefficients in the basis.
func (d *decomp) weighted(b mat, alpha []float64, wk *work) {
	r, p := d.coef.Rows, d.coef.Cols
	if d.tri != nil {
		group := intBuf(wk, "predGroup", p)
		for j, a := range alpha {
			group[j] = slices.Index(d.tri.alphas, a)
			if group[j] < 0 {
				panic("ridge: prediction with an alpha not in the grid")
			}
		}
		for k := range r {
			copy(b.Row(k)[:p], d.coef.Row(k))
		}
		solveCols(b, d.tri.fac, group)
		return
	}
	// Each target's weights are those of its alpha, made once per
	// distinct alpha (a few of the grid); no per-target allocation, as CV
	// calls this for every block of targets of every fold.
	group := intBuf(wk, "predGroup", p)
	var uniq []float64
	for j, a := range alpha {
		g := slices.Index(uniq, a)
		if g < 0 {
			g = len(uniq)
			uniq = append(uniq, a)
		}
		group[j] = g
	}
	ws := wk.mat64("predW", len(uniq), r)
	for g, a := range uniq {
		d.weights(a, ws.Row(g))
	}
	for k := range r {
		src, dr := d.coef.Row(k), b.Row(k)
		for j, g := range group {
			dr[j] = ws.Data[g*r+k] * src[j]
		}
	}
}

// looErrors adds the leave-one-out squared errors of every alpha and
// target to errs[a][j] (summed over the m training stimuli).
func (d *decomp) looErrors(alphas []float64, yc mat, f64 bool, errs [][]float64, wk *work) {
	d.prepare(alphas, f64, true, wk)
	var base *mat
	if d.primal {
		base = &yc
	}
	if f64 {
		accum(d.basis, d.coef, []band[float64]{d.direct(alphas)}, base, d.inv, errs, wk)
		return
	}
	// The basis in float32 is made for each call, in the worker's buffer,
	// rather than kept with the decomposition: converting it is a small
	// part of a block's work, and CV's block-major order holds every
	// fold's decomposition at once (issue 18's fMRI memory bound).
	b := d.basis
	b32 := linalg.View(b.Rows, b.Cols, buf[float32](wk, "basis32", b.Rows*b.Cols))
	for i := range b.Rows {
		src, dst := b.Row(i), b32.Row(i)
		for k, v := range src {
			dst[k] = float32(v)
		}
	}
	accum(b32, d.coef, d.bandsF32, base, d.inv, errs, wk)
}

// looInv returns the inverses of the leave-one-out denominators of every
// training stimulus and alpha, Σ_k basis_ik² w_k(α) (kernel) or 1 − 1/m −
// that (primal), stimulus-major.
func (d *decomp) looInv(alphas []float64, wk *work) []float64 {
	m, r, na := d.basis.Rows, d.basis.Cols, len(alphas)
	// Diagonal terms Σ_k basis_ik² w_k(α) for all alphas, by GEMMs over
	// blocks of rows (the squared basis is never stored whole).
	wm := wk.mat64("looW", na, r)
	for a, al := range alphas {
		d.weights(al, wm.Row(a))
	}
	dm := wk.mat64("looInv", m, na)
	const rb = 64
	v2 := wk.mat64("looV2", min(rb, m), r)
	for i0 := 0; i0 < m; i0 += rb {
		i1 := min(i0+rb, m)
		blk := v2.Slice(0, i1-i0, 0, r)
		for i := i0; i < i1; i++ {
			src, dst := d.basis.Row(i), blk.Row(i-i0)
			for k, v := range src {
				dst[k] = v * v
			}
		}
		linalg.Gemm(false, true, 1, blk, wm, 0, dm.Slice(i0, i1, 0, na))
	}
	inv := dm.Data[:m*na]
	for i := range inv {
		if d.primal {
			inv[i] = 1 - 1/float64(m) - inv[i]
		}
		inv[i] = 1 / inv[i]
	}
	return inv
}

// foldErrors adds the squared test errors of every alpha and target.
func (d *decomp) foldErrors(alphas []float64, ytc mat, f64 bool, errs [][]float64, wk *work) {
	if d.tri != nil {
		panic("ridge: held-out errors of a tridiagonal decomposition (its test rows are Kt, not Kt·H)")
	}
	d.errors(d.test, alphas, &ytc, nil, f64, errs, wk)
}

func (d *decomp) errors(m mat, alphas []float64, base *mat, inv []float64, f64 bool, errs [][]float64, wk *work) {
	if f64 {
		accum(m, d.coef, []band[float64]{d.direct(alphas)}, base, inv, errs, wk)
		return
	}
	d.prepare(alphas, f64, false, wk)
	bs := d.bandsF32
	m32 := linalg.View(m.Rows, m.Cols, buf[float32](wk, "m32", m.Rows*m.Cols))
	for i, v := range m.Data[:m.Rows*m.Cols] {
		m32.Data[i] = float32(v)
	}
	accum(m32, d.coef, bs, base, inv, errs, wk)
}

// band is a contiguous range [k0,k1) of eigen-indices (eigenvalues are in
// ascending order) with the weights g[s][k-k0] of its directly computed
// alphas and the combination t (len(g)×len(alphas)) giving every alpha; an
// empty t means g holds every alpha in order (only for a single band).
type band[T linalg.Float] struct {
	k0, k1 int
	g      [][]float64
	t      linalg.Matrix[T]
	// tri: the tridiagonal route's single band, every alpha of the grid
	// direct (g and t empty).
	tri *tridiag
}

// count is how many alphas the band computes directly.
func (bd band[T]) count() int {
	if bd.tri != nil {
		return len(bd.tri.fac)
	}
	return len(bd.g)
}

// fill is scaled, or for the tridiagonal route its solves.
func (bd band[T]) fill(b linalg.Matrix[T], coef mat, j0, w int, wk *work) {
	if bd.tri != nil {
		triFill(b, bd.tri, coef, j0, w, wk)
		return
	}
	bd.scaled(b, coef, j0, w)
}

// scaled writes row k of b as the band's weights g[s][k] times the
// coefficients of targets j0…j0+w-1 of eigen-index k0+k, target-major
// (column j·ns+s).
func (bd band[T]) scaled(b linalg.Matrix[T], coef mat, j0, w int) {
	ns := len(bd.g)
	gk := make([]float64, ns)
	for k := range bd.k1 - bd.k0 {
		for s := range gk {
			gk[s] = bd.g[s][k]
		}
		src := coef.Row(bd.k0 + k)[j0 : j0+w]
		dst := b.Row(k)[:w*ns]
		switch ns {
		case 4: // alpha compression's usual count on narrow spectra
			g0, g1, g2, g3 := gk[0], gk[1], gk[2], gk[3]
			for j, v := range src {
				o := dst[4*j : 4*j+4 : 4*j+4]
				o[0], o[1], o[2], o[3] = T(g0*v), T(g1*v), T(g2*v), T(g3*v)
			}
		case 3:
			g0, g1, g2 := gk[0], gk[1], gk[2]
			for j, v := range src {
				o := dst[3*j : 3*j+3 : 3*j+3]
				o[0], o[1], o[2] = T(g0*v), T(g1*v), T(g2*v)
			}
		default:
			for j, v := range src {
				o := dst[j*ns : (j+1)*ns]
				for s, g := range gk[:len(o)] {
					o[s] = T(g * v)
				}
			}
		}
	}
}

func (d *decomp) direct(alphas []float64) band[float64] {
	if d.tri != nil {
		return band[float64]{k0: 0, k1: d.basis.Cols, tri: d.tri}
	}
	b := band[float64]{k0: 0, k1: len(d.lambda), g: make([][]float64, len(alphas))}
	for a, al := range alphas {
		b.g[a] = make([]float64, len(d.lambda))
		d.weights(al, b.g[a])
	}
	return b
}

// bandFactor and minBand shape the eigenvalue bands of the compression:
// a band spans at most a factor bandFactor in λ+min(alpha) and holds at
// least minBand eigenvalues (narrower products run below GEMM speed).
// combineCost is the cost, in multiply-adds per element of the
// (stimuli·targets × alphas) result, charged for accumulating one band's
// combination (it is memory-bound).
const (
	bandFactor  = 16
	minBand     = 64
	combineCost = 50
)

// bands splits the spectrum for alpha compression. Weight vectors over a
// narrow band of eigenvalues are combinations of few alphas even when the
// whole spectrum is wide, so each band is compressed on its own and the
// residuals are the sum of the bands' combinations. The split is used only
// when the estimated cost beats one band (compressed or direct).
func (d *decomp) bands(alphas []float64) []band[float32] {
	na, r := len(alphas), len(d.lambda)
	amin := slices.Min(alphas)
	mk := func(k0, k1 int) (band[float32], float64) {
		skip := -1
		if d.skip >= k0 && d.skip < k1 {
			skip = d.skip - k0
		}
		sel, t := compress(d.lambda[k0:k1], skip, alphas)
		b := band[float32]{k0: k0, k1: k1, g: make([][]float64, len(sel))}
		w := make([]float64, r)
		for s, a := range sel {
			d.weights(alphas[a], w)
			b.g[s] = slices.Clone(w[k0:k1])
		}
		if t != nil {
			b.t = toF32(*t)
		} else {
			b.t = linalg.NewMatrix[float32](na, na)
			for a := range na {
				b.t.Data[a*na+a] = 1
			}
		}
		return b, float64((k1-k0)*len(sel)) + float64(na*(len(sel)+combineCost))
	}
	one, cost1 := mk(0, r)
	if len(one.g) == na {
		one.t = linalg.Matrix[float32]{} // direct: no combination needed
		cost1 = float64(r * na)
	}
	var split []band[float32]
	cost2 := 0.0
	k0 := 0
	for k0 < r {
		k1 := k0 + 1
		base := max(d.lambda[k0], 0) + amin
		for k1 < r && (k1-k0 < minBand || max(d.lambda[k1], 0)+amin <= bandFactor*base) {
			k1++
		}
		if r-k1 < minBand {
			k1 = r
		}
		b, c := mk(k0, k1)
		split = append(split, b)
		cost2 += c
		k0 = k1
	}
	if len(split) > 1 && cost2 < cost1 {
		return split
	}
	return []band[float32]{one}
}

// Alpha compression. Every quantity the selection needs is linear in the
// weight vector w(α)_k = 1/(λ_k+α), so when those vectors are (to rounding)
// linear combinations of a few of them, w(α_a) = Σ_s T_sa w(α_s), only the
// alphas s need the large product and the rest follow by combination. That
// holds when the spectrum is narrow compared with the grid (e.g. random
// features); for wide spectra compress finds no gain and every alpha is
// computed directly. The combination is accepted only when, for every alpha
// and every eigenvalue, the weight is reproduced to compressTol relative
// (so each residual vector is within compressTol of exact, normwise) and
// the float32 rounding of the computed columns is amplified at most
// compressAmp times.
const (
	compressTol    = 1e-6
	compressAmp    = 8
	compressPoints = 256 // eigenvalues used for the least-squares fit
)

// compress chooses the alphas computed directly (sel, indices into alphas)
// and the coefficients T (len(sel) × len(alphas)); T is nil when every
// alpha is direct.
func compress(lambda []float64, skip int, alphas []float64) (sel []int, t *mat) {
	na := len(alphas)
	all := func() ([]int, *mat) {
		sel := make([]int, na)
		for a := range sel {
			sel[a] = a
		}
		return sel, nil
	}
	var lam []float64
	for k, l := range lambda {
		if k != skip {
			lam = append(lam, l)
		}
	}
	if na < 4 || len(lam) == 0 {
		return all()
	}
	lmin, lmax := math.Inf(1), math.Inf(-1)
	for _, l := range lam {
		lmin, lmax = min(lmin, l), max(lmax, l)
	}
	for _, a := range alphas {
		if !(lmin+a > 0) {
			return all()
		}
	}
	// Fit points: eigenvalue quantiles.
	sorted := slices.Clone(lam)
	slices.Sort(sorted)
	np := min(len(sorted), compressPoints)
	fit := make([]float64, np)
	for i := range np {
		fit[i] = sorted[i*(len(sorted)-1)/max(np-1, 1)]
	}
	inSel := make([]bool, na)
	var scratch []float64
	sel = []int{0, na - 1}
	inSel[0], inSel[na-1] = true, true
	for len(sel) <= na/2 {
		ns := len(sel)
		tm := linalg.NewMatrix[float64](ns, na)
		worst, worstScore := -1, 1.0
		for a := range na {
			if inSel[a] {
				continue
			}
			coef, ok := fitAlpha(fit, alphas, sel, alphas[a], &scratch)
			if !ok {
				return all()
			}
			// Check on every eigenvalue.
			e, amp := 0.0, 0.0
			for s, c := range coef {
				rmax := 0.0
				for _, l := range []float64{lmin, lmax} {
					rmax = max(rmax, (l+alphas[a])/(l+alphas[sel[s]]))
				}
				amp += math.Abs(c) * rmax
			}
			for _, l := range lam {
				v := 0.0
				for s, c := range coef {
					v += c * (l + alphas[a]) / (l + alphas[sel[s]])
				}
				e = max(e, math.Abs(1-v))
			}
			if sc := max(e/compressTol, amp/compressAmp); sc > worstScore || math.IsNaN(sc) {
				worst, worstScore = a, sc
				if math.IsNaN(sc) {
					worstScore = math.Inf(1)
				}
			}
			for s, c := range coef {
				tm.Data[s*na+a] = c
			}
		}
		if worst < 0 {
			for s, a := range sel {
				tm.Data[s*na+a] = 1
			}
			return sel, &tm
		}
		sel = append(sel, worst)
		inSel[worst] = true
	}
	return all()
}

// fitAlpha solves min Σ_points (1 − Σ_s c_s (λ+α)/(λ+α_s))² by Householder
// QR in scratch (grown as needed); false when the columns are numerically
// dependent (condition of R beyond 1e16, as gonum's QR solve refuses).
func fitAlpha(fit, alphas []float64, sel []int, alpha float64, scratch *[]float64) ([]float64, bool) {
	m, n := len(fit), len(sel)
	if need := m*n + m + n; cap(*scratch) < need {
		*scratch = make([]float64, need)
	}
	buf := (*scratch)[:m*n+m+n]
	a, b, x := buf[:m*n], buf[m*n:m*n+m], buf[m*n+m:]
	for i, l := range fit {
		for s, as := range sel {
			a[i*n+s] = (l + alpha) / (l + alphas[as])
		}
		b[i] = 1
	}
	rmin, rmax := math.Inf(1), 0.0
	for j := range n {
		norm := 0.0
		for i := j; i < m; i++ {
			norm = math.Hypot(norm, a[i*n+j])
		}
		if norm == 0 {
			return nil, false
		}
		d := -math.Copysign(norm, a[j*n+j])
		a[j*n+j] -= d // v = column j below the diagonal, v_j = a_jj − d
		vv := 0.0
		for i := j; i < m; i++ {
			vv += a[i*n+j] * a[i*n+j]
		}
		apply := func(col func(i int) *float64) {
			dot := 0.0
			for i := j; i < m; i++ {
				dot += a[i*n+j] * *col(i)
			}
			f := 2 * dot / vv
			for i := j; i < m; i++ {
				*col(i) -= f * a[i*n+j]
			}
		}
		for c := j + 1; c < n; c++ {
			apply(func(i int) *float64 { return &a[i*n+c] })
		}
		apply(func(i int) *float64 { return &b[i] })
		a[j*n+j] = d // R's diagonal (the rest of column j is v, unused below)
		rmin, rmax = min(rmin, math.Abs(d)), max(rmax, math.Abs(d))
	}
	if rmax > 1e16*rmin {
		return nil, false
	}
	for j := n - 1; j >= 0; j-- {
		v := b[j]
		for c := j + 1; c < n; c++ {
			v -= a[j*n+c] * x[c]
		}
		x[j] = v / a[j*n+j]
	}
	return x, true
}

// selectBuf bounds the elements of the three selection buffers together
// (8 MiB in float32): enough targets per block for GEMM efficiency, little
// memory next to the inputs.
const selectBuf = 1 << 21

// accum adds Σ_i (e_ij · inv[i·len(errs)+a])² to errs[a][j] for every
// alpha a and target j, where e = base − M·diag(w_a)·coef, or
// e = M·diag(w_a)·coef when base is nil; inv nil means 1. For each band,
// the weight vectors g[s] of its directly computed alphas go through one GEMM per block of targets
// (columns ordered target-major, so the result reads as a
// (rows·targets) × len(g) matrix), and its combination t adds the band's
// share of every alpha's residual (one more GEMM).
func accum[T linalg.Float](m linalg.Matrix[T], coef mat, bands []band[T], base *mat, inv []float64, errs [][]float64, wk *work) {
	if quadratic(bands, base, len(errs)) {
		accumQuad(m, coef, bands, base, inv, errs, wk)
		return
	}
	rows, r, p := m.Rows, m.Cols, coef.Cols
	na := len(errs)
	maxS := 0
	for _, b := range bands {
		maxS = max(maxS, b.count())
	}
	pb := max(1, min(p, selectBuf/(r*maxS+rows*maxS+rows*na)))
	sl := wk.slab()
	sl.grow(words[T](r*pb*maxS) + words[T](rows*pb*maxS) + words[T](rows*pb*na))
	bbuf := carve[T](sl, r*pb*maxS)
	cbuf := carve[T](sl, rows*pb*maxS)
	obuf := carve[T](sl, rows*pb*na)
	if inv == nil {
		inv = make([]float64, rows*na)
		for i := range inv {
			inv[i] = 1
		}
	}
	// reused across blocks (cleared before each use): per-block garbage
	// would pile up to the size of the inputs before a collection
	eb := buf[float64](wk, "accumE", pb*na)
	eb2 := buf[float64](wk, "accumE2", pb*na)
	for j0 := 0; j0 < p; j0 += pb {
		w := min(pb, p-j0)
		var res linalg.Matrix[T]
		for bi, bd := range bands {
			ns, kk := bd.count(), bd.k1-bd.k0
			b := linalg.View(kk, w*ns, bbuf)
			bd.fill(b, coef, j0, w, wk)
			c := linalg.View(rows, w*ns, cbuf)
			linalg.Gemm(false, false, 1, m.Slice(0, rows, bd.k0, bd.k1), b, 0, c)
			res = linalg.View(rows*w, ns, cbuf)
			if bd.t.Rows > 0 {
				o := linalg.View(rows*w, na, obuf)
				beta := T(1)
				if bi == 0 {
					beta = 0
				}
				linalg.Gemm(false, false, 1, res, bd.t, beta, o)
				res = o
			}
		}
		// Two fixed halves of the rows in parallel (BLAS is idle here); the
		// split does not depend on the core count, so results are
		// reproducible.
		clear(eb)
		clear(eb2)
		sum := func(i0, i1 int, eb []float64) {
			for i := i0; i < i1; i++ {
				iv := inv[i*na : (i+1)*na]
				var br []float64
				if base != nil {
					br = base.Row(i)[j0 : j0+w]
				}
				for j := range w {
					row := res.Data[(i*w+j)*na : (i*w+j+1)*na]
					e := eb[j*na : (j+1)*na]
					e, iv := e[:len(row)], iv[:len(row)] // no bounds checks below
					if br != nil {
						y := br[j]
						for a, v := range row {
							x := (y - float64(v)) * iv[a]
							e[a] += x * x
						}
					} else {
						for a, v := range row {
							x := float64(v) * iv[a]
							e[a] += x * x
						}
					}
				}
			}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum(0, rows/2, eb)
		}()
		sum(rows/2, rows, eb2)
		wg.Wait()
		for j := range w {
			for a := range na {
				errs[a][j0+j] += eb[j*na+a] + eb2[j*na+a]
			}
		}
	}
}

// forceQuadratic overrides the choice between accum's two ways of summing
// the squared errors (tests run both): 0 chooses by cost, 1 forces the
// quadratic form, -1 the elementwise sum.
var forceQuadratic = 0

// quadratic reports whether accumQuad is the cheaper way to sum the squared
// errors: per stimulus and target, the elementwise sum costs a few
// operations for every alpha, the quadratic form one product for every pair
// of residual components (and a vectorised GEMM), so it pays when the pairs
// are no more than the alphas (alpha compression to at most 5 of 20).
func quadratic[T linalg.Float](bands []band[T], base *mat, na int) bool {
	switch forceQuadratic {
	case 1:
		return true
	case -1:
		return false
	}
	nc := 0
	for _, b := range bands {
		if b.t.Rows == 0 {
			return false // every alpha direct: nothing to save
		}
		nc += b.count()
	}
	if base != nil {
		nc++
	}
	return nc*(nc+1)/2 <= na
}

// accumQuad is accum through the quadratic form of the residuals. The
// residual of alpha a is e_a = Σ_c T_ca R_c over a few components R_c (each
// band's directly computed alphas, and −base), so
//
//	Σ_i inv_ia² e_ia² = Σ_{c≤d} (2−δ_cd) T_ca T_da Σ_i inv_ia² R_ic R_id:
//
// one elementwise product per pair of components and one float64 GEMM
// (inv²ᵀ times the products) give every alpha at once, instead of forming
// the residual of every alpha of every stimulus. The products of the
// float32 components are exact in float64 and summed in float64, so the
// expansion adds no rounding worth the name to that of the components.
func accumQuad[T linalg.Float](m linalg.Matrix[T], coef mat, bands []band[T], base *mat, inv []float64, errs [][]float64, wk *work) {
	rows, r, p := m.Rows, m.Cols, coef.Cols
	na := len(errs)
	// Components: band b's direct alpha s, then base; tc[c] its
	// coefficient in the residual of every alpha.
	type comp struct{ b, s int }
	var comps []comp
	var tc [][]float64
	maxS, off := 0, make([]int, len(bands)+1) // off: first component of band
	for bi, bd := range bands {
		maxS = max(maxS, bd.count())
		off[bi] = len(comps)
		for s := range bd.count() {
			comps = append(comps, comp{bi, s})
			row := make([]float64, na)
			for a := range na {
				if bd.t.Rows == 0 {
					if s == a {
						row[a] = 1
					}
				} else {
					row[a] = float64(bd.t.At(s, a))
				}
			}
			tc = append(tc, row)
		}
	}
	nb := len(comps) // components held in cbuf
	off[len(bands)] = nb
	if base != nil {
		row := make([]float64, na)
		for a := range row {
			row[a] = -1
		}
		tc = append(tc, row)
	}
	nc := len(tc)
	type pair struct{ c, d int }
	var pairs []pair
	for c := range nc {
		for d := c; d < nc; d++ {
			pairs = append(pairs, pair{c, d})
		}
	}
	np := len(pairs)
	pc := make([][]float64, np) // pc[q][a]: the pair's coefficient for alpha a
	for q, pr := range pairs {
		pc[q] = make([]float64, na)
		mul := 2.0
		if pr.c == pr.d {
			mul = 1
		}
		for a := range na {
			pc[q][a] = mul * tc[pr.c][a] * tc[pr.d][a]
		}
	}
	var z T
	size := int(unsafe.Sizeof(z))
	perTarget := size*(r*maxS+rows*nb) + 8*(rows*np+na*np)
	pb := max(1, min(p, selectBuf*4/perTarget))
	sl := wk.slab()
	sl.grow(words[float64](rows*na) + words[T](r*pb*maxS) + words[T](rows*pb*nb) + words[float64](rows*pb*np) + words[float64](na*pb*np))
	// inv² as a rows × na matrix.
	inv2 := linalg.View(rows, na, carve[float64](sl, rows*na))
	for i := range inv2.Data {
		v := 1.0
		if inv != nil {
			v = inv[i]
		}
		inv2.Data[i] = v * v
	}
	bbuf := carve[T](sl, r*pb*maxS)
	cbuf := carve[T](sl, rows*pb*nb)
	pbuf := carve[float64](sl, rows*pb*np)
	sbuf := carve[float64](sl, na*pb*np)
	for j0 := 0; j0 < p; j0 += pb {
		w := min(pb, p-j0)
		cs := make([]linalg.Matrix[T], len(bands))
		for bi, bd := range bands {
			ns, kk := bd.count(), bd.k1-bd.k0
			b := linalg.View(kk, w*ns, bbuf)
			bd.fill(b, coef, j0, w, wk)
			cs[bi] = linalg.View(rows, w*ns, cbuf[rows*w*off[bi]:])
			linalg.Gemm(false, false, 1, m.Slice(0, rows, bd.k0, bd.k1), b, 0, cs[bi])
		}
		// The products of every pair (pair-major: column q·w+j), in two
		// fixed halves of the rows in parallel (BLAS is idle here). Each
		// row's components are first gathered into float64 rows of w.
		pm := linalg.View(rows, np*w, pbuf)
		prod := func(i0, i1 int) {
			v := make([]float64, nc*w)
			for i := i0; i < i1; i++ {
				for c, cp := range comps {
					ns := bands[cp.b].count()
					src := cs[cp.b].Row(i)[cp.s:]
					dst := v[c*w : (c+1)*w]
					for j := range dst {
						dst[j] = float64(src[j*ns])
					}
				}
				if base != nil {
					copy(v[nb*w:(nb+1)*w], base.Row(i)[j0:j0+w])
				}
				dst := pm.Row(i)
				for q, pr := range pairs {
					o := dst[q*w : (q+1)*w]
					x, y := v[pr.c*w:(pr.c+1)*w], v[pr.d*w:(pr.d+1)*w]
					x, y = x[:len(o)], y[:len(o)]
					for j := range o {
						o[j] = x[j] * y[j]
					}
				}
			}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			prod(0, rows/2)
		}()
		prod(rows/2, rows)
		wg.Wait()
		sm := linalg.View(na, np*w, sbuf)
		linalg.Gemm(true, false, 1, inv2, pm, 0, sm)
		for a := range na {
			srow, e := sm.Row(a), errs[a][j0:j0+w]
			for j := range w {
				sum := 0.0
				for q := range np {
					sum += pc[q][a] * srow[q*w+j]
				}
				e[j] += sum
			}
		}
	}
}

// best returns, per target, the index of the alpha with the smallest error;
// ties and NaNs keep the earlier alpha (sklearn updates on a strict gain).
func best(errs [][]float64) []int {
	idx := make([]int, len(errs[0]))
	for j := range idx {
		idx[j] = bestAt(errs, j)
	}
	return idx
}

// bestAt is best for target j.
func bestAt(errs [][]float64, j int) int {
	be, idx := math.Inf(1), 0
	for a := range errs {
		if e := errs[a][j]; e < be {
			be, idx = e, a
		}
	}
	return idx
}

func toF32(m mat) linalg.Matrix[float32] {
	o := linalg.NewMatrix[float32](m.Rows, m.Cols)
	for i := range m.Rows {
		src, dst := m.Row(i), o.Row(i)
		for j, v := range src {
			dst[j] = float32(v)
		}
	}
	return o
}

// work keeps the large per-fold buffers of CV so later folds reuse them
// (a nil *work allocates fresh ones). A reused buffer keeps its old
// contents: every user overwrites the whole of it (GEMMs with β = 0 set
// their output without reading it). One key is never used for two live
// matrices.
type work struct {
	f64  map[string][]float64
	f32  map[string][]float32
	ints map[string][]int
	sl   *slab
}

// slab is one float64 buffer lent in turn to whatever needs scratch
// memory between two uses (LAPACK's workspace, the selection buffers), so
// that they share the memory; carve hands out consecutive pieces of it.
type slab struct {
	buf []float64
	off int // elements handed out since the last reset
}

// slab returns w's slab, emptied (nil w: a fresh one, not kept).
func (w *work) slab() *slab {
	if w == nil {
		return &slab{}
	}
	if w.sl == nil {
		w.sl = &slab{}
	}
	w.sl.off = 0
	return w.sl
}

// grow returns the first n elements of the slab as float64, enlarging it
// if needed (nothing carved before survives that).
func (s *slab) grow(n int) []float64 {
	if cap(s.buf) < n {
		s.buf = make([]float64, n)
	}
	s.buf = s.buf[:cap(s.buf)]
	return s.buf[:n]
}

// words is how many float64 slots n elements of type T take.
func words[T linalg.Float](n int) int {
	var z T
	return (n*int(unsafe.Sizeof(z)) + 7) / 8
}

// carve returns the next n elements of type T of the slab, which must have
// room for them (grow first).
func carve[T linalg.Float](s *slab, n int) []T {
	w := words[T](n)
	if s.off+w > cap(s.buf) {
		panic("ridge: slab carved beyond its size")
	}
	p := s.buf[s.off : s.off+w : s.off+w]
	s.off += w
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&p[0])), n)
}

func newWork() *work {
	return &work{f64: map[string][]float64{}, f32: map[string][]float32{}, ints: map[string][]int{}}
}

// intBuf is buf for ints.
func intBuf(w *work, key string, n int) []int {
	if w == nil {
		return make([]int, n)
	}
	b := w.ints[key]
	if cap(b) < n {
		b = make([]int, n)
		w.ints[key] = b
	}
	return b[:n]
}

func (w *work) mat64(key string, r, c int) mat {
	return linalg.View(r, c, buf[float64](w, key, r*c))
}

func buf[T linalg.Float](w *work, key string, n int) []T {
	if w == nil {
		return make([]T, n)
	}
	var out []T
	switch m := any(&out).(type) {
	case *[]float64:
		b := w.f64[key]
		if cap(b) < n {
			b = make([]float64, n)
			w.f64[key] = b
		}
		*m = b[:n]
	case *[]float32:
		b := w.f32[key]
		if cap(b) < n {
			b = make([]float32, n)
			w.f32[key] = b
		}
		*m = b[:n]
	}
	return out
}
