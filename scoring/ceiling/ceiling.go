// Package ceiling estimates noise ceilings and normalises scores by them.
//
// RSA ceilings (Nili et al. 2014): with S subject RDM vectors, the upper
// bound is the mean over subjects of compare(subject, mean of all
// subjects), the lower bound the mean of compare(subject, mean of the other
// subjects). The R² versions are the mean over subjects of the squared
// per-subject correlation; that is how Algonauts 2019 reports its ceilings
// (0.1589 EVC, 0.3075 IT for the 92-image set).
//
// The subjects' RDMs are pooled into the reference RDM by a plain
// element-wise mean (Pool "mean", the default, as Algonauts 2019 and the
// Nili et al. toolbox do), or, with Pool "standardized", after bringing
// each subject's RDM to the form the comparison sees: ranks (average ties)
// for Spearman and Kendall τa, z-scores for Pearson; that is how
// rsatoolbox's noise ceilings pool (rsatoolbox.util.pooling.pool_rdm), and
// it keeps a subject with a larger dissimilarity scale from dominating.
//
// Response ceilings: split-half reliability over repeats, Spearman–Brown
// corrected (see SplitHalf).
//
// Normalisation policy: a ceiled score is raw / ceiling, with both in the
// same units (r with r, R² with R²). The raw score, the ceiling and the
// ratio are always kept together (Ceiled), and the ratio is never clipped
// when stored or compared: a model above the ceiling (ratio > 1) or below
// zero is information, typically that the ceiling is a noisy estimate.
// When there is no usable ceiling (NaN, zero or negative) the ratio is
// NaN. Clip exists for display only.
package ceiling

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cortexbench/cortexbench/scoring/rsa"
)

var (
	ErrTooFewSubjects = errors.New("ceiling: fewer than 2 subjects")
	ErrShape          = errors.New("ceiling: shape mismatch")
	ErrNonFinite      = errors.New("ceiling: non-finite value")
	ErrSplits         = errors.New("ceiling: number of splits must be at least 1")
)

// RSA holds an RSA noise ceiling and its per-subject parts.
type RSA struct {
	Upper, Lower     float64 // mean per-subject correlation
	UpperR2, LowerR2 float64 // mean per-subject squared correlation
	PerSubjectUpper  []float64
	PerSubjectLower  []float64
}

// Pool names how subject RDMs are averaged into the reference RDM.
type Pool string

const (
	// PoolMean averages the RDMs as they are.
	PoolMean Pool = "mean"
	// PoolStandardized averages each RDM's ranks (Spearman, Kendall τa)
	// or z-scores (Pearson), as rsatoolbox does.
	PoolStandardized Pool = "standardized"
)

// ErrPool reports an unknown pooling.
var ErrPool = errors.New("ceiling: unknown pooling")

// ParsePool validates a pooling name; "" is PoolMean.
func ParsePool(s string) (Pool, error) {
	switch p := Pool(s); p {
	case "", PoolMean:
		return PoolMean, nil
	case PoolStandardized:
		return p, nil
	}
	return "", fmt.Errorf("%w %q (want mean or standardized)", ErrPool, s)
}

// RSACeiling computes the RSA noise ceiling of subject RDM vectors (each an
// upper triangle, all of one length) under method m, pooling by plain
// element-wise means in subject order, as numpy's mean(axis=0).
func RSACeiling(subjects [][]float64, m rsa.Method) (RSA, error) {
	return RSACeilingPool(subjects, m, PoolMean)
}

