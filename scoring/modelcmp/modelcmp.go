// Package modelcmp tests whether one model's score is reliably above
// another's, for every pair of models on a benchmark, and controls the
// false discovery rate across the pairs.
//
// What it answers: "is network A better than network B on this brain
// region, given that both stimuli and subjects are samples?" Use it
// before calling a leaderboard difference real; a gap smaller than the
// bootstrap spread of the difference is noise.
//
// The test is a paired bootstrap (Efron & Tibshirani 1993; as
// rsatoolbox's bootstrap_sample with both stimuli and subjects resampled,
// Schütt et al. 2023 eLife 12:e82566): each resample draws n stimuli and s
// subjects with replacement; every model is scored on the same resample
// (RSA: mean over the drawn subjects of the comparison of the resampled
// model and subject RDMs, leaving out pairs of a stimulus with its own
// copy), and the difference of two models' scores is recorded. The
// two-sided p-value of "difference = 0" is
//
//	p = min(1, 2·min(1 + #{d_b ≤ 0}, 1 + #{d_b ≥ 0}) / (B + 1))
//
// over the B resamples that succeeded (the +1 keeps p above zero with a
// finite B, Davison & Hinkley 1997 eq. 4.11), and the interval is the
// 95% percentile interval of the differences. Across the M(M−1)/2 pairs,
// BH turns p-values into Benjamini–Hochberg adjusted p-values (q-values):
// declaring the pairs with q ≤ 0.05 different keeps the expected share of
// false discoveries at 5% (Benjamini & Hochberg 1995).
//
// The resample indices are an input (Draw makes seeded ones), so a result
// can be reproduced exactly, by this package or another tool.
package modelcmp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
)

var (
	// ErrShape reports mismatched RDM vectors or out-of-range resamples.
	ErrShape = errors.New("modelcmp: bad shape")
	// ErrNonFinite reports NaN or Inf in an RDM vector.
	ErrNonFinite = errors.New("modelcmp: non-finite value")
	// ErrTooFew reports fewer than two models or too few valid resamples.
	ErrTooFew = errors.New("modelcmp: too few models or resamples")
)

// Resample is one bootstrap draw: indices of stimuli (length n) and of
// subjects (length s), with replacement.
type Resample struct {
	Stimuli, Subjects []int
}

