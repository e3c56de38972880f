package ridge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// Result is the outcome of CV.
//
// Scores: FoldR[f][j] is the Pearson r of target j between its held-out
// predictions and data within outer fold f; FoldMedians[f] is the median of
// FoldR[f] over targets; Mean and SE are the mean and standard error
// (sample standard deviation / √K) of FoldMedians, the score DESIGN.md
// defines. R[j] is Pearson r on the concatenated held-out predictions of all
// folds and Median its median over targets (what the CLI prints as
// median_r). A target whose data or predictions are constant has r = NaN
// (undefined); medians skip NaNs and NaNTargets counts them in R.
type Result struct {
	R           []float64
	Median      float64
	NaNTargets  int
	FoldR       [][]float64
	FoldMedians []float64
	Mean, SE    float64
	// FoldAlpha[f][j] is the alpha chosen for target j on the training part
	// of fold f; Alpha[j] is the most frequent of them over folds (ties go
	// to the smaller alpha).
	FoldAlpha [][]float64
	Alpha     []float64
	// Predictions holds the held-out prediction of every stimulus (rows)
	// and target (columns), each from the fold that held it out.
	Predictions linalg.Matrix[float64]
	Folds       int
	FoldOf      []int // the outer fold of every stimulus
}

// CV fits ridge models of every column of y on x (stimuli in rows) with
// cross-validation as described in the package doc. x and y may differ in
// precision (float32 activations, float64 responses); all arithmetic that
// sets the predictions is float64. Inputs are not modified. Bad data and configuration return errors wrapping ErrShape,
// ErrNonFinite, ErrConfig or ErrFolds.
func CV[T, U linalg.Float](x linalg.Matrix[T], y linalg.Matrix[U], cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, q, p := x.Rows, x.Cols, y.Cols
	if x.Rows == 0 || x.Cols == 0 || y.Cols == 0 {
		return nil, fmt.Errorf("%w: empty input (x %d×%d, y %d×%d)", ErrShape, x.Rows, x.Cols, y.Rows, y.Cols)
	}
	if err := checkFinite(y, "y", "target"); err != nil {
		return nil, err
	}
	if y.Rows != n {
		return nil, fmt.Errorf("%w: x has %d stimuli (rows), y has %d", ErrShape, n, y.Rows)
	}
	foldOf := cfg.FoldOf
	k := cfg.Folds
	if foldOf != nil {
		if len(foldOf) != n {
			return nil, fmt.Errorf("%w: FoldOf has %d entries for %d stimuli", ErrFolds, len(foldOf), n)
		}
		k, _ = foldCount(foldOf) // checked by Validate
		foldOf = slices.Clone(foldOf)
	} else {
		if n < k {
			return nil, fmt.Errorf("%w: %d stimuli are fewer than %d folds", ErrFolds, n, k)
		}
		foldOf = kfold(n, k, rand.New(rand.NewPCG(cfg.Seed, 0)))
	}
	parts := make([][]int, k)
	for i, f := range foldOf {
		parts[f] = append(parts[f], i)
	}
	mMax := 0
	for f := range k {
		m := n - len(parts[f])
		minTrain := 3
		if cfg.InnerFolds > 0 {
			minTrain = max(3, cfg.InnerFolds)
		}
		if m < minTrain {
			return nil, fmt.Errorf("%w: fold %d leaves %d training stimuli, need at least %d", ErrFolds, f, m, minTrain)
		}
		mMax = max(mMax, m)
	}
	alphas := cfg.alphas()
	kernel := q > mMax

	var gram mat
	haveGram := !cfg.Standardize && kernel
	if haveGram {
		// The Gram's diagonal (squared norms) is finite iff x is, unless a
		// norm overflows; only then is x scanned, to name the culprit.
		gram = gramOf(x)
		for i := range n {
			if d := gram.At(i, i); math.IsNaN(d) || math.IsInf(d, 0) {
				if err := checkFinite(x, "x", "feature"); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: x: the squared norm of stimulus %d overflows float64", ErrNonFinite, i)
			}
		}
	} else if err := checkFinite(x, "x", "feature"); err != nil {
		return nil, err
	}
	res := &Result{
		Folds:       k,
		FoldOf:      foldOf,
		Predictions: linalg.NewMatrix[float64](n, p),
		FoldR:       make([][]float64, k),
		FoldAlpha:   make([][]float64, k),
		FoldMedians: make([]float64, k),
	}
	wk, wInner := newWork(), newWork()
	for f := range k {
		test := parts[f]
		train := make([]int, 0, n-len(test))
		for i, g := range foldOf {
			if g != f {
				train = append(train, i)
			}
		}
		tr, te := rows[T]{m: x, idx: train}, rows[T]{m: x, idx: test}
		var d *decomp
		var kin mat // centred training kernel for inner K-fold
		var err error
		if kernel {
			var kc, kt mat
			if haveGram {
				kc, kt = fromGram(gram, train, test, wk)
			} else {
				kc, kt = kernels(tr, te, cfg.Standardize)
			}
			if cfg.InnerFolds > 0 {
				kin = linalg.NewMatrix[float64](kc.Rows, kc.Cols)
				copy(kin.Data, kc.Data)
			}
			d, err = kernelDecomp(kc, kt, wk)
		} else {
			xc, xt := design(tr, te, cfg.Standardize)
			if cfg.InnerFolds > 0 {
				kin = linalg.NewMatrix[float64](xc.Rows, xc.Rows)
				linalg.Syrk(false, 1, xc, 0, kin)
				linalg.Symmetrize(kin)
			}
			d, err = primalDecomp(xc, xt)
		}
		if err != nil {
			return nil, fmt.Errorf("ridge: fold %d: %w", f, err)
		}
		// The targets go through in blocks: the centred targets, their
		// projection and the selection buffers then scale with the block,
		// not with every target (each target's fit is independent of the
		// others'). Inner K-fold takes them all at once, since it
		// diagonalises every inner split again per call.
		blk := targetBlock
		if cfg.InnerFolds > 0 {
			blk = p
		}
		chosen := make([]float64, p)
		pred := wk.mat64("pred", len(test), p)
		for j0 := 0; j0 < p; j0 += blk {
			j1 := min(p, j0+blk)
			yc, ybar := centred(rows[U]{m: y.Slice(0, n, j0, j1), idx: train}, wk)
			d.setCoef(yc, wk)
			errs := make([][]float64, len(alphas))
			for a := range errs {
				errs[a] = make([]float64, j1-j0)
			}
			if cfg.InnerFolds == 0 {
				d.looErrors(alphas, yc, cfg.Float64Selection, errs, wk)
			} else if err := innerErrors(kin, yc, alphas, cfg.InnerFolds, rand.New(rand.NewPCG(cfg.Seed, uint64(1+f))), cfg.Float64Selection, errs, wInner); err != nil {
				return nil, fmt.Errorf("ridge: fold %d: %w", f, err)
			}
			for j, a := range best(errs) {
				chosen[j0+j] = alphas[a]
			}
			d.predict(pred.Slice(0, len(test), j0, j1), chosen[j0:j1], ybar, wk)
		}
		res.FoldAlpha[f] = chosen
		for a, i := range test {
			copy(res.Predictions.Row(i), pred.Row(a))
		}
		res.FoldR[f] = pearsonCols(pred, rows[U]{m: y, idx: test})
		res.FoldMedians[f], _ = nanMedian(res.FoldR[f])
	}
	res.R = pearsonCols(res.Predictions, rows[U]{m: y})
	res.Median, res.NaNTargets = nanMedian(res.R)
	res.Mean, res.SE = meanSE(res.FoldMedians)
	res.Alpha = modeAlpha(res.FoldAlpha, alphas)
	return res, nil
}

