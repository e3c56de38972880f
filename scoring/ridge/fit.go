package ridge

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// Model is a ridge regression fitted on every stimulus by Fit: the
// prediction of target j for a stimulus x (a row of features) is
// x·Coef()[:, j] + Intercept[j].
//
// With more features q than stimuli n the coefficients are held as two
// factors, Coef = Xcᵀ·V (q×n) times the n×p weighted projections of the
// targets (as himalaya's KernelRidgeCV holds dual coefficients): that is
// (q + p)·n numbers instead of q·p, and Predict multiplies by the factors
// in turn (fewer operations than through the q×p product unless there
// are more new stimuli than training ones). Coef forms the q×p product on
// demand. A Model may be used from several goroutines at once.
type Model struct {
	Intercept []float64 // per target
	Alpha     []float64 // the penalty chosen for each target

	proj  linalg.Matrix[float64] // q×r
	mixed linalg.Matrix[float64] // r×p; Coef = proj·mixed
	coef  linalg.Matrix[float64] // q×p once formed
	once  sync.Once
}

// Coef returns the coefficients, features × targets, forming them the
// first time when they are held as factors. The caller must not modify
// the matrix.
func (m *Model) Coef() linalg.Matrix[float64] {
	m.once.Do(func() {
		if m.coef.Data != nil { // primal: formed by Fit
			return
		}
		m.coef = linalg.NewMatrix[float64](m.proj.Rows, m.mixed.Cols)
		linalg.Gemm(false, false, 1, m.proj, m.mixed, 0, m.coef)
	})
	return m.coef
}

// FitConfig is the penalty grid and selection precision of Fit.
type FitConfig struct {
	// Alphas is the penalty grid; nil means DefaultAlphas. Every value
	// must be positive and finite. Ties go to the earlier alpha.
	Alphas []float64
	// Float64Selection computes the leave-one-out errors in float64 and
	// without alpha compression, as Config.Float64Selection does for CV.
	Float64Selection bool
}

// Fit fits ridge models of every column of y (stimuli × targets) on x
// (stimuli × features) using every stimulus, with the penalty of each
// target chosen by exact leave-one-out error on those stimuli: sklearn's
// RidgeCV(alphas, alpha_per_target=True) with fit_intercept=True, the
// encoding model one fits on a whole training set to predict new stimuli
// (CV is the score; Fit is the model). Features and targets are centred,
// the intercept is not penalised.
//
// It is CV's inner step on all stimuli at once: one eigendecomposition
// (of the n×n centred kernel when there are more features than stimuli,
// else of the q×q covariance), the leave-one-out errors of every alpha in
// batched products per block of targets (float32 with alpha compression
// unless Float64Selection; see the package doc), and the coefficients
// for each target's alpha in float64. In the kernel case the model is
// held as two factors (see Model): Xcᵀ·V (q×n), formed once, and each
// target's weighted projection (n×p); Coef forms the q×p product on
// demand. Blocks of targets go to up to two workers, each with its share
// of BLAS's threads.
//
// Memory: besides the inputs and the model (q×n + n×p numbers in the
// kernel case, q×p otherwise), the n×n kernel and its eigenvectors and per
// worker a few n×256 blocks; nothing proportional to targets × alphas.
// Inputs are not modified. Bad data or configuration return errors
// wrapping ErrShape, ErrNonFinite or ErrConfig.
func Fit[T, U linalg.Float](x linalg.Matrix[T], y linalg.Matrix[U], cfg FitConfig) (*Model, error) {
	if err := (Config{Folds: 2, Alphas: cfg.Alphas}).Validate(); err != nil {
		return nil, err
	}
	alphas := Config{Alphas: cfg.Alphas}.alphas()
	n, q, p := x.Rows, x.Cols, y.Cols
	if y.Rows != n {
		return nil, fmt.Errorf("%w: x has %d stimuli (rows), y has %d", ErrShape, n, y.Rows)
	}
	if err := checkData(x, y); err != nil {
		return nil, err
	}
	if n < 3 {
		return nil, fmt.Errorf("%w: %d stimuli, leave-one-out selection needs at least 3", ErrShape, n)
	}
	all := rows[T]{m: x}
	none := rows[T]{m: x, idx: []int{}}
	var mean []float64 // the features' means
	var d *decomp
	var proj mat // q×r: the coefficients are proj·diag(weights)·coef
	if q > n {
		kc, kt := kernels(all, none, false)
		var err error
		if d, err = kernelDecomp(kc, kt, nil, nil); err != nil {
			return nil, fmt.Errorf("ridge: %w", err)
		}
		// proj = Xcᵀ·V, a chunk of features at a time.
		proj = linalg.NewMatrix[float64](q, n)
		mean = make([]float64, q)
		cw := min(chunkCols, q)
		chunk := linalg.NewMatrix[float64](n, cw)
		scale := make([]float64, cw)
		for c0 := 0; c0 < q; c0 += cw {
			w := min(cw, q-c0)
			colStats(all, c0, w, false, mean[c0:c0+w], scale)
			fillChunk(chunk, all, c0, w, mean[c0:c0+w], scale)
			linalg.Gemm(true, false, 1, chunk.Slice(0, n, 0, w), d.basis, 0, proj.Slice(c0, c0+w, 0, n))
		}
	} else {
		var xc, xt mat
		xc, xt, mean = design(all, none, false)
		var err error
		if d, err = primalDecomp(xc, xt); err != nil {
			return nil, fmt.Errorf("ridge: %w", err)
		}
		proj = d.rot
	}
	d.prepare(alphas, cfg.Float64Selection, true, newWork())
	// The intercept of target j is ȳ_j − x̄ᵀ·proj·mixed[:, j].
	shift := make([]float64, proj.Cols)
	linalg.Gemm(false, false, 1, linalg.View(1, q, mean), proj, 0, linalg.View(1, len(shift), shift))

	model := &Model{
		Intercept: make([]float64, p),
		Alpha:     make([]float64, p),
		proj:      proj,
	}
	if d.primal {
		model.coef = linalg.NewMatrix[float64](q, p)
	} else {
		model.mixed = linalg.NewMatrix[float64](n, p)
	}
	nb := (p + targetBlock - 1) / targetBlock
	nw := max(1, min(runtime.GOMAXPROCS(0), nb, maxWorkers))
	release := linalg.ShareBLAS(nw)
	defer release()
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := newWork()
			for {
				mu.Lock()
				b := next
				next++
				mu.Unlock()
				if b >= nb {
					return
				}
				j0, j1 := b*targetBlock, min(p, (b+1)*targetBlock)
				fitModelBlock(d, y, j0, j1, alphas, cfg.Float64Selection, shift, model, wk)
			}
		}()
	}
	wg.Wait()
	return model, nil
}