// Draw returns b seeded resamples of n stimuli and s subjects (PCG seeded
// (seed, 0)). It panics unless n, s, b > 0.
func Draw(n, s, b int, seed uint64) []Resample {
	if n <= 0 || s <= 0 || b <= 0 {
		panic("modelcmp: Draw needs positive n, s, b")
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([]Resample, b)
	for k := range out {
		r := Resample{Stimuli: make([]int, n), Subjects: make([]int, s)}
		for i := range r.Stimuli {
			r.Stimuli[i] = rng.IntN(n)
		}
		for i := range r.Subjects {
			r.Subjects[i] = rng.IntN(s)
		}
		out[k] = r
	}
	return out
}

// Pair is the comparison of models A and B (A < B): Diff = score(A) −
// score(B) on the original data, its bootstrap interval and p-value, and
// the BH-adjusted p-value Q across all pairs.
type Pair struct {
	A, B         int
	Diff         float64
	Lower, Upper float64
	P, Q         float64
}

// Result is the outcome of RSA.
type Result struct {
	// Scores are the models' scores on the original data.
	Scores []float64
	// Boot[b][m] is model m's score on resample b (NaN if undefined there).
	Boot [][]float64
	// Pairs lists every pair A < B in row-major order.
	Pairs []Pair
	// Failed counts resamples left out because a score was undefined
	// (for instance a constant resampled RDM).
	Failed int
}

// RSA compares every pair of models by the paired bootstrap of their RSA
// scores. models[m] and subjects[s] are RDM vectors (upper triangles, as
// rdm.Upper) over the same n stimuli. Inputs are not modified.
func RSA(models, subjects [][]float64, method rsa.Method, resamples []Resample) (*Result, error) {
	score, full, err := RSAScorer(models, subjects, method, resamples)
	if err != nil {
		return nil, err
	}
	return Paired(len(models), resamples, score, full)
}

// RSAAgainst is RSA comparing every model with one reference, models[ref]
// (a control): Result.Pairs holds (m, ref) for every m ≠ ref, in model
// order, with Diff = score(m) − score(ref), and Q is BH-adjusted across
// those len(models)−1 pairs only. The resamples' scores are those of RSA.
func RSAAgainst(models, subjects [][]float64, method rsa.Method, resamples []Resample, ref int) (*Result, error) {
	if ref < 0 || ref >= len(models) {
		return nil, fmt.Errorf("%w: reference model %d of %d", ErrShape, ref, len(models))
	}
	score, full, err := RSAScorer(models, subjects, method, resamples)
	if err != nil {
		return nil, err
	}
	return PairedAgainst(len(models), ref, resamples, score, full)
}

// RSAScorer checks RSA's inputs and returns what RSA hands Paired: the
// function scoring every model on a resample, and the resample that
// stands for the original data. A caller runs Paired or PairedAgainst
// with them itself when it needs to, e.g. to stop at a deadline (a score
// function that fails leaves the resample out).
func RSAScorer(models, subjects [][]float64, method rsa.Method, resamples []Resample) (func(Resample) ([]float64, error), Resample, error) {
	if len(models) < 2 {
		return nil, Resample{}, fmt.Errorf("%w: %d models, need at least 2", ErrTooFew, len(models))
	}
	if len(subjects) == 0 {
		return nil, Resample{}, fmt.Errorf("%w: no subjects", ErrShape)
	}
	m := len(subjects[0])
	n := int(math.Round((1 + math.Sqrt(1+8*float64(m))) / 2))
	if n*(n-1)/2 != m || n < 3 {
		return nil, Resample{}, fmt.Errorf("%w: RDM vector length %d is not n(n−1)/2 with n ≥ 3", ErrShape, m)
	}
	for what, vs := range map[string][][]float64{"model": models, "subject": subjects} {
		for i, v := range vs {
			if len(v) != m {
				return nil, Resample{}, fmt.Errorf("%w: %s %d RDM vector has length %d, want %d", ErrShape, what, i, len(v), m)
			}
			for j, x := range v {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, Resample{}, fmt.Errorf("%w: %s %d entry %d is %v", ErrNonFinite, what, i, j, x)
				}
			}
		}
	}
	for b, r := range resamples {
		for _, i := range r.Stimuli {
			if i < 0 || i >= n {
				return nil, Resample{}, fmt.Errorf("%w: resample %d draws stimulus %d of %d", ErrShape, b, i, n)
			}
		}
		for _, i := range r.Subjects {
			if i < 0 || i >= len(subjects) {
				return nil, Resample{}, fmt.Errorf("%w: resample %d draws subject %d of %d", ErrShape, b, i, len(subjects))
			}
		}
	}
	if method == "" {
		method = rsa.Spearman
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	subj := make([]int, len(subjects))
	for i := range subj {
		subj[i] = i
	}
	sc := &scorer{method: method, n: n}
	for _, v := range models {
		sc.models = append(sc.models, newSortedVector(v))
	}
	for _, v := range subjects {
		sc.subjects = append(sc.subjects, newSortedVector(v))
	}
	return sc.scores, Resample{Stimuli: all, Subjects: subj}, nil
}

// Paired runs the paired bootstrap for any benchmark score: score returns
// the scores of all m models on a resample of stimuli and subjects (an
// error or NaN leaves the resample out), and full is the resample that
// stands for the original data (every stimulus and subject once), scored
// for Result.Scores and Pair.Diff. Use it for encoding or other metrics
// whose per-resample score the caller computes; RSA is Paired with an RSA
// score.
func Paired(m int, resamples []Resample, score func(Resample) ([]float64, error), full Resample) (*Result, error) {
	res, ok, err := bootstrap(m, resamples, score, full)
	if err != nil {
		return nil, err
	}
	var ps []float64
	d := make([]float64, len(ok))
	for a := 0; a < m; a++ {
		for b := a + 1; b < m; b++ {
			res.Pairs = append(res.Pairs, pair(res, ok, a, b, d))
			ps = append(ps, res.Pairs[len(res.Pairs)-1].P)
		}
	}
	for i, q := range BH(ps) {
		res.Pairs[i].Q = q
	}
	return res, nil
}

// PairedAgainst is Paired comparing every model with the reference ref
// only: Pairs holds (m, ref) for every m ≠ ref, Diff = score(m) −
// score(ref), and Q is BH-adjusted across those m−1 pairs. It is the
// test of "does any model beat the control": the family of tests is the
// models, not every pair of them.
func PairedAgainst(m, ref int, resamples []Resample, score func(Resample) ([]float64, error), full Resample) (*Result, error) {
	if ref < 0 || ref >= m {
		return nil, fmt.Errorf("%w: reference model %d of %d", ErrShape, ref, m)
	}
	res, ok, err := bootstrap(m, resamples, score, full)
	if err != nil {
		return nil, err
	}
	var ps []float64
	d := make([]float64, len(ok))
	for a := 0; a < m; a++ {
		if a == ref {
			continue
		}
		res.Pairs = append(res.Pairs, pair(res, ok, a, ref, d))
		ps = append(ps, res.Pairs[len(res.Pairs)-1].P)
	}
	for i, q := range BH(ps) {
		res.Pairs[i].Q = q
	}
	return res, nil
}

// pair is the comparison of models a and b over the resamples' scores
// ok (d is scratch of len(ok)); Q is left to the caller.
func pair(res *Result, ok [][]float64, a, b int, d []float64) Pair {
	for k, s := range ok {
		d[k] = s[a] - s[b]
	}
	p := Pair{A: a, B: b, Diff: res.Scores[a] - res.Scores[b], P: PValue(d)}
	sorted := slices.Clone(d)
	sort.Float64s(sorted)
	p.Lower = stats.Percentile(sorted, 100*(1-stats.Level)/2)
	p.Upper = stats.Percentile(sorted, 100*(1+stats.Level)/2)
	return p
}

// bootstrap scores the m models on the original data and on every
// resample; ok holds the resamples' scores where all were defined.
func bootstrap(m int, resamples []Resample, score func(Resample) ([]float64, error), full Resample) (*Result, [][]float64, error) {
	if m < 2 {
		return nil, nil, fmt.Errorf("%w: %d models, need at least 2", ErrTooFew, m)
	}
	res := &Result{}
	var err error
	res.Scores, err = score(full)
	if err != nil {
		return nil, nil, fmt.Errorf("scores on the original data: %w", err)
	}
	if len(res.Scores) != m {
		panic("modelcmp: score returned the wrong number of models")
	}
	var ok [][]float64
	for _, r := range resamples {
		s, err := score(r)
		bad := err != nil || len(s) != m
		for _, v := range s {
			bad = bad || math.IsNaN(v)
		}
		if bad {
			s = make([]float64, m)
			for i := range s {
				s[i] = math.NaN()
			}
			res.Failed++
		} else {
			ok = append(ok, s)
		}
		res.Boot = append(res.Boot, s)
	}
	if len(ok) < 2 {
		return nil, nil, fmt.Errorf("%w: %d of %d resamples gave defined scores", ErrTooFew, len(ok), len(resamples))
	}
	return res, ok, nil
}

// PValue is the two-sided bootstrap p-value of "the difference is zero"
// from the resampled differences d (see the package doc). It panics on
// empty d.
func PValue(d []float64) float64 {
	if len(d) == 0 {
		panic("modelcmp: PValue of no differences")
	}
	var le, ge int
	for _, v := range d {
		if v <= 0 {
			le++
		}
		if v >= 0 {
			ge++
		}
	}
	return math.Min(1, 2*float64(1+min(le, ge))/float64(len(d)+1))
}

// BH returns the Benjamini–Hochberg adjusted p-values of p, in p's order:
// q_(i) = min_{j ≥ i} p_(j)·m/j over the sorted p-values, capped at 1 (as
// scipy.stats.false_discovery_control(p, method="bh") and R's
// p.adjust(p, "BH")). p is not modified; NaN p-values are not allowed
// (it panics).
func BH(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
		if math.IsNaN(p[i]) {
			panic("modelcmp: NaN p-value")
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] < p[order[b]] })
	q := make([]float64, m)
	run := 1.0
	for r := m - 1; r >= 0; r-- {
		i := order[r]
		run = math.Min(run, p[i]*float64(m)/float64(r+1))
		q[i] = run
	}
	return q
}