// RSACeilingPool is RSACeiling with the reference RDMs pooled by pool
// ("" is PoolMean). Each subject's own RDM is compared as it is.
func RSACeilingPool(subjects [][]float64, m rsa.Method, pool Pool) (RSA, error) {
	pool, err := ParsePool(string(pool))
	if err != nil {
		return RSA{}, err
	}
	s := len(subjects)
	if s < 2 {
		return RSA{}, fmt.Errorf("%w: got %d (the lower bound needs the others' mean)", ErrTooFewSubjects, s)
	}
	l := len(subjects[0])
	for i, v := range subjects {
		if len(v) != l {
			return RSA{}, fmt.Errorf("%w: subject %d has %d entries, subject 0 has %d", ErrShape, i, len(v), l)
		}
	}
	pooled := subjects
	if pool == PoolStandardized {
		pooled = make([][]float64, s)
		for i, v := range subjects {
			if err := finite(v, i); err != nil {
				return RSA{}, err
			}
			z := make([]float64, l)
			switch m {
			case rsa.Pearson:
				copy(z, v)
				if !rsa.ZScore(z) {
					return RSA{}, fmt.Errorf("subject %d: %w", i, rsa.ErrConstant)
				}
			default:
				rsa.Rank(z, v)
			}
			pooled[i] = z
		}
	}
	all := make([]float64, l)
	for _, v := range pooled {
		for k, x := range v {
			all[k] += x
		}
	}
	for k := range all {
		all[k] /= float64(s)
	}
	out := RSA{PerSubjectUpper: make([]float64, s), PerSubjectLower: make([]float64, s)}
	others := make([]float64, l)
	for i, v := range subjects {
		u, err := rsa.Compare(v, all, m)
		if err != nil {
			return RSA{}, fmt.Errorf("subject %d vs mean of all: %w", i, err)
		}
		// Sum the others directly rather than (S·mean − v)/(S−1), so exact
		// ties in the others' mean stay exact ties for rank methods.
		clear(others)
		for j, w := range pooled {
			if j == i {
				continue
			}
			for k, x := range w {
				others[k] += x
			}
		}
		for k := range others {
			others[k] /= float64(s - 1)
		}
		lo, err := rsa.Compare(v, others, m)
		if err != nil {
			return RSA{}, fmt.Errorf("subject %d vs mean of the others: %w", i, err)
		}
		out.PerSubjectUpper[i], out.PerSubjectLower[i] = u, lo
		out.Upper += u
		out.Lower += lo
		out.UpperR2 += u * u
		out.LowerR2 += lo * lo
	}
	fs := float64(s)
	out.Upper /= fs
	out.Lower /= fs
	out.UpperR2 /= fs
	out.LowerR2 /= fs
	return out, nil
}

// finite reports subject i's first non-finite entry.
func finite(v []float64, i int) error {
	for k, x := range v {
		if x-x != 0 {
			return fmt.Errorf("%w: subject %d entry %d is %v", ErrNonFinite, i, k, x)
		}
	}
	return nil
}

// Responses are trial-level responses: Targets × Stimuli × Repeats in C
// order (Data[(t*Stimuli+s)*Repeats+k]), NaN where a stimulus had fewer
// repeats than Repeats.
type Responses struct {
	Targets, Stimuli, Repeats int
	Data                      []float64
}

