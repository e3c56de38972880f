// Package timersa is time-resolved RSA for MEG/EEG: a model RDM compared
// with the brain RDM at every time point, giving a score curve, its noise
// ceiling curve and the time at which the model fits best.
//
// What it answers: when, after stimulus onset, does the brain's
// representational geometry look most like this layer's? Early layers
// typically peak earlier than late ones (Cichy, Khosla, Pantazis,
// Torralba & Oliva 2016, Sci Rep 6:27755). Use it for sensor- or
// source-space M/EEG RDMs; for fMRI use plain RSA.
//
// # Data format
//
// A time-resolved benchmark is an array of shape (subjects, times, n, n):
// subject s's RDM over the n stimuli at time point t, each symmetric with
// a zero diagonal (as every RDM in the datasets folder), stored as a
// float64 (or float32) .npy file (any byte order or layout), plus a (times,)
// .npy of the time points in seconds relative to stimulus onset,
// increasing. A manifest points at the two files (rdms, times) and the
// stimulus list in the same order as the RDM rows; FromDense turns the
// decoded arrays into Data. Group-only data are one "subject" (no ceiling
// then).
//
// Score compares one model RDM (n(n−1)/2 upper-triangle vector, as
// rdm.Upper) with every subject at every time (rsa.Compare) and averages
// over subjects; ScoreLayers does the same for many layers at once, ranking
// every vector once and turning the comparisons into one matrix product.
// NoiseCeiling is the Nili ceiling (ceiling.RSACeiling) at every time;
// PeakCI bootstraps subjects for an interval on the peak time.
package timersa

import (
	"errors"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
)

var (
	// ErrShape reports arrays of the wrong shape or times out of order.
	ErrShape = errors.New("timersa: bad shape")
	// ErrNonFinite reports NaN or Inf in an RDM or time.
	ErrNonFinite = errors.New("timersa: non-finite value")
	// ErrConstant reports an RDM vector with no variance, for which the
	// comparison is undefined.
	ErrConstant = errors.New("timersa: constant RDM")
)

// Data is a time-resolved RDM set: RDMs[s][t] is subject s's RDM vector
// (upper triangle) at time Times[t] (seconds).
type Data struct {
	N     int
	Times []float64
	RDMs  [][][]float64
}

// FromDense builds Data from a (subjects, times, n, n) C-order array and
// its time points. It checks symmetry (to 1e-10 relative), zero
// diagonals and finiteness, and that times increase.
func FromDense(shape []int, data []float64, times []float64) (Data, error) {
	if len(shape) != 4 || shape[2] != shape[3] {
		return Data{}, fmt.Errorf("%w: RDM array has shape %v, want (subjects, times, n, n)", ErrShape, shape)
	}
	s, nt, n := shape[0], shape[1], shape[2]
	if n < 3 || s < 1 || nt < 1 || len(data) != s*nt*n*n {
		return Data{}, fmt.Errorf("%w: RDM array shape %v with %d values (need n ≥ 3)", ErrShape, shape, len(data))
	}
	if len(times) != nt {
		return Data{}, fmt.Errorf("%w: %d time points for %d times in the RDM array", ErrShape, len(times), nt)
	}
	for t, v := range times {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Data{}, fmt.Errorf("%w: time %d is %v", ErrNonFinite, t, v)
		}
		if t > 0 && v <= times[t-1] {
			return Data{}, fmt.Errorf("%w: times not increasing at %d (%g after %g)", ErrShape, t, v, times[t-1])
		}
	}
	d := Data{N: n, Times: append([]float64(nil), times...), RDMs: make([][][]float64, s)}
	for si := 0; si < s; si++ {
		d.RDMs[si] = make([][]float64, nt)
		for t := 0; t < nt; t++ {
			full := data[(si*nt+t)*n*n : (si*nt+t+1)*n*n]
			v := make([]float64, 0, n*(n-1)/2)
			for i := 0; i < n; i++ {
				if full[i*n+i] != 0 {
					return Data{}, fmt.Errorf("%w: subject %d time %d diagonal %d is %g, not 0", ErrShape, si, t, i, full[i*n+i])
				}
				for j := i + 1; j < n; j++ {
					a, b := full[i*n+j], full[j*n+i]
					if math.IsNaN(a) || math.IsInf(a, 0) || math.IsNaN(b) || math.IsInf(b, 0) {
						return Data{}, fmt.Errorf("%w: subject %d time %d pair (%d,%d)", ErrNonFinite, si, t, i, j)
					}
					if math.Abs(a-b) > 1e-10*max(math.Abs(a), math.Abs(b), 1e-300) {
						return Data{}, fmt.Errorf("%w: subject %d time %d RDM not symmetric at (%d,%d)", ErrShape, si, t, i, j)
					}
					v = append(v, a)
				}
			}
			d.RDMs[si][t] = v
		}
	}
	return d, nil
}

