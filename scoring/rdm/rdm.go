// Package rdm computes representational dissimilarity matrices (RDMs):
// for n stimuli (rows) and q features (columns), the n×n matrix of
// pairwise dissimilarities between stimulus patterns.
//
// Features can be streamed: an Accumulator takes column chunks of the
// n×q matrix and keeps only n×n state, so q = 10^6 never has to be held
// at once. Compute is the one-shot form and uses an Accumulator inside.
//
// Invariants: inputs are never modified; returned RDMs are full n×n
// row-major float64 slices, exactly symmetric with an exactly zero
// diagonal. Bad data (NaN/Inf, zero-variance or zero-norm patterns, fewer
// than 3 stimuli, shape mismatches) returns an error wrapping one of the
// sentinel errors below; misuse by the programmer (negative sizes) panics.
package rdm

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// Metric names a dissimilarity.
type Metric string

const (
	// Correlation is 1 − Pearson r between patterns (scipy's "correlation").
	Correlation Metric = "correlation"
	// Euclidean is the Euclidean distance between patterns.
	Euclidean Metric = "euclidean"
	// Cosine is 1 − cosine similarity between patterns.
	Cosine Metric = "cosine"
)

var (
	ErrNonFinite      = errors.New("rdm: non-finite value")
	ErrZeroVariance   = errors.New("rdm: zero-variance pattern (correlation undefined)")
	ErrZeroNorm       = errors.New("rdm: zero-norm pattern (cosine undefined)")
	ErrTooFewStimuli  = errors.New("rdm: fewer than 3 stimuli")
	ErrShape          = errors.New("rdm: shape mismatch")
	ErrNoFeatures     = errors.New("rdm: no features")
	ErrUnknownMetric  = errors.New("rdm: unknown metric")
	ErrNotRDM         = errors.New("rdm: not a valid RDM")
	errAlreadyReadOut = errors.New("rdm: accumulator already read out")
)

// ParseMetric validates a metric name.
func ParseMetric(s string) (Metric, error) {
	switch m := Metric(s); m {
	case Correlation, Euclidean, Cosine:
		return m, nil
	}
	return "", fmt.Errorf("%w %q (want correlation, euclidean or cosine)", ErrUnknownMetric, s)
}

// chunkBytes is the target size of the float64 chunk buffer: large enough
// for DSYRK to run near peak, small enough to be negligible next to the
// data (32 MiB for n = 1000 at 4096 columns).
const chunkBytes = 32 << 20

// Accumulator accumulates the Gram matrix of shifted patterns over column
// chunks. For correlation each row i is shifted by a constant o_i (its
// first value in the first chunk) so that the products summed by DSYRK
// are of deviations, not of raw ReLU-sized magnitudes; the centred Gram
// matrix is then recovered exactly as C = G − s sᵀ/q with s the row sums
// of the shifted data. For Euclidean each chunk is centred per column,
// which leaves distances unchanged. Cosine uses raw products.
//
// float64 chunks of at least 256 columns whose rows sit close enough to
// their offsets (see addDirect) skip the copy: DSYRK reads the caller's
// memory and the shift is applied to the n×n result. Other chunks are
// copied, shifted (and converted from float32) through a float64 buffer of
// about 32 MiB. Either way the extra memory is O(n² + that buffer).
type Accumulator struct {
	n      int
	metric Metric
	q      int
	gram   linalg.Matrix[float64] // upper triangle valid
	sums   []float64              // row sums of the shifted data
	offset []float64              // per-row shift (correlation)
	buf    []float64
	err    error // sticky: set by the first failed Add
	done   bool
}

// NewAccumulator returns an accumulator for n stimuli. It panics if n < 0
// or m is not a known metric (validate user input with ParseMetric).
func NewAccumulator(n int, m Metric) *Accumulator {
	if n < 0 {
		panic("rdm: negative n")
	}
	if _, err := ParseMetric(string(m)); err != nil {
		panic(err)
	}
	return &Accumulator{n: n, metric: m, gram: linalg.NewMatrix[float64](n, n), sums: make([]float64, n)}
}

// Features returns the number of feature columns accumulated so far.
func (a *Accumulator) Features() int { return a.q }

