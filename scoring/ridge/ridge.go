package ridge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

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
	return cv(x, ymat[U]{m: y}, cfg)
}

// CVT is CV with the targets given as yT, targets × stimuli (the layout
// benchmarks store responses in): the same results bit for bit as CV on
// the transpose, read in place instead of from a transposed copy.
func CVT[T, U linalg.Float](x linalg.Matrix[T], yT linalg.Matrix[U], cfg Config) (*Result, error) {
	return cv(x, ymat[U]{m: yT, t: true}, cfg)
}

func cv[T, U linalg.Float](x linalg.Matrix[T], y ymat[U], cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, q, p := x.Rows, x.Cols, y.p()
	if x.Rows == 0 || x.Cols == 0 || p == 0 {
		if y.t {
			return nil, fmt.Errorf("%w: empty input (x %d×%d, y %d targets × %d stimuli)", ErrShape, x.Rows, x.Cols, y.m.Rows, y.m.Cols)
		}
		return nil, fmt.Errorf("%w: empty input (x %d×%d, y %d×%d)", ErrShape, x.Rows, x.Cols, y.m.Rows, y.m.Cols)
	}
	if err := y.checkFinite(); err != nil {
		return nil, err
	}
	if y.n() != n {
		if y.t {
			return nil, fmt.Errorf("%w: x has %d stimuli (rows), y has %d (columns of targets × stimuli)", ErrShape, n, y.n())
		}
		return nil, fmt.Errorf("%w: x has %d stimuli (rows), y has %d", ErrShape, n, y.n())
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
	// Folds are fitted by up to maxWorkers goroutines (runFolds), each
	// with its share of BLAS's threads from here on.
	nw := max(1, min(runtime.GOMAXPROCS(0), k, maxWorkers))
	release := linalg.ShareBLAS(nw)
	defer func() { release() }()
	if haveGram {
		var ok bool
		if gram, ok = directGram(x, nw); !ok {
			// One stream of BLAS calls on centred chunks: every thread.
			release()
			gram = centredGram(x)
			release = linalg.ShareBLAS(nw)
		}
		// The Gram's diagonal (squared norms) is finite iff x is, unless a
		// norm overflows; only then is x scanned, to name the culprit.
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
		FoldR:       make([][]float64, k),
		FoldAlpha:   make([][]float64, k),
		FoldMedians: make([]float64, k),
	}
	// Block-major order holds every fold's decomposition (the m×r basis
	// in float64 and float32 and the s×r test rows, r the basis size)
	// instead of the n×p predictions: only worth it when that is smaller.
	r := mMax
	if !kernel {
		r = q
	}
	blockMajor := cfg.DropPredictions && cfg.InnerFolds == 0 && k*(12*mMax+8*n)*r < 8*n*p
	var pred mat
	if !blockMajor {
		pred = linalg.NewMatrix[float64](n, p)
	}
	if err := runFolds(x, y, parts, foldOf, alphas, kernel, haveGram, gram, cfg, nw, blockMajor, pred, res); err != nil {
		return nil, err
	}
	if !blockMajor {
		res.R = y.pearson(nil, pred, nil, 0, newWork())
		if !cfg.DropPredictions {
			res.Predictions = pred
		}
	}
	res.Median, res.NaNTargets = nanMedian(res.R)
	res.Mean, res.SE = meanSE(res.FoldMedians)
	res.Alpha = modeAlpha(res.FoldAlpha, alphas)
	return res, nil
}

// maxWorkers bounds the folds CV works on at once (each holds its
// eigenvectors and buffers, ~20 MB at 800 training stimuli).
const maxWorkers = 2

// fold is an outer fold in progress: decomposed once, then its targets go
// through in blocks, possibly on several workers at once.
type fold struct {
	f           int
	train, test []int
	d           *decomp
	kin         mat // centred training kernel, for inner K-fold
	slot        *work
	chosen      []float64
	blocks      int // number of target blocks
	next, done  int // blocks handed out, blocks finished
}

// runFolds fits every outer fold. With more than one processor, workers
// (at most maxWorkers, each with BLAS limited to its share of the threads)
// take tasks: diagonalise the next fold while fewer than nw folds are in
// progress, otherwise fit a block of targets of the oldest fold already
// diagonalised (a fold's buffers are freed for the next when its last
// block is done). A fold's
// eigendecomposition gains little from a second BLAS thread, and the work
// between BLAS calls is serial, so whole tasks in parallel finish sooner
// than BLAS-threaded tasks in sequence. Every result is the same whatever
// worker computes it.
//
// In block-major order (DropPredictions) every fold is diagonalised first
// and blocks are handed out block by block, all folds of a block before
// the next; a block's predictions are held in an n×w buffer until its last
// fold is done, then scored (R, FoldR) and the buffer reused. Otherwise
// predictions go into pred (n×p) and FoldR is computed as each fold ends.
func runFolds[T, U linalg.Float](x linalg.Matrix[T], y ymat[U], parts [][]int, foldOf []int, alphas []float64, kernel, haveGram bool, gram mat, cfg Config, nw int, blockMajor bool, pred mat, res *Result) error {
	n, p, k := x.Rows, y.p(), len(parts)
	blk := targetBlock
	if cfg.InnerFolds > 0 {
		blk = p // inner K-fold diagonalises every inner split per call
	}
	var (
		mu     sync.Mutex
		cond   = sync.NewCond(&mu)
		open   []*fold // diagonalised or being diagonalised, in fold order
		nextF  int
		failed error
		slots  []*work // fold buffers not in use
		nopen  = nw    // folds in progress at once
		// block-major only: each block's predictions while in progress,
		// the folds done with it, and buffers free for reuse
		blockPred  = map[int]mat{}
		blockDone  = map[int]int{}
		freePred   []mat
		decomposed int // folds diagonalised
	)
	if blockMajor {
		nopen = k
		res.R = make([]float64, p)
		for f := range k {
			res.FoldR[f] = make([]float64, p)
		}
	}
	for range nopen {
		slots = append(slots, newWork())
	}
	// take returns the next task: a fold to diagonalise (block −1) or a
	// block of a diagonalised fold; nil when nothing is left.
	take := func() (*fold, int) {
		mu.Lock()
		defer mu.Unlock()
		for {
			if failed != nil {
				return nil, 0
			}
			// Diagonalising the next fold first lets it overlap with the
			// blocks of the folds before it.
			if nextF < k && len(open) < nopen {
				train := make([]int, 0, n-len(parts[nextF]))
				for i, g := range foldOf {
					if g != nextF {
						train = append(train, i)
					}
				}
				fs := &fold{f: nextF, train: train, test: parts[nextF], slot: slots[len(slots)-1],
					chosen: make([]float64, p), blocks: (p + blk - 1) / blk}
				slots = slots[:len(slots)-1]
				open = append(open, fs)
				nextF++
				return fs, -1
			}
			var pick *fold
			for _, fs := range open {
				if fs.d != nil && fs.next < fs.blocks && (pick == nil || blockMajor && fs.next < pick.next) {
					pick = fs
					if !blockMajor {
						break
					}
				}
			}
			if pick != nil {
				if blockMajor {
					if _, ok := blockPred[pick.next]; !ok {
						w := min(p, (pick.next+1)*blk) - pick.next*blk
						var bp mat
						if l := len(freePred); l > 0 && freePred[l-1].Cols == w {
							bp, freePred = freePred[l-1], freePred[:l-1]
						} else {
							bp = linalg.NewMatrix[float64](n, w)
						}
						blockPred[pick.next] = bp
					}
				}
				pick.next++
				return pick, pick.next - 1
			}
			if nextF == k && len(open) == 0 {
				return nil, 0
			}
			cond.Wait()
		}
	}
	fail := func(err error) {
		mu.Lock()
		if failed == nil {
			failed = err
		}
		cond.Broadcast()
		mu.Unlock()
	}
	worker := func() {
		wk, wInner := newWork(), newWork()
		for {
			fs, b := take()
			if fs == nil {
				return
			}
			if b >= 0 && wk.f64["kt"] != nil {
				mu.Lock()
				last := nextF == k
				mu.Unlock()
				if last { // no decomposition left for this worker
					delete(wk.f64, "kt")
				}
			}
			if b < 0 {
				d, kin, err := decompose(x, fs, p, kernel, haveGram, gram, alphas, cfg, wk)
				if err != nil {
					fail(fmt.Errorf("ridge: fold %d: %w", fs.f, err))
					return
				}
				mu.Lock()
				fs.d, fs.kin = d, kin
				if decomposed++; decomposed == k {
					// Only decompositions read the Gram: let its memory
					// go to the blocks' buffers.
					gram = mat{}
				}
				cond.Broadcast()
				mu.Unlock()
				continue
			}
			j0 := b * blk
			j1 := min(p, j0+blk)
			dst, c0 := pred, j0
			if blockMajor {
				mu.Lock()
				dst, c0 = blockPred[b], 0
				mu.Unlock()
			}
			if err := fitBlock(fs, j0, j1, y, alphas, cfg, dst, c0, wk, wInner); err != nil {
				fail(err)
				return
			}
			mu.Lock()
			fs.done++
			last := fs.done == fs.blocks
			var blockLast bool
			if blockMajor {
				blockDone[b]++
				blockLast = blockDone[b] == k
			}
			mu.Unlock()
			if blockLast {
				// every fold has predicted this block: score it
				y.pearson(res.R[j0:j1], dst, nil, j0, wk)
				for f := range k {
					y.pearson(res.FoldR[f][j0:j1], dst, parts[f], j0, wk)
				}
				mu.Lock()
				delete(blockPred, b)
				delete(blockDone, b)
				freePred = append(freePred, dst)
				mu.Unlock()
			}
			if last {
				res.FoldAlpha[fs.f] = fs.chosen
				if !blockMajor {
					res.FoldR[fs.f] = y.pearson(nil, pred, fs.test, 0, wk)
					res.FoldMedians[fs.f], _ = nanMedian(res.FoldR[fs.f])
				}
				mu.Lock()
				for i, o := range open {
					if o == fs {
						open = append(open[:i], open[i+1:]...)
						break
					}
				}
				slots = append(slots, fs.slot)
				cond.Broadcast()
				mu.Unlock()
			}
		}
	}
	var wg sync.WaitGroup
	for range nw - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker()
		}()
	}
	worker()
	wg.Wait()
	if failed == nil && blockMajor {
		for f := range k {
			res.FoldMedians[f], _ = nanMedian(res.FoldR[f])
		}
	}
	return failed
}