// fitModelBlock chooses the alphas of targets j0…j1-1 by leave-one-out
// and writes their coefficients (or mixed factor) and intercepts into
// model.
func fitModelBlock[U linalg.Float](shared *decomp, y linalg.Matrix[U], j0, j1 int, alphas []float64, f64 bool, shift []float64, model *Model, wk *work) {
	d := *shared // this block's coefficients; the rest is shared
	w := j1 - j0
	yc, ybar := centred(rows[U]{m: y.Slice(0, y.Rows, j0, j1)}, wk)
	d.setCoef(yc, wk)
	chosen := model.Alpha[j0:j1]
	d.chooseLOO(alphas, yc, f64, chosen, wk)
	r := d.coef.Rows
	var mixed mat
	if d.primal {
		mixed = wk.mat64("yc", r, w) // the centred targets are no longer needed
	} else {
		mixed = model.mixed.Slice(0, r, j0, j1)
	}
	d.weighted(mixed, chosen, wk)
	if d.primal {
		linalg.Gemm(false, false, 1, model.proj, mixed, 0, model.coef.Slice(0, model.coef.Rows, j0, j1))
	}
	icpt := model.Intercept[j0:j1]
	copy(icpt, ybar)
	for k, s := range shift {
		for j, c := range mixed.Row(k) {
			icpt[j] -= s * c
		}
	}
}

// Predict returns m's predictions for the stimuli in the rows of x
// (stimuli × targets), in float64.
func Predict[T linalg.Float](m *Model, x linalg.Matrix[T]) (linalg.Matrix[float64], error) {
	q := m.proj.Rows
	if x.Cols != q {
		return linalg.Matrix[float64]{}, fmt.Errorf("%w: x has %d features, the model was fitted on %d", ErrShape, x.Cols, q)
	}
	if err := checkFinite(x, "x", "feature"); err != nil {
		return linalg.Matrix[float64]{}, err
	}
	xf := linalg.NewMatrix[float64](x.Rows, q)
	for i := range x.Rows {
		dst := xf.Row(i)
		for c, v := range x.Row(i) {
			dst[c] = float64(v)
		}
	}
	out := linalg.NewMatrix[float64](x.Rows, len(m.Intercept))
	// Through the factors when the model holds them (whether or not Coef
	// has formed the product: Predict reads only what Fit wrote, so it
	// may run beside Coef), else through the coefficients Fit formed.
	if m.mixed.Data == nil {
		linalg.Gemm(false, false, 1, xf, m.coef, 0, out)
	} else {
		xp := linalg.NewMatrix[float64](x.Rows, m.proj.Cols)
		linalg.Gemm(false, false, 1, xf, m.proj, 0, xp)
		linalg.Gemm(false, false, 1, xp, m.mixed, 0, out)
	}
	for i := range out.Rows {
		row := out.Row(i)
		for j := range row {
			row[j] += m.Intercept[j]
			if v := row[j]; math.IsInf(v, 0) || math.IsNaN(v) {
				return out, fmt.Errorf("%w: the prediction of stimulus %d, target %d overflows float64", ErrNonFinite, i, j)
			}
		}
	}
	return out, nil
}