// SplitHalf returns, per target, the Spearman–Brown corrected split-half
// reliability of the responses. Exactly:
//
//   - For split number k (0 ≤ k < splits) one permutation of the Repeats
//     slots is drawn from PCG(seed, k) and shared by every stimulus and
//     every target (as Brain-Score splits the repetition index): when
//     targets were recorded simultaneously, both halves hold the same
//     trials for every target.
//   - For target t and stimulus s, the available (non-NaN) repeats, taken
//     in that permuted slot order, are split into the first ⌊m/2⌋ and the
//     remaining ⌈m/2⌉ (m available); each half is averaged.
//   - Stimuli with fewer than 2 available repeats for that target are
//     skipped (they cannot be split).
//   - r_k is Pearson's r across the remaining stimuli between the two half
//     means; r is the mean of r_k over the splits, and the result is the
//     Spearman–Brown prediction for the full set, 2r/(1+r).
//
// A target with fewer than 3 usable stimuli, or whose half means are
// constant in some split, gets NaN. ±Inf in the data is an error (NaN
// marks a missing repeat). splits < 1 is an error.
func SplitHalf(r Responses, splits int, seed uint64) ([]float64, error) {
	if r.Targets < 1 || r.Stimuli < 1 || r.Repeats < 1 {
		return nil, fmt.Errorf("%w: responses are %d targets × %d stimuli × %d repeats; want all ≥ 1", ErrShape, r.Targets, r.Stimuli, r.Repeats)
	}
	if len(r.Data) != r.Targets*r.Stimuli*r.Repeats {
		return nil, fmt.Errorf("%w: %d values for %d×%d×%d responses", ErrShape, len(r.Data), r.Targets, r.Stimuli, r.Repeats)
	}
	if splits < 1 {
		return nil, fmt.Errorf("%w: got %d", ErrSplits, splits)
	}
	for i, v := range r.Data {
		if math.IsInf(v, 0) {
			rep := r.Stimuli * r.Repeats
			return nil, fmt.Errorf("%w: target %d, stimulus %d, repeat %d is %v", ErrNonFinite, i/rep, i%rep/r.Repeats, i%r.Repeats, v)
		}
	}
	perm := make([]int, r.Repeats)
	sum := make([]float64, r.Targets)
	bad := make([]bool, r.Targets)
	h1 := make([]float64, 0, r.Stimuli)
	h2 := make([]float64, 0, r.Stimuli)
	avail := make([]float64, 0, r.Repeats)
	for k := 0; k < splits; k++ {
		rng := rand.New(rand.NewPCG(seed, uint64(k)))
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(r.Repeats, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for t := 0; t < r.Targets; t++ {
			if bad[t] {
				continue
			}
			h1, h2 = h1[:0], h2[:0]
			for s := 0; s < r.Stimuli; s++ {
				row := r.Data[(t*r.Stimuli+s)*r.Repeats:][:r.Repeats]
				avail = avail[:0]
				for _, p := range perm {
					if v := row[p]; !math.IsNaN(v) {
						avail = append(avail, v)
					}
				}
				m := len(avail)
				if m < 2 {
					continue
				}
				h1 = append(h1, mean(avail[:m/2]))
				h2 = append(h2, mean(avail[m/2:]))
			}
			if len(h1) < 3 {
				bad[t] = true
				continue
			}
			c, err := rsa.Compare(h1, h2, rsa.Pearson)
			if err != nil {
				bad[t] = true
				continue
			}
			sum[t] += c
		}
	}
	out := make([]float64, r.Targets)
	for t := range out {
		if bad[t] {
			out[t] = math.NaN()
			continue
		}
		rr := sum[t] / float64(splits)
		out[t] = 2 * rr / (1 + rr)
	}
	return out, nil
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// Ceiled is a score kept with its ceiling: Value = Raw / Ceiling.
type Ceiled struct {
	Raw, Ceiling, Value float64
}

// Normalize divides raw by ceiling without clipping. Value is NaN when
// there is no usable ceiling (NaN, zero or negative).
func Normalize(raw, ceiling float64) Ceiled {
	c := Ceiled{Raw: raw, Ceiling: ceiling, Value: math.NaN()}
	if ceiling > 0 && !math.IsInf(ceiling, 0) {
		c.Value = raw / ceiling
	}
	return c
}

// Clip returns c.Value clamped to [0, 1], for display only; never store or
// rank by the clipped value. NaN stays NaN.
func Clip(c Ceiled) float64 {
	if math.IsNaN(c.Value) {
		return c.Value
	}
	return max(0, min(1, c.Value))
}

// Bound names which noise-ceiling estimate a ceiled score divides by
// (issue 16). The zero value is BoundUpper, today's default.
type Bound string

const (
	// BoundUpper: Nili et al.'s upper bound, the mean over subjects of
	// compare(subject, mean of all subjects, pooled as Pool says).
	BoundUpper Bound = "upper"
	// BoundLower: Nili et al.'s lower bound, the mean over subjects of
	// compare(subject, mean of the other subjects, pooled as Pool says).
	BoundLower Bound = "lower"
	// BoundLOSO: the leave-one-subject-out consistency as Brain-Score and
	// the Algonauts authors compute it: each subject against the plain
	// element-wise mean of the other subjects' RDMs, whatever Pool says.
	// With Pool "mean" it equals BoundLower.
	BoundLOSO Bound = "leave-one-subject-out"
	// BoundHalves: for data given as split-half similarity or
	// cross-validated dissimilarity matrices, each subject's reliability
	// from its own two independent estimates of every pair (the upper and
	// the lower triangle), Spearman–Brown corrected, averaged over
	// subjects. See Halves.
	BoundHalves Bound = "halves"
)

// ErrBound reports an unknown bound.
var ErrBound = errors.New("ceiling: unknown bound")

// ParseBound validates a bound name; "" is BoundUpper.
func ParseBound(s string) (Bound, error) {
	switch b := Bound(s); b {
	case "", BoundUpper:
		return BoundUpper, nil
	case BoundLower, BoundLOSO, BoundHalves:
		return b, nil
	}
	return "", fmt.Errorf("%w %q (want upper, lower, leave-one-subject-out or halves)", ErrBound, s)
}

// LeaveOneSubjectOut returns the mean over subjects of compare(subject,
// plain mean of the other subjects) and the per-subject values (BoundLOSO).
func LeaveOneSubjectOut(subjects [][]float64, m rsa.Method) (float64, []float64, error) {
	c, err := RSACeilingPool(subjects, m, PoolMean)
	if err != nil {
		return math.NaN(), nil, err
	}
	return c.Lower, c.PerSubjectLower, nil
}

// RSABound returns the ceiling of subject RDM vectors under bound (not
// BoundHalves, which needs the halves: see Halves), in the comparison's
// units.
func RSABound(subjects [][]float64, m rsa.Method, pool Pool, bound Bound) (float64, error) {
	bound, err := ParseBound(string(bound))
	if err != nil {
		return math.NaN(), err
	}
	switch bound {
	case BoundLOSO:
		v, _, err := LeaveOneSubjectOut(subjects, m)
		return v, err
	case BoundHalves:
		return math.NaN(), fmt.Errorf("%w: the halves bound needs each subject's two triangles (ceiling.Halves)", ErrBound)
	}
	c, err := RSACeilingPool(subjects, m, pool)
	if err != nil {
		return math.NaN(), err
	}
	if bound == BoundLower {
		return c.Lower, nil
	}
	return c.Upper, nil
}

// Halves returns the BoundHalves ceiling: for each subject i, r_i =
// compare(a[i], b[i]) between its two independent estimates of the same
// pairs (for an asymmetric split-half matrix M, a = M's upper triangle
// row by row and b = the same pairs read from the lower triangle, M[j][i]),
// corrected by Spearman–Brown to the reliability of their average,
// 2r/(1+r); the result is the mean over subjects, with the per-subject
// values. A subject whose r is not finite is an error.
func Halves(a, b [][]float64, m rsa.Method) (float64, []float64, error) {
	if len(a) == 0 || len(a) != len(b) {
		return math.NaN(), nil, fmt.Errorf("%w: %d first halves, %d second halves", ErrShape, len(a), len(b))
	}
	per := make([]float64, len(a))
	var sum float64
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return math.NaN(), nil, fmt.Errorf("%w: subject %d halves have %d and %d entries", ErrShape, i, len(a[i]), len(b[i]))
		}
		r, err := rsa.Compare(a[i], b[i], m)
		if err != nil {
			return math.NaN(), nil, fmt.Errorf("subject %d, triangle against triangle: %w", i, err)
		}
		per[i] = 2 * r / (1 + r)
		sum += per[i]
	}
	return sum / float64(len(a)), per, nil
}