// Curve is a model's score over time.
type Curve struct {
	// Subject[s][t] is the comparison of the model with subject s at time t.
	Subject [][]float64
	// Score[t] is the mean over subjects, SE[t] its standard error (NaN
	// with one subject).
	Score, SE []float64
	// Peak is the index of the largest Score (the first on ties);
	// PeakTime is Times[Peak].
	Peak      int
	PeakTime  float64
	PeakScore float64
}

// Ceiling is the noise ceiling at every time point (see ceiling.RSA).
type Ceiling struct {
	Upper, Lower []float64
}

// Score compares model with every subject's RDM at every time under m.
func Score(d Data, model []float64, m rsa.Method) (Curve, error) {
	c, err := ScoreLayers(d, [][]float64{model}, m)
	if err != nil {
		return Curve{}, err
	}
	return c[0], nil
}

// ScoreLayers returns the curve of every layer RDM vector. Inputs are not
// modified.
func ScoreLayers(d Data, layers [][]float64, m rsa.Method) ([]Curve, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if m == "" {
		m = rsa.Spearman
	}
	p := d.N * (d.N - 1) / 2
	for l, v := range layers {
		if len(v) != p {
			return nil, fmt.Errorf("%w: layer %d RDM vector has length %d, want %d", ErrShape, l, len(v), p)
		}
		if err := finite(v); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
	}
	ns, nt := len(d.RDMs), len(d.Times)
	out := make([]Curve, len(layers))
	for l := range out {
		out[l].Subject = make([][]float64, ns)
		for s := range out[l].Subject {
			out[l].Subject[s] = make([]float64, nt)
		}
	}
	if m == rsa.KendallTauA {
		for l, v := range layers {
			for s := range d.RDMs {
				for t, b := range d.RDMs[s] {
					r, err := rsa.Compare(v, b, m)
					if err != nil {
						return nil, fmt.Errorf("layer %d, subject %d, time %d: %w", l, s, t, err)
					}
					out[l].Subject[s][t] = r
				}
			}
		}
	} else {
		// Correlations as one product of standardised (ranked) vectors.
		a := linalg.NewMatrix[float64](len(layers), p)
		for l, v := range layers {
			if !rsa.Standardize(a.Row(l), v, m) {
				return nil, fmt.Errorf("%w: layer %d", ErrConstant, l)
			}
		}
		b := linalg.NewMatrix[float64](ns*nt, p)
		for s := range d.RDMs {
			for t, v := range d.RDMs[s] {
				if !rsa.Standardize(b.Row(s*nt+t), v, m) {
					return nil, fmt.Errorf("%w: subject %d at time %d", ErrConstant, s, t)
				}
			}
		}
		c := linalg.NewMatrix[float64](len(layers), ns*nt)
		linalg.Gemm(false, true, 1/float64(p), a, b, 0, c)
		for l := range layers {
			row := c.Row(l)
			for s := 0; s < ns; s++ {
				copy(out[l].Subject[s], row[s*nt:(s+1)*nt])
			}
		}
	}
	for l := range out {
		finish(&out[l], d.Times)
	}
	return out, nil
}