// Add accumulates an n×c chunk of feature columns; float32 chunks are
// converted to float64 first. Errors are sticky: once Add has failed (a
// non-finite value or a shape mismatch), the accumulator may hold part of
// the chunk, and every later Add and RDM returns the same error. The
// finiteness check rides on the conversion pass (a row's sum is finite iff
// its values are, barring overflow past 1e308), so good data is read once.
func Add[T linalg.Float](acc *Accumulator, chunk linalg.Matrix[T]) error {
	if acc.done {
		panic(errAlreadyReadOut)
	}
	if acc.err != nil {
		return acc.err
	}
	if chunk.Rows != acc.n {
		acc.err = fmt.Errorf("%w: chunk has %d rows, want %d stimuli", ErrShape, chunk.Rows, acc.n)
		return acc.err
	}
	n := acc.n
	if n == 0 || chunk.Cols == 0 {
		return nil
	}
	if acc.metric == Correlation && acc.offset == nil {
		acc.offset = make([]float64, n)
		for i := 0; i < n; i++ {
			acc.offset[i] = float64(chunk.Row(i)[0])
		}
	}
	if x, ok := any(chunk).(linalg.Matrix[float64]); ok && acc.metric != Euclidean && x.Cols >= minDirectCols {
		if done, err := acc.addDirect(x); done {
			return err
		}
	}
	width := max(1, min(chunk.Cols, chunkBytes/8/max(n, 1)))
	if len(acc.buf) < n*width {
		acc.buf = make([]float64, n*width)
	}
	for c0 := 0; c0 < chunk.Cols; c0 += width {
		c1 := min(chunk.Cols, c0+width)
		w := c1 - c0
		b := linalg.View(n, w, acc.buf[:n*w])
		for i := 0; i < n; i++ {
			src := chunk.Row(i)[c0:c1]
			dst := b.Row(i)
			var o float64
			if acc.offset != nil {
				o = acc.offset[i]
			}
			var s float64
			for j, v := range src {
				d := float64(v) - o
				dst[j] = d
				s += d
			}
			if s-s != 0 {
				acc.err = nonFinite(src, i, acc.q+c0)
				return acc.err
			}
			acc.sums[i] += s
		}
		if acc.metric == Euclidean {
			centreColumns(b)
		}
		linalg.Syrk(false, 1, b, 1, acc.gram)
	}
	acc.q += chunk.Cols
	return nil
}

// minDirectCols is the narrowest float64 chunk worth the direct path, whose
// O(n²) offset correction per chunk must stay small next to DSYRK's O(n²c).
const minDirectCols = 256

// maxCancellation bounds Σx²/Σ(x−o)² per row for the direct path: the raw
// products then lose at most log2(64) = 6 bits to cancellation when the
// shift is applied afterwards, far inside the 1e-10 agreement with numpy.
const maxCancellation = 64

// addDirect accumulates a float64 chunk without copying it: DSYRK runs on
// the caller's memory and the per-row shift is applied afterwards with
// exact algebra, G += XXᵀ − o rᵀ − r oᵀ + c o oᵀ (r the raw row sums, c the
// chunk width). One read-only pass, split over the cores, first checks
// finiteness and whether the raw products would cancel badly; if any row
// would (data far from its offset), it reports done = false and the caller
// takes the shifting copy path instead.
func (a *Accumulator) addDirect(x linalg.Matrix[float64]) (done bool, err error) {
	n, c := x.Rows, x.Cols
	raw := make([]float64, n)   // Σx
	shift := make([]float64, n) // Σ(x−o)
	ok := make([]bool, n)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/8))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				var o float64
				if a.offset != nil {
					o = a.offset[i]
				}
				r, t1, t2, sq := rowMoments(x.Row(i), o)
				raw[i], shift[i] = r, t1
				ok[i] = sq-sq == 0 && t1-t1 == 0 && (sq == 0 || sq <= maxCancellation*t2)
			}
		}(w*n/workers, (w+1)*n/workers)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if !ok[i] {
			if raw[i]-raw[i] != 0 || shift[i]-shift[i] != 0 {
				a.err = nonFinite(x.Row(i), i, a.q)
				return true, a.err
			}
			for _, v := range x.Row(i) {
				if v-v != 0 {
					a.err = nonFinite(x.Row(i), i, a.q)
					return true, a.err
				}
			}
			return false, nil
		}
	}
	linalg.Syrk(false, 1, x, 1, a.gram)
	if a.offset != nil {
		o := a.offset
		fc := float64(c)
		for i := 0; i < n; i++ {
			row := a.gram.Row(i)
			for j := i; j < n; j++ {
				row[j] += fc*o[i]*o[j] - o[i]*raw[j] - raw[i]*o[j]
			}
		}
	}
	for i := range shift {
		a.sums[i] += shift[i]
	}
	a.q += c
	return true, nil
}