// decompose diagonalises (or, for leave-one-out selection of few of the p
// targets, tridiagonalises: tri.go) the training part of fold fs (its
// buffers in fs.slot, scratch in wk) and prepares what the selection needs.
func decompose[T linalg.Float](x linalg.Matrix[T], fs *fold, p int, kernel, haveGram bool, gram mat, alphas []float64, cfg Config, wk *work) (*decomp, mat, error) {
	tr, te := rows[T]{m: x, idx: fs.train}, rows[T]{m: x, idx: fs.test}
	var d *decomp
	var kin mat
	var err error
	if kernel {
		mk := func() (kc, kt mat) {
			if haveGram {
				return fromGram(gram, fs.train, fs.test, fs.slot, wk)
			}
			return kernels(tr, te, cfg.Standardize)
		}
		kc, kt := mk()
		if cfg.InnerFolds > 0 {
			kin = linalg.NewMatrix[float64](kc.Rows, kc.Cols)
			copy(kin.Data, kc.Data)
		} else if useTridiag(kc.Rows, p, len(alphas), cfg.Float64Selection) {
			if d, err = tridiagDecomp(kc, kt, alphas, fs.slot, wk); d == nil && err == nil {
				kc, kt = mk() // an alpha too small for the factors: kc was overwritten
			}
		}
		if d == nil && err == nil {
			d, err = kernelDecomp(kc, kt, fs.slot, wk)
		}
	} else {
		xc, xt, _ := design(tr, te, cfg.Standardize)
		if cfg.InnerFolds > 0 {
			kin = linalg.NewMatrix[float64](xc.Rows, xc.Rows)
			linalg.Syrk(false, 1, xc, 0, kin)
			linalg.Symmetrize(kin)
		}
		if d, err = primalDecomp(xc, xt); err == nil {
			d.rot = mat{} // only Fit needs it
		}
	}
	if err != nil {
		return nil, mat{}, err
	}
	if cfg.InnerFolds == 0 {
		// Made now, once: the blocks of this fold share it.
		d.prepare(alphas, cfg.Float64Selection, true, fs.slot)
	}
	return d, kin, nil
}

