// Package stats holds the summary statistics scoring reports: means,
// standard errors and seeded percentile bootstrap confidence intervals
// over stimuli and over subjects.
//
// Invariants: inputs are never modified; the same seed gives the same
// resamples on every platform (math/rand/v2 PCG).
package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

var (
	ErrTooFew     = errors.New("stats: too few values")
	ErrResamples  = errors.New("stats: number of resamples must be at least 1")
	ErrNoEstimate = errors.New("stats: every resample failed")
)

// Mean returns the arithmetic mean of x; NaN for empty x.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// StdErr returns the standard error of the mean, sd/√n with the sample
// standard deviation (ddof = 1, as scipy.stats.sem); NaN for n < 2.
func StdErr(x []float64) float64 {
	n := len(x)
	if n < 2 {
		return math.NaN()
	}
	m := Mean(x)
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted x with
// linear interpolation between order statistics (numpy.percentile's
// default "linear" method). It panics on empty x or p out of range.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 || !(p >= 0 && p <= 100) {
		panic("stats: Percentile: empty input or p outside [0, 100]")
	}
	h := p / 100 * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// Level is the coverage of the bootstrap intervals.
const Level = 0.95

// CI is a percentile bootstrap confidence interval.
type CI struct {
	Lower, Upper float64
	Level        float64
	// Estimates are the sorted scores of the resamples that succeeded;
	// Failed counts resamples whose score returned an error or NaN (for
	// example a resample of stimuli with a constant RDM), which are left
	// out rather than biasing the interval with a made-up value.
	Estimates []float64
	Failed    int
}

// BootstrapStimuli resamples n stimuli with replacement b times (seeded)
// and returns the 95% percentile interval of score over the resamples.
// score gets the resampled stimulus indices (length n, values in [0, n));
// for RDM scores use ResampleUpper to build the matching vectors.
func BootstrapStimuli(n, b int, seed uint64, score func(idx []int) (float64, error)) (CI, error) {
	return bootstrap(n, b, seed, 3, score)
}

// BootstrapSubjects resamples s subjects with replacement b times (seeded)
// and returns the 95% percentile interval of score over the resamples.
func BootstrapSubjects(s, b int, seed uint64, score func(idx []int) (float64, error)) (CI, error) {
	return bootstrap(s, b, seed, 2, score)
}

func bootstrap(n, b int, seed uint64, minN int, score func(idx []int) (float64, error)) (CI, error) {
	if n < minN {
		return CI{}, fmt.Errorf("%w: %d to resample, need at least %d", ErrTooFew, n, minN)
	}
	if b < 1 {
		return CI{}, fmt.Errorf("%w: got %d", ErrResamples, b)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	ci := CI{Level: Level, Estimates: make([]float64, 0, b)}
	idx := make([]int, n)
	var lastErr error
	for k := 0; k < b; k++ {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		v, err := score(slices.Clone(idx))
		if err != nil || math.IsNaN(v) {
			ci.Failed++
			lastErr = err
			continue
		}
		ci.Estimates = append(ci.Estimates, v)
	}
	if len(ci.Estimates) == 0 {
		return CI{}, fmt.Errorf("%w (%d resamples; last error: %v)", ErrNoEstimate, b, lastErr)
	}
	slices.Sort(ci.Estimates)
	a := (1 - Level) / 2 * 100
	ci.Lower = Percentile(ci.Estimates, a)
	ci.Upper = Percentile(ci.Estimates, 100-a)
	return ci, nil
}

// ResampleUpper returns the RDM vector of the n×n RDM full resampled at
// stimuli idx: entries full[idx[i], idx[j]] for i<j in row-major order,
// leaving out pairs with idx[i] == idx[j] (a stimulus against its own
// copy, whose zero dissimilarity is an artefact of resampling), as
// rsatoolbox's bootstrap does. Two RDMs resampled with the same idx give
// aligned vectors. It panics if len(full) != n*n or an index is out of
// range.
func ResampleUpper(n int, full []float64, idx []int) []float64 {
	if len(full) != n*n {
		panic("stats: ResampleUpper: len(full) != n*n")
	}
	out := make([]float64, 0, len(idx)*(len(idx)-1)/2)
	for i, a := range idx {
		for _, c := range idx[i+1:] {
			if a != c {
				out = append(out, full[a*n+c])
			}
		}
	}
	return out
}