// rowMoments returns Σx, Σ(x−o), Σ(x−o)² and Σx² over row, with two
// interleaved sets of accumulators so consecutive additions do not wait on
// each other (this pass runs over the whole input before DSYRK).
func rowMoments(row []float64, o float64) (r, t1, t2, sq float64) {
	var r0, r1, a0, a1, b0, b1, c0, c1 float64
	j := 0
	for ; j+1 < len(row); j += 2 {
		v, w := row[j], row[j+1]
		d, e := v-o, w-o
		r0 += v
		r1 += w
		a0 += d
		a1 += e
		b0 += d * d
		b1 += e * e
		c0 += v * v
		c1 += w * w
	}
	if j < len(row) {
		v := row[j]
		d := v - o
		r0 += v
		a0 += d
		b0 += d * d
		c0 += v * v
	}
	return r0 + r1, a0 + a1, b0 + b1, c0 + c1
}

// nonFinite names the first NaN or ±Inf in row i (whose first column is
// feature col0), or reports an overflow if every value is finite.
func nonFinite[T linalg.Float](row []T, i, col0 int) error {
	for j, v := range row {
		if f := float64(v); f-f != 0 {
			return fmt.Errorf("%w: stimulus %d, feature %d is %v", ErrNonFinite, i, col0+j, f)
		}
	}
	return fmt.Errorf("%w: stimulus %d: values around features %d–%d overflow float64 when summed; rescale the features", ErrNonFinite, i, col0, col0+len(row)-1)
}

// centreColumns subtracts each column's mean: a translation of all
// patterns by the same vector, which leaves Euclidean distances unchanged
// but removes the common magnitude that would cancel in ‖x‖²+‖y‖²−2x·y.
func centreColumns(b linalg.Matrix[float64]) {
	mean := make([]float64, b.Cols)
	for i := 0; i < b.Rows; i++ {
		for j, v := range b.Row(i) {
			mean[j] += v
		}
	}
	inv := 1 / float64(b.Rows)
	for j := range mean {
		mean[j] *= inv
	}
	for i := 0; i < b.Rows; i++ {
		r := b.Row(i)
		for j := range r {
			r[j] -= mean[j]
		}
	}
}