func finish(c *Curve, times []float64) {
	nt, ns := len(times), len(c.Subject)
	c.Score, c.SE = make([]float64, nt), make([]float64, nt)
	c.Peak = 0
	for t := 0; t < nt; t++ {
		var sum float64
		for s := 0; s < ns; s++ {
			sum += c.Subject[s][t]
		}
		mean := sum / float64(ns)
		c.Score[t] = mean
		if ns < 2 {
			c.SE[t] = math.NaN()
		} else {
			var ss float64
			for s := 0; s < ns; s++ {
				ss += (c.Subject[s][t] - mean) * (c.Subject[s][t] - mean)
			}
			c.SE[t] = math.Sqrt(ss/float64(ns-1)) / math.Sqrt(float64(ns))
		}
		if mean > c.Score[c.Peak] {
			c.Peak = t
		}
	}
	c.PeakTime, c.PeakScore = times[c.Peak], c.Score[c.Peak]
}

// PeakCI is the 95% percentile bootstrap interval of the peak time over
// subjects (stats.BootstrapSubjects, b resamples, seeded): each resample
// averages the curves of the drawn subjects and takes its peak. It needs
// at least two subjects; times are the Data's Times.
func PeakCI(c Curve, times []float64, b int, seed uint64) (stats.CI, error) {
	if len(c.Subject) < 2 {
		return stats.CI{}, fmt.Errorf("%w: peak interval needs at least 2 subjects, have %d", ErrShape, len(c.Subject))
	}
	mean := make([]float64, len(times))
	return stats.BootstrapSubjects(len(c.Subject), b, seed, func(idx []int) (float64, error) {
		clear(mean)
		for _, s := range idx {
			for t, v := range c.Subject[s] {
				mean[t] += v
			}
		}
		peak := 0
		for t, v := range mean {
			if v > mean[peak] {
				peak = t
			}
		}
		return times[peak], nil
	})
}

// NoiseCeiling returns the Nili upper and lower bounds at every time
// point; it needs at least two subjects.
func NoiseCeiling(d Data, m rsa.Method) (Ceiling, error) {
	if err := d.check(); err != nil {
		return Ceiling{}, err
	}
	if m == "" {
		m = rsa.Spearman
	}
	nt := len(d.Times)
	c := Ceiling{Upper: make([]float64, nt), Lower: make([]float64, nt)}
	at := make([][]float64, len(d.RDMs))
	for t := 0; t < nt; t++ {
		for s := range d.RDMs {
			at[s] = d.RDMs[s][t]
		}
		r, err := ceiling.RSACeiling(at, m)
		if err != nil {
			return Ceiling{}, fmt.Errorf("ceiling at time %d (%g s): %w", t, d.Times[t], err)
		}
		c.Upper[t], c.Lower[t] = r.Upper, r.Lower
	}
	return c, nil
}

func (d Data) check() error {
	if d.N < 3 || len(d.RDMs) == 0 || len(d.Times) == 0 {
		return fmt.Errorf("%w: %d stimuli, %d subjects, %d times", ErrShape, d.N, len(d.RDMs), len(d.Times))
	}
	p := d.N * (d.N - 1) / 2
	for s, byTime := range d.RDMs {
		if len(byTime) != len(d.Times) {
			return fmt.Errorf("%w: subject %d has %d time points, want %d", ErrShape, s, len(byTime), len(d.Times))
		}
		for t, v := range byTime {
			if len(v) != p {
				return fmt.Errorf("%w: subject %d time %d RDM vector has length %d, want %d", ErrShape, s, t, len(v), p)
			}
			if err := finite(v); err != nil {
				return fmt.Errorf("subject %d time %d: %w", s, t, err)
			}
		}
	}
	return nil
}

func finite(v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: entry %d is %v", ErrNonFinite, i, x)
		}
	}
	return nil
}
