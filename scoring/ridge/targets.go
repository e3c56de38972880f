package ridge

import (
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// ymat is the targets of CV: m is stimuli × targets, or with t targets ×
// stimuli (CVT), read in place either way.
type ymat[U linalg.Float] struct {
	m linalg.Matrix[U]
	t bool
}

// n is the number of stimuli, p of targets.
func (y ymat[U]) n() int {
	if y.t {
		return y.m.Cols
	}
	return y.m.Rows
}

func (y ymat[U]) p() int {
	if y.t {
		return y.m.Rows
	}
	return y.m.Cols
}

// gather writes stimuli idx (nil: all, in order) of targets j0…j1-1 into
// dst (len(idx)×(j1-j0)) as float64, which is exact.
func (y ymat[U]) gather(dst mat, idx []int, j0, j1 int) {
	if !y.t {
		src := rows[U]{m: y.m.Slice(0, y.m.Rows, j0, j1), idx: idx}
		for i := range dst.Rows {
			d := dst.Row(i)
			for j, v := range src.row(i) {
				d[j] = float64(v)
			}
		}
		return
	}
	for j := j0; j < j1; j++ {
		src := y.m.Row(j)
		c := j - j0
		if idx == nil {
			for i, v := range src {
				dst.Data[i*dst.Stride+c] = float64(v)
			}
			continue
		}
		for i, s := range idx {
			dst.Data[i*dst.Stride+c] = float64(src[s])
		}
	}
}

// checkFinite reports the first NaN or Inf of y by stimulus and target.
func (y ymat[U]) checkFinite() error {
	if !y.t {
		return checkFinite(y.m, "y", "target")
	}
	for j := range y.m.Rows {
		for i, v := range y.m.Row(j) {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%w: y has %g at target %d, stimulus %d", ErrNonFinite, f, j, i)
			}
		}
	}
	return nil
}

// pearson writes Pearson r per target between the predictions pred (all
// stimuli × targets j0…j0+pred.Cols-1) and y, on the stimuli idx (nil:
// all), into dst (made when nil) and returns it. Each column's sums run
// over the stimuli in the same order whatever y's layout, so the result is
// bit for bit pearsonCols's.
func (y ymat[U]) pearson(dst []float64, pred mat, idx []int, j0 int, wk *work) []float64 {
	p := pred.Cols
	if dst == nil {
		dst = make([]float64, p)
	}
	if !y.t {
		pearsonCols(dst, rows[float64]{m: pred, idx: idx}, rows[U]{m: y.m.Slice(0, y.m.Rows, j0, j0+p), idx: idx}, wk)
		return dst
	}
	n := y.n()
	if idx != nil {
		n = len(idx)
	}
	for b0 := 0; b0 < p; b0 += targetBlock {
		b1 := min(p, b0+targetBlock)
		yb := wk.mat64("pearsonY", n, b1-b0)
		y.gather(yb, idx, j0+b0, j0+b1)
		pearsonCols(dst[b0:b1], rows[float64]{m: pred.Slice(0, pred.Rows, b0, b1), idx: idx}, rows[float64]{m: yb}, wk)
	}
	return dst
}