// targetBlock is how many targets CV fits at a time.
const targetBlock = 512

// FitPredict fits ridge (sklearn Ridge with fit_intercept=True) of every
// column of yTrain on xTrain with penalty alpha[j] for target j (or alpha[0]
// for all when len(alpha) == 1) and writes the predictions for xTest into
// dst (xTest.Rows × yTrain.Cols). Inputs are not modified.
func FitPredict[T linalg.Float](dst linalg.Matrix[float64], xTrain, yTrain, xTest linalg.Matrix[T], alpha []float64) error {
	p := yTrain.Cols
	if dst.Rows != xTest.Rows || dst.Cols != p {
		panic("ridge: FitPredict dst has the wrong shape")
	}
	if xTrain.Rows != yTrain.Rows || xTrain.Cols != xTest.Cols {
		return fmt.Errorf("%w: x train %d×%d, y train %d×%d, x test %d×%d", ErrShape,
			xTrain.Rows, xTrain.Cols, yTrain.Rows, yTrain.Cols, xTest.Rows, xTest.Cols)
	}
	if xTrain.Rows < 2 {
		return fmt.Errorf("%w: %d training stimuli, need at least 2", ErrShape, xTrain.Rows)
	}
	if len(alpha) != 1 && len(alpha) != p {
		return fmt.Errorf("%w: %d alphas for %d targets (give 1 or one per target)", ErrConfig, len(alpha), p)
	}
	for i, a := range alpha {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("%w: alpha[%d] = %g, every alpha must be positive and finite", ErrConfig, i, a)
		}
	}
	if err := checkData(xTrain, yTrain); err != nil {
		return err
	}
	if err := checkFinite(xTest, "x test", "feature"); err != nil {
		return err
	}
	if len(alpha) == 1 {
		a := alpha[0]
		alpha = make([]float64, p)
		for j := range alpha {
			alpha[j] = a
		}
	}
	tr, te := rows[T]{m: xTrain}, rows[T]{m: xTest}
	yc, ybar := centred(rows[T]{m: yTrain}, nil)
	var d *decomp
	var err error
	if xTrain.Cols > xTrain.Rows {
		kc, kt := kernels(tr, te, false)
		d, err = kernelDecomp(kc, kt, nil)
	} else {
		xc, xt := design(tr, te, false)
		d, err = primalDecomp(xc, xt)
	}
	if err != nil {
		return fmt.Errorf("ridge: %w", err)
	}
	d.setCoef(yc, nil)
	d.predict(dst, alpha, ybar, nil)
	return nil
}