// fitBlock chooses the alphas of targets j0…j1-1 of fold fs on its training
// part and writes their held-out predictions into the rows fs.test of dst,
// columns c0…c0+j1-j0-1.
func fitBlock[U linalg.Float](fs *fold, j0, j1 int, y ymat[U], alphas []float64, cfg Config, dst mat, c0 int, wk, wInner *work) error {
	d := *fs.d // this block's coefficients; the rest is shared
	var yc mat
	var ybar []float64
	if !y.t {
		yc, ybar = centred(rows[U]{m: y.m.Slice(0, y.m.Rows, j0, j1), idx: fs.train}, wk)
	} else {
		// the same values, in the same order, through a gathered copy
		yg := wk.mat64("ygather", len(fs.train), j1-j0)
		y.gather(yg, fs.train, j0, j1)
		yc, ybar = centred(rows[float64]{m: yg}, wk)
	}
	d.setCoef(yc, wk)
	chosen := fs.chosen[j0:j1]
	if cfg.InnerFolds == 0 {
		d.chooseLOO(alphas, yc, cfg.Float64Selection, chosen, wk)
	} else {
		errs := errRows(wk, len(alphas), j1-j0)
		if err := innerErrors(fs.kin, yc, alphas, cfg.InnerFolds, rand.New(rand.NewPCG(cfg.Seed, uint64(1+fs.f))), cfg.Float64Selection, errs, wInner); err != nil {
			return fmt.Errorf("ridge: fold %d: %w", fs.f, err)
		}
		choose(chosen, alphas, errs)
	}
	pred := wk.mat64("pred", len(fs.test), j1-j0)
	d.predict(pred, chosen, ybar, wk)
	for a, i := range fs.test {
		copy(dst.Row(i)[c0:c0+j1-j0], pred.Row(a))
	}
	return nil
}