// RDM returns the full n×n RDM of everything added. It can be called once;
// the accumulator's memory is reused for the result.
func (a *Accumulator) RDM() ([]float64, error) {
	if a.done {
		panic(errAlreadyReadOut)
	}
	if a.err != nil {
		return nil, a.err
	}
	n := a.n
	if n < 3 {
		return nil, fmt.Errorf("%w: got %d", ErrTooFewStimuli, n)
	}
	if a.q == 0 {
		return nil, ErrNoFeatures
	}
	a.buf = nil
	g := a.gram
	q := float64(a.q)
	for i := 0; i < n; i++ {
		if v := g.At(i, i); v-v != 0 {
			return nil, fmt.Errorf("%w: stimulus %d: squared values overflow float64; rescale the features", ErrNonFinite, i)
		}
	}
	switch a.metric {
	case Correlation:
		// Centre: C = G − s sᵀ/q, exact algebra for the shifted data.
		for i := 0; i < n; i++ {
			r := g.Row(i)
			for j := i; j < n; j++ {
				r[j] -= a.sums[i] * a.sums[j] / q
			}
		}
		for i := 0; i < n; i++ {
			v := g.At(i, i)
			// A constant row is exactly zero after the shift by its own
			// value; the relative test catches rows whose spread is within
			// rounding of their level (sd/|offset| ≤ 1e-13, ~500 ulps),
			// where a correlation would only measure rounding noise.
			if !(v > 1e-26*q*a.offset[i]*a.offset[i]) {
				return nil, fmt.Errorf("%w: stimulus %d has the same value for every feature", ErrZeroVariance, i)
			}
		}
		fallthrough
	case Cosine:
		d := make([]float64, n)
		for i := 0; i < n; i++ {
			v := g.At(i, i)
			if !(v > 0) {
				return nil, fmt.Errorf("%w: stimulus %d is all zeros", ErrZeroNorm, i)
			}
			d[i] = 1 / math.Sqrt(v)
		}
		for i := 0; i < n; i++ {
			r := g.Row(i)
			r[i] = 0
			for j := i + 1; j < n; j++ {
				c := r[j] * d[i] * d[j]
				// Rounding can push |r| a hair over 1; numpy.corrcoef clips too.
				c = max(-1, min(1, c))
				r[j] = 1 - c
			}
		}
	case Euclidean:
		for i := 0; i < n; i++ {
			r := g.Row(i)
			for j := i + 1; j < n; j++ {
				r[j] = math.Sqrt(max(0, g.At(i, i)+g.At(j, j)-2*r[j]))
			}
		}
		for i := 0; i < n; i++ {
			g.Data[i*g.Stride+i] = 0
		}
	}
	linalg.Symmetrize(g)
	a.done = true
	return g.Data, nil
}

// Compute returns the full n×n RDM of the rows of x (stimuli × features).
func Compute[T linalg.Float](x linalg.Matrix[T], m Metric) ([]float64, error) {
	if _, err := ParseMetric(string(m)); err != nil {
		return nil, err
	}
	if x.Rows < 3 {
		return nil, fmt.Errorf("%w: got %d", ErrTooFewStimuli, x.Rows)
	}
	if x.Cols == 0 {
		return nil, ErrNoFeatures
	}
	acc := NewAccumulator(x.Rows, m)
	if err := Add(acc, x); err != nil {
		return nil, err
	}
	return acc.RDM()
}

// Upper returns the upper triangle of the n×n matrix full without the
// diagonal, row-major (pairs i<j in order), length n(n−1)/2. It panics if
// len(full) != n*n.
func Upper(n int, full []float64) []float64 {
	if n < 0 || len(full) != n*n {
		panic("rdm: Upper: len(full) != n*n")
	}
	out := make([]float64, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		out = append(out, full[i*n+i+1:i*n+n]...)
	}
	return out
}

// Tolerances for Check: RDMs saved from float64 code are symmetric and
// zero on the diagonal up to a few ulps (Algonauts' files differ by 2e-16).
const (
	symTol  = 1e-8
	diagTol = 1e-8
)

// Check reports whether full is a valid n×n RDM: n ≥ 3, length n², every
// entry finite, symmetric and with a zero diagonal within 1e-8 relative to
// the largest magnitude (at least 1). The error names the offending entry.
func Check(n int, full []float64) error {
	if n < 3 {
		return fmt.Errorf("%w: %w: n = %d", ErrNotRDM, ErrTooFewStimuli, n)
	}
	if len(full) != n*n {
		return fmt.Errorf("%w: %d values is not %d×%d", ErrNotRDM, len(full), n, n)
	}
	scale := 1.0
	for k, v := range full {
		if v-v != 0 {
			return fmt.Errorf("%w: entry (%d, %d) is %v", ErrNotRDM, k/n, k%n, v)
		}
		scale = max(scale, math.Abs(v))
	}
	for i := 0; i < n; i++ {
		if d := full[i*n+i]; math.Abs(d) > diagTol*scale {
			return fmt.Errorf("%w: diagonal entry (%d, %d) is %v, want 0", ErrNotRDM, i, i, d)
		}
		for j := i + 1; j < n; j++ {
			if a, b := full[i*n+j], full[j*n+i]; math.Abs(a-b) > symTol*scale {
				return fmt.Errorf("%w: not symmetric: entry (%d, %d) = %v but (%d, %d) = %v", ErrNotRDM, i, j, a, j, i, b)
			}
		}
	}
	return nil
}