// sortedVector holds an RDM vector's sort order and tie groups, so that
// the ranks of any resample of its entries can be read off in O(m) by
// counting (a resample only repeats or drops entries of the original).
type sortedVector struct {
	v       []float64
	order   []int32 // positions in increasing value
	lastTie []bool  // lastTie[k]: order[k] ends a group of equal values
}

func newSortedVector(v []float64) sortedVector {
	order := make([]int32, len(v))
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return v[order[a]] < v[order[b]] })
	last := make([]bool, len(v))
	for k := range order {
		last[k] = k == len(v)-1 || v[order[k+1]] != v[order[k]]
	}
	return sortedVector{v: v, order: order, lastTie: last}
}

// standardizeResample writes into z the standardised (ranked, for
// Spearman) values at positions pos, given cnt[p] = occurrences of p in
// pos; rankAt is scratch of the vector's length. It reports false for a
// constant result.
func (s sortedVector) standardizeResample(z []float64, pos []int, cnt []int32, rankAt []float64, m rsa.Method) bool {
	if m == rsa.Spearman {
		start, k0 := 0.0, 0
		var c int32
		for k, p := range s.order {
			c += cnt[p]
			if s.lastTie[k] {
				r := start + (float64(c)+1)/2 // average rank, 1-based
				for _, q := range s.order[k0 : k+1] {
					rankAt[q] = r
				}
				start += float64(c)
				c, k0 = 0, k+1
			}
		}
		for i, p := range pos {
			z[i] = rankAt[p]
		}
	} else {
		for i, p := range pos {
			z[i] = s.v[p]
		}
	}
	return rsa.ZScore(z)
}