// Transform names how a ceiled score is formed from the raw score and the
// ceiling (issue 16). The zero value is TransformRatio, today's default.
type Transform string

const (
	// TransformRatio: raw / ceiling, unclipped (Normalize).
	TransformRatio Transform = "ratio"
	// TransformSquaredClipped: (raw / ceiling)², the ratio first clipped
	// to [0, 1] — a negative correlation scores 0 rather than its square,
	// one above the ceiling scores 1: the convention of benchmarks that
	// report explained variance relative to the noise ceiling.
	TransformSquaredClipped Transform = "squared-clipped"
)

// ErrTransform reports an unknown transform.
var ErrTransform = errors.New("ceiling: unknown transform")

// ParseTransform validates a transform name; "" is TransformRatio.
func ParseTransform(s string) (Transform, error) {
	switch t := Transform(s); t {
	case "", TransformRatio:
		return TransformRatio, nil
	case TransformSquaredClipped:
		return t, nil
	}
	return "", fmt.Errorf("%w %q (want ratio or squared-clipped)", ErrTransform, s)
}

// Apply forms the ceiled score of raw under t; NaN when there is no usable
// ceiling (NaN, zero, negative or infinite), as Normalize. An unknown t is
// treated as TransformRatio (validate with ParseTransform first).
func Apply(raw, ceiling float64, t Transform) float64 {
	v := Normalize(raw, ceiling).Value
	if t != TransformSquaredClipped || math.IsNaN(v) {
		return v
	}
	v = max(0, min(1, v))
	return v * v
}