// errRows returns zeroed selection errors for na alphas and w targets,
// a row per alpha, in wk's buffer.
func errRows(wk *work, na, w int) [][]float64 {
	em := wk.mat64("errs", na, w)
	clear(em.Data)
	errs := make([][]float64, na)
	for a := range errs {
		errs[a] = em.Row(a)
	}
	return errs
}

// choose sets chosen[j] to the alpha of least error for target j.
func choose(chosen, alphas []float64, errs [][]float64) {
	for j := range chosen {
		chosen[j] = alphas[bestAt(errs, j)]
	}
}

// chooseLOO sets chosen[j] to the alpha of least leave-one-out error for
// the centred targets yc (setCoef done).
func (d *decomp) chooseLOO(alphas []float64, yc mat, f64 bool, chosen []float64, wk *work) {
	errs := errRows(wk, len(alphas), yc.Cols)
	d.looErrors(alphas, yc, f64, errs, wk)
	choose(chosen, alphas, errs)
}

// targetBlock is how many targets CV fits at a time.
const targetBlock = 256

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
		d, err = kernelDecomp(kc, kt, nil, nil)
	} else {
		xc, xt, _ := design(tr, te, false)
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
		ki, kt := fromGram(kc, train, test, wk, wk)
		yi, ybar := centred(rows[float64]{m: yc, idx: train}, wk)
		d, err := kernelDecomp(ki, kt, wk, wk)
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
	mean = buf[float64](wk, "ymean", p)
	clear(mean)
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
func pearsonCols[T linalg.Float](dst []float64, pred rows[float64], y rows[T], wk *work) {
	n, p := pred.n(), pred.m.Cols
	mp := buf[float64](wk, "pcMeanP", p)
	my := buf[float64](wk, "pcMeanY", p)
	clear(mp)
	clear(my)
	for i := range n {
		yr := y.row(i)
		for j, v := range pred.row(i) {
			mp[j] += v
			my[j] += float64(yr[j])
		}
	}
	for j := range p {
		mp[j] /= float64(n)
		my[j] /= float64(n)
	}
	sxy := buf[float64](wk, "pcXY", p)
	sxx := buf[float64](wk, "pcXX", p)
	syy := buf[float64](wk, "pcYY", p)
	clear(sxy)
	clear(sxx)
	clear(syy)
	for i := range n {
		yr := y.row(i)
		for j, v := range pred.row(i) {
			a, b := v-mp[j], float64(yr[j])-my[j]
			sxy[j] += a * b
			sxx[j] += a * a
			syy[j] += b * b
		}
	}
	for j := range p {
		if sxx[j] == 0 || syy[j] == 0 {
			dst[j] = math.NaN()
			continue
		}
		dst[j] = sxy[j] / math.Sqrt(sxx[j]*syy[j])
	}
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

// directGram returns X·Xᵀ of float64 features, in nw goroutines (diagonal
// blocks and the off-diagonal block as tasks of equal size), and whether
// it may stand for the fold-centred kernels (fromGram centres per fold):
// their means must be small next to their spread (Σ_j n·mean_j² = 1ᵀG1/n at
// most half of trace G = Σ x², so at most one bit is lost to cancellation).
// Otherwise, and for float32, centredGram is needed, because the uncentred
// Gram of offset data (ReLU activations) loses the fold-centred kernel to
// cancellation. NaN or Inf in x shows on the diagonal.
func directGram[T linalg.Float](x linalg.Matrix[T], nw int) (mat, bool) {
	d, ok := any(x.Data).([]float64)
	if !ok {
		return mat{}, false
	}
	xd := linalg.Matrix[float64]{Rows: x.Rows, Cols: x.Cols, Stride: x.Stride, Data: d}
	n, q := x.Rows, x.Cols
	g := linalg.NewMatrix[float64](n, n)
	if h := n / 2; nw < 2 || h == 0 {
		linalg.Syrk(false, 1, xd, 0, g)
	} else {
		top, bot := xd.Slice(0, h, 0, q), xd.Slice(h, n, 0, q)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			linalg.Gemm(false, true, 1, top, bot, 0, g.Slice(0, h, h, n))
		}()
		linalg.Syrk(false, 1, top, 0, g.Slice(0, h, 0, h))
		linalg.Syrk(false, 1, bot, 0, g.Slice(h, n, h, n))
		wg.Wait()
	}
	linalg.Symmetrize(g)
	sum, tr := 0.0, 0.0
	for i := range n {
		tr += g.At(i, i)
		for _, v := range g.Row(i) {
			sum += v
		}
	}
	return g, sum/float64(n) <= tr/2
}

// centredGram returns Xc·Xcᵀ, features centred chunk by chunk in float64.
func centredGram[T linalg.Float](x linalg.Matrix[T]) mat {
	g, _ := kernels(rows[T]{m: x}, rows[T]{m: x, idx: []int{}}, false)
	return g
}