// scorer computes every model's RSA score on resamples.
type scorer struct {
	models, subjects []sortedVector
	method           rsa.Method
	n                int
}

// scores returns every model's RSA score on resample r: the mean over the
// drawn subjects of the comparison of the resampled RDMs.
func (sc *scorer) scores(r Resample) ([]float64, error) {
	pos := resamplePositions(sc.n, r.Stimuli)
	out := make([]float64, len(sc.models))
	if sc.method == rsa.KendallTauA {
		for m, v := range sc.models {
			mv := gather(v.v, pos)
			for _, s := range r.Subjects {
				c, err := rsa.Compare(mv, gather(sc.subjects[s].v, pos), sc.method)
				if err != nil {
					return out, err
				}
				out[m] += c / float64(len(r.Subjects))
			}
		}
		return out, nil
	}
	m := len(sc.subjects[0].v)
	cnt := make([]int32, m)
	for _, p := range pos {
		cnt[p]++
	}
	rankAt := make([]float64, m)
	z := make([]float64, len(pos))
	// Pearson and Spearman: the mean over subjects of correlations is the
	// mean product of the standardised model with the mean of the
	// standardised subjects.
	zs := make([]float64, len(pos))
	times := make(map[int]int)
	for _, s := range r.Subjects {
		times[s]++
	}
	for s := range sc.subjects { // in subject order, for reproducible rounding
		k := times[s]
		if k == 0 {
			continue
		}
		if !sc.subjects[s].standardizeResample(z, pos, cnt, rankAt, sc.method) {
			return out, fmt.Errorf("subject %d RDM is constant on the resample", s)
		}
		w := float64(k) / float64(len(r.Subjects))
		for i, v := range z {
			zs[i] += w * v
		}
	}
	for mi, v := range sc.models {
		if !v.standardizeResample(z, pos, cnt, rankAt, sc.method) {
			return out, fmt.Errorf("model %d RDM is constant on the resample", mi)
		}
		var d float64
		for i, x := range z {
			d += x * zs[i]
		}
		out[mi] = d / float64(len(z))
	}
	return out, nil
}

// resamplePositions returns, for stimuli idx, the RDM-vector positions of
// pairs (idx[a], idx[b]), a < b, leaving out pairs of a stimulus with its
// own copy (as stats.ResampleUpper).
func resamplePositions(n int, idx []int) []int {
	out := make([]int, 0, len(idx)*(len(idx)-1)/2)
	for a, i := range idx {
		for _, j := range idx[a+1:] {
			if i == j {
				continue
			}
			lo, hi := min(i, j), max(i, j)
			out = append(out, lo*(2*n-lo-1)/2+hi-lo-1)
		}
	}
	return out
}

func gather(v []float64, pos []int) []float64 {
	out := make([]float64, len(pos))
	for i, p := range pos {
		out[i] = v[p]
	}
	return out
}
