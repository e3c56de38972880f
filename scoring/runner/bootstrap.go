package runner

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
)

// The bootstrap intervals resample the data the reported score was
// computed on, with the reported layer(s) held fixed, and recompute the
// score exactly as it was computed: they describe the uncertainty due to
// the sample of stimuli (RSA) or of recorded targets (encoding). The
// layer choice's own variability over splits is in SE.

// bootstrap is the one bootstrap of every metric: the 95% percentile
// interval of Config.Bootstrap resamples of stat, drawn from a generator
// seeded by seed. The statistics below (and a metric's own) say what is
// resampled.
func (e *Env) bootstrap(seed uint64, stat func(r *rand.Rand) float64) (lo, hi float64) {
	defer e.timings.add(stageBootstrap, time.Now())
	return percentileCI(e.cfg.Bootstrap, seed, stat)
}

// percentileCI draws b resamples of stat and returns the 95% percentile
// interval (NaN when b is 0 or every resample is undefined).
func percentileCI(b int, seed uint64, stat func(r *rand.Rand) float64) (lo, hi float64) {
	if b == 0 {
		return math.NaN(), math.NaN()
	}
	r := rand.New(rand.NewPCG(seed, 0xb0075))
	all := make([]float64, b)
	for i := range all {
		all[i] = stat(r)
	}
	return percentileInterval(all)
}

// percentileInterval is the 95% percentile interval of the resamples'
// values that are defined (NaN when none is).
func percentileInterval(all []float64) (lo, hi float64) {
	est := make([]float64, 0, len(all))
	for _, v := range all {
		if !math.IsNaN(v) {
			est = append(est, v)
		}
	}
	if len(est) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(est)
	a := (1 - stats.Level) / 2 * 100
	return stats.Percentile(est, a), stats.Percentile(est, 100-a)
}

func resample(r *rand.Rand, from []int) []int {
	idx := make([]int, len(from))
	for i := range idx {
		idx[i] = from[r.IntN(len(from))]
	}
	return idx
}

// rsaSplitStat resamples each split's test stimuli and recomputes the
// mean over splits of the mean over subjects of compare(layer chosen on
// that split, subject), pairs of a stimulus with its own copy left out as
// in rsatoolbox. The resamples are drawn in order from the one generator
// and computed in parallel (drawnStat). A resampled RDM's entries are
// entries of the split's RDM, so each RDM's entries on the split (model
// and subjects) are ordered once (rsa.DrawnSet) and a resample is given
// as the codes of its pairs, held as its distinct pairs and how often each
// is drawn (rsa.Drawn): its ranks then come from one counting pass, and
// Spearman's sums run over the distinct pairs, weighted
// (rsa.DrawnPrepared, bit for bit what ranking the resampled RDMs afresh
// gives); the model's ranks are computed once for all subjects.
func rsaSplitStat(ev *RSAEvaluator, splits []Split, chosen []int) drawnStat {
	n := ev.N
	// Per split: the code of each pair of its test stimuli (pair[a*n+c],
	// either order), and the model's and each subject's entries there.
	pair := make([][]int32, len(splits))
	model := make([]*rsa.DrawnSet, len(splits))
	subj := make([][]*rsa.DrawnSet, len(splits))
	full := map[int][]float64{}
	subjFull := make([][]float64, len(ev.Subjects))
	for i, v := range ev.Subjects {
		subjFull[i] = fullRDM(n, v)
	}
	entries := func(f []float64, test []int) []float64 {
		out := make([]float64, 0, len(test)*(len(test)-1)/2)
		for i, a := range test {
			for _, c := range test[i+1:] {
				out = append(out, f[a*n+c])
			}
		}
		return out
	}
	for s, sp := range splits {
		pc := make([]int32, n*n)
		k := int32(0)
		for i, a := range sp.Test {
			for _, c := range sp.Test[i+1:] {
				pc[a*n+c], pc[c*n+a] = k, k
				k++
			}
		}
		pair[s] = pc
		if full[chosen[s]] == nil {
			full[chosen[s]] = fullRDM(n, ev.Layers[chosen[s]])
		}
		model[s] = rsa.NewDrawnSet(entries(full[chosen[s]], sp.Test))
		subj[s] = make([]*rsa.DrawnSet, len(subjFull))
		for i, f := range subjFull {
			subj[s][i] = rsa.NewDrawnSet(entries(f, sp.Test))
		}
	}
	return drawnStat{
		draw: func(rng *rand.Rand) [][]int {
			idx := make([][]int, len(splits))
			for s, sp := range splits {
				idx[s] = resample(rng, sp.Test)
			}
			return idx
		},
		eval: func(idx [][]int) float64 {
			var sum float64
			var codes []int32
			var d rsa.Drawn
			var sc rsa.DrawnScratch
			for s, sp := range splits {
				codes = pairCodes(codes[:0], n, pair[s], idx[s])
				d.Set(codes, len(sp.Test)*(len(sp.Test)-1)/2)
				p := rsa.PrepareDrawnVector(model[s], &d, ev.Method)
				var per float64
				for _, set := range subj[s] {
					r, err := p.Compare(set, &sc)
					if err != nil {
						return math.NaN()
					}
					per += r
				}
				sum += per / float64(len(subj[s]))
			}
			return sum / float64(len(splits))
		},
	}
}