// innerErrors sums the squared errors of an inner K-fold split of the
// training part (kernel kc, centred targets yc) for every alpha and target.
func innerErrors(kc, yc mat, alphas []float64, k int, rng *rand.Rand, f64 bool, errs [][]float64, wk *work) error {
	m := kc.Rows
	foldOf := kfold(m, k, rng)
	for f := range k {
		var train, test []int
		for i, g := range foldOf {
			if g == f {
				test = append(test, i)
			} else {
				train = append(train, i)
			}
		}
		if len(train) < 2 {
			return fmt.Errorf("%w: inner fold %d leaves %d training stimuli", ErrFolds, f, len(train))
		}
		ki, kt := fromGram(kc, train, test, wk)
		yi, ybar := centred(rows[float64]{m: yc, idx: train}, wk)
		d, err := kernelDecomp(ki, kt, wk)
		if err != nil {
			return err
		}
		d.setCoef(yi, wk)
		ytc := wk.mat64("ytc", len(test), yc.Cols)
		for a, i := range test {
			src, dr := yc.Row(i), ytc.Row(a)
			for j, v := range src {
				dr[j] = v - ybar[j]
			}
		}
		d.foldErrors(alphas, ytc, f64, errs, wk)
	}
	return nil
}

// kfold shuffles 0…n-1 and deals it into k contiguous parts, the first
// n mod k one larger (sklearn KFold sizes).
func kfold(n, k int, rng *rand.Rand) []int {
	perm := rng.Perm(n)
	foldOf := make([]int, n)
	start := 0
	for f := range k {
		size := n / k
		if f < n%k {
			size++
		}
		for _, i := range perm[start : start+size] {
			foldOf[i] = f
		}
		start += size
	}
	return foldOf
}

