package runner

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
)

// seqRSASplitStat is the RSA bootstrap statistic as it was before issue
// 18, resamples drawn and computed in turn, every comparison by
// rsa.Compare: the reference the parallel one must equal bit for bit.
func seqRSASplitStat(ev *RSAEvaluator, splits []Split, chosen []int) func(*rand.Rand) float64 {
	n := ev.N
	subj := make([][]float64, len(ev.Subjects))
	for i, v := range ev.Subjects {
		subj[i] = fullRDM(n, v)
	}
	return func(rng *rand.Rand) float64 {
		var sum float64
		for s, sp := range splits {
			idx := resample(rng, sp.Test)
			mv := stats.ResampleUpper(n, fullRDM(n, ev.Layers[chosen[s]]), idx)
			var per float64
			for _, sv := range subj {
				v, err := rsa.Compare(mv, stats.ResampleUpper(n, sv, idx), ev.Method)
				if err != nil {
					return math.NaN()
				}
				per += v
			}
			sum += per / float64(len(subj))
		}
		return sum / float64(len(splits))
	}
}

// TestParallelBootstrapAndSelectionAreSequential: the RSA bootstrap with
// its resamples computed in parallel, and the held-out selection with its
// parts scored in parallel, give what the sequential loops give, bit for
// bit, on 1 and 4 workers (issue 18: scores stay bit-identical).
func TestParallelBootstrapAndSelectionAreSequential(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, method := range []rsa.Method{rsa.Spearman, rsa.Pearson} {
		ev := noiseBenchmark(t, 30, 4, 12, 5)
		ev.Method = method
		splits, err := MakeSplits(ev.N, nil, DefaultSplitPolicy, 3)
		if err != nil {
			t.Fatal(err)
		}
		cand := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
		// The sequential reference: every part in order, as fillTable's
		// row function did before the parts ran in parallel.
		ref, err := fillTable(splits, func(_ int, idx []int, test bool) ([]float64, float64, error) {
			sc, err := ev.Subset(idx)
			if err != nil {
				return nil, 0, err
			}
			row := make([]float64, len(cand))
			for k, l := range cand {
				if row[k], err = sc.Score(l); err != nil {
					return nil, 0, err
				}
			}
			c := 0.0
			if test {
				c, err = sc.Ceiling()
			}
			return row, c, err
		})
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Select1()
		if err != nil {
			t.Fatal(err)
		}
		lo0, hi0 := percentileCI(200, 3, seqRSASplitStat(ev, splits, want.Chosen))
		for _, procs := range []int{1, 4} {
			runtime.GOMAXPROCS(procs)
			got, err := SelectHeldOut(ev, splits, cand)
			if err != nil {
				t.Fatal(err)
			}
			same := got.Layer == want.Layer && math.Float64bits(got.Raw) == math.Float64bits(want.Raw) &&
				math.Float64bits(got.SE) == math.Float64bits(want.SE) && math.Float64bits(got.Ceiling) == math.Float64bits(want.Ceiling)
			for s := range want.PerSplit {
				same = same && got.Chosen[s] == want.Chosen[s] && math.Float64bits(got.PerSplit[s]) == math.Float64bits(want.PerSplit[s])
			}
			if !same {
				t.Fatalf("%s, %d workers: selection %+v, sequential %+v", method, procs, got, want)
			}
			lo, hi := percentileCIDrawn(200, 3, rsaSplitStat(ev, splits, want.Chosen))
			if math.Float64bits(lo) != math.Float64bits(lo0) || math.Float64bits(hi) != math.Float64bits(hi0) {
				t.Fatalf("%s, %d workers: interval [%v, %v], sequential [%v, %v]", method, procs, lo, hi, lo0, hi0)
			}
		}
	}
}