// pairCodes appends the codes of the pairs stats.ResampleUpper takes for
// idx (in its order, a stimulus with its own copy left out).
func pairCodes(dst []int32, n int, pair []int32, idx []int) []int32 {
	for i, a := range idx {
		for _, c := range idx[i+1:] {
			if a != c {
				dst = append(dst, pair[a*n+c])
			}
		}
	}
	return dst
}

// drawnStat is a bootstrap statistic whose resamples (index sets) are
// drawn apart from the statistic's computation on them: the draws take
// the generator's numbers in the order a loop of stat(r) would, and the
// computations, independent of each other, run in parallel.
type drawnStat struct {
	draw func(r *rand.Rand) [][]int
	eval func(idx [][]int) float64
}

// bootstrapDrawn is bootstrap for a drawnStat: the same interval as
// bootstrap(seed, stat) for the stat that draws and computes in turn.
func (e *Env) bootstrapDrawn(seed uint64, s drawnStat) (lo, hi float64) {
	defer e.timings.add(stageBootstrap, time.Now())
	return percentileCIDrawn(e.cfg.Bootstrap, seed, s)
}

// percentileCIDrawn is percentileCI for a drawnStat.
func percentileCIDrawn(b int, seed uint64, s drawnStat) (lo, hi float64) {
	if b == 0 {
		return math.NaN(), math.NaN()
	}
	r := rand.New(rand.NewPCG(seed, 0xb0075))
	draws := make([][][]int, b)
	for i := range draws {
		draws[i] = s.draw(r)
	}
	all := make([]float64, b)
	parallelFor(b, func(i int) { all[i] = s.eval(draws[i]) })
	return percentileInterval(all)
}

// foldScore recomputes a ridge result's score (mean over folds of the
// median r over targets) on the targets idx.
func foldScore(res *ridge.Result, idx []int) float64 {
	var sum float64
	v := make([]float64, 0, len(idx))
	for _, fr := range res.FoldR {
		v = v[:0]
		for _, j := range idx {
			if !math.IsNaN(fr[j]) {
				v = append(v, fr[j])
			}
		}
		sum += median(v)
	}
	return sum / float64(len(res.FoldR))
}

func allIndices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// sessionStat resamples every session's targets and recomputes the
// mean over splits of the mean over each split's test sessions of the
// chosen layer's score.
func sessionStat(res [][]*ridge.Result, test [][]int, chosen []int) func(*rand.Rand) float64 {
	return func(rng *rand.Rand) float64 {
		idx := make([][]int, len(res))
		for s := range res {
			idx[s] = resample(rng, allIndices(len(res[s][0].R)))
		}
		var sum float64
		for k, sessions := range test {
			var m float64
			for _, s := range sessions {
				m += foldScore(res[s][chosen[k]], idx[s])
			}
			sum += m / float64(len(sessions))
		}
		return sum / float64(len(test))
	}
}

// targetStat resamples the targets (the same in every split) and
// recomputes the mean over splits of the chosen layer's test-part score.
func targetStat(testRes [][]*ridge.Result, chosen []int) func(*rand.Rand) float64 {
	targets := len(testRes[0][chosen[0]].R)
	return func(rng *rand.Rand) float64 {
		idx := resample(rng, allIndices(targets))
		var sum float64
		for s := range testRes {
			sum += foldScore(testRes[s][chosen[s]], idx)
		}
		return sum / float64(len(testRes))
	}
}

// meanStat resamples the values (splits or folds) and recomputes their
// mean.
func meanStat(v []float64) func(*rand.Rand) float64 {
	return func(rr *rand.Rand) float64 {
		var sum float64
		for range v {
			sum += v[rr.IntN(len(v))]
		}
		return sum / float64(len(v))
	}
}

// splitSessions returns each split's test sessions.
func splitSessions(splits []Split) [][]int {
	out := make([][]int, len(splits))
	for i, sp := range splits {
		out[i] = sp.Test
	}
	return out
}

// fullRDM expands an upper-triangle vector into an n×n matrix.
func fullRDM(n int, upper []float64) []float64 {
	out := make([]float64, n*n)
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			out[i*n+j], out[j*n+i] = upper[k], upper[k]
			k++
		}
	}
	return out
}