func centred[T linalg.Float](y rows[T], wk *work) (yc mat, mean []float64) {
	m, p := y.n(), y.m.Cols
	mean = make([]float64, p)
	for i := range m {
		for j, v := range y.row(i) {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(m)
	}
	yc = wk.mat64("yc", m, p)
	for i := range m {
		dst := yc.Row(i)
		for j, v := range y.row(i) {
			dst[j] = float64(v) - mean[j]
		}
	}
	return yc, mean
}

func checkData[T, U linalg.Float](x linalg.Matrix[T], y linalg.Matrix[U]) error {
	if x.Rows == 0 || x.Cols == 0 || y.Cols == 0 {
		return fmt.Errorf("%w: empty input (x %d×%d, y %d×%d)", ErrShape, x.Rows, x.Cols, y.Rows, y.Cols)
	}
	if err := checkFinite(x, "x", "feature"); err != nil {
		return err
	}
	return checkFinite(y, "y", "target")
}

func checkFinite[T linalg.Float](m linalg.Matrix[T], name, col string) error {
	for i := range m.Rows {
		for j, v := range m.Row(i) {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%w: %s has %g at stimulus %d, %s %d", ErrNonFinite, name, f, i, col, j)
			}
		}
	}
	return nil
}

// pearsonCols returns Pearson r per column between pred and y (NaN when
// either column is constant).
func pearsonCols[T linalg.Float](pred mat, y rows[T]) []float64 {
	n, p := pred.Rows, pred.Cols
	mp := make([]float64, p)
	my := make([]float64, p)
	for i := range n {
		yr := y.row(i)
		for j, v := range pred.Row(i) {
			mp[j] += v
			my[j] += float64(yr[j])
		}
	}
	for j := range p {
		mp[j] /= float64(n)
		my[j] /= float64(n)
	}
	sxy := make([]float64, p)
	sxx := make([]float64, p)
	syy := make([]float64, p)
	for i := range n {
		yr := y.row(i)
		for j, v := range pred.Row(i) {
			a, b := v-mp[j], float64(yr[j])-my[j]
			sxy[j] += a * b
			sxx[j] += a * a
			syy[j] += b * b
		}
	}
	r := make([]float64, p)
	for j := range p {
		if sxx[j] == 0 || syy[j] == 0 {
			r[j] = math.NaN()
			continue
		}
		r[j] = sxy[j] / math.Sqrt(sxx[j]*syy[j])
	}
	return r
}

// nanMedian returns the median of the non-NaN values and the NaN count.
func nanMedian(v []float64) (float64, int) {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	nan := len(v) - len(s)
	if len(s) == 0 {
		return math.NaN(), nan
	}
	slices.Sort(s)
	h := len(s) / 2
	if len(s)%2 == 1 {
		return s[h], nan
	}
	return (s[h-1] + s[h]) / 2, nan
}

func meanSE(v []float64) (mean, se float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
}

func modeAlpha(foldAlpha [][]float64, alphas []float64) []float64 {
	p := len(foldAlpha[0])
	sorted := slices.Clone(alphas)
	slices.Sort(sorted)
	out := make([]float64, p)
	count := make(map[float64]int)
	for j := range p {
		clear(count)
		for f := range foldAlpha {
			count[foldAlpha[f][j]]++
		}
		bc := 0
		for _, a := range sorted {
			if c := count[a]; c > bc {
				bc, out[j] = c, a
			}
		}
	}
	return out
}

// gramOf returns X·Xᵀ for some translation of the features (fromGram
// centres per fold). Float64 features go straight to one DSYRK, kept when
// their means are small next to their spread (Σ_j n·mean_j² = 1ᵀG1/n at
// most half of trace G = Σ x², so at most one bit is lost to cancellation);
// otherwise, and for float32, features are centred chunk by chunk in float64
// first, because the uncentred Gram of offset data (ReLU activations) loses
// the fold-centred kernel to cancellation. NaN or Inf in x shows on the
// diagonal.
func gramOf[T linalg.Float](x linalg.Matrix[T]) mat {
	if d, ok := any(x.Data).([]float64); ok {
		x := linalg.Matrix[float64]{Rows: x.Rows, Cols: x.Cols, Stride: x.Stride, Data: d}
		n := x.Rows
		g := linalg.NewMatrix[float64](n, n)
		linalg.Syrk(false, 1, x, 0, g)
		linalg.Symmetrize(g)
		sum, tr := 0.0, 0.0
		for i := range n {
			tr += g.At(i, i)
			for _, v := range g.Row(i) {
				sum += v
			}
		}
		if sum/float64(n) <= tr/2 {
			return g
		}
	}
	g, _ := kernels(rows[T]{m: x}, rows[T]{m: x, idx: []int{}}, false)
	return g
}
