package runner

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
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

// TestRidgeLayersSideBySide: fitting two layers' ridge at once (issue 18)
// gives the scores of one layer after the other, bit for bit, on a
// benchmark of two sessions (sessionScores) and of one (ridgeStimulusSplits).
func TestRidgeLayersSideBySide(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 40
	writeDataset(t, dir, n, 3)
	// a second session: the priv images with responses of their own
	r := rand.New(rand.NewPCG(7, 8))
	resp := make([]float64, 4*n)
	for i := range resp {
		resp[i] = r.NormFloat64()
	}
	if err := npy.WriteFile(filepath.Join(dir, "resp2.npy"), []int{4, n}, resp); err != nil {
		t.Fatal(err)
	}
	two := `id: synth.sessions
title: synthetic encoding, two sessions
metadata: {species: none, region: Y, method: synthetic, licence: CC0, citation: "@misc{synth}"}
metric: {ridge: {folds: 3, alphas: [0.1, 1, 10, 100], seed: 1}}
sessions:
  - {id: a, responses: {file: resp.npy}, stimuli: {dir: pub}}
  - {id: b, responses: {file: resp2.npy}, stimuli: {dir: priv}}
ceiling: {method: none, reason: synthetic}
splits: {count: 2, selection_fraction: 0.5, seed: 2}
`
	if err := os.WriteFile(filepath.Join(dir, "sessions.yaml"), []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"ridge.yaml", "sessions.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	defer func(f func(int, int) int) { layersAtOnce = f }(layersAtOnce)
	scores := func(k int) []scoring.Score {
		layersAtOnce = func(int, int) int { return k }
		cfg := DefaultConfig()
		cfg.Bootstrap = 50
		cfg.RidgeCandidates = AllButOutput
		run, err := NewRunner(cfg, reg, &memResults{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := run.Run(ctx, newFakeModel(8, n, 3), []string{"synth.ridge", "synth.sessions"})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	one, both := scores(1), scores(2)
	if len(one) != 2 || len(both) != 2 {
		t.Fatalf("%d and %d scores", len(one), len(both))
	}
	for i := range one {
		a, b := one[i], both[i]
		if len(a.Layers) < 2 {
			t.Fatalf("%s: %d layers compete; the test needs several", a.BenchmarkID, len(a.Layers))
		}
		same := a.Layer == b.Layer && len(a.Layers) == len(b.Layers)
		for _, p := range [][2]float64{{a.Raw, b.Raw}, {a.SE, b.SE}, {a.CILow, b.CILow}, {a.CIHigh, b.CIHigh}} {
			same = same && math.Float64bits(p[0]) == math.Float64bits(p[1])
		}
		for k := range a.Layers {
			same = same && k < len(b.Layers) && math.Float64bits(a.Layers[k].Raw) == math.Float64bits(b.Layers[k].Raw) &&
				math.Float64bits(a.Layers[k].SE) == math.Float64bits(b.Layers[k].SE)
		}
		if !same {
			t.Errorf("%s: one layer at a time %+v\ntwo at once %+v", a.BenchmarkID, a, b)
		}
	}
}

// valuesSplitStat is rsaSplitStat as it was before the drawn sets (issue
// 18): each resampled RDM materialised and ranked afresh, the model's once
// per split (rsa.Prepare), each subject's in rsa.Prepared.Compare.
func valuesSplitStat(ev *RSAEvaluator, splits []Split, chosen []int) func(idx [][]int) float64 {
	n := ev.N
	subj := make([][]float64, len(ev.Subjects))
	for i, v := range ev.Subjects {
		subj[i] = fullRDM(n, v)
	}
	layer := make([][]float64, len(splits))
	for s := range splits {
		layer[s] = fullRDM(n, ev.Layers[chosen[s]])
	}
	return func(idx [][]int) float64 {
		var sum float64
		for s := range splits {
			p := rsa.Prepare(stats.ResampleUpper(n, layer[s], idx[s]), ev.Method)
			var per float64
			for _, v := range subj {
				r, err := p.Compare(stats.ResampleUpper(n, v, idx[s]))
				if err != nil {
					return math.NaN()
				}
				per += r
			}
			sum += per / float64(len(subj))
		}
		return sum / float64(len(splits))
	}
}

// TestDrawnSplitStatIsValues: every bootstrap resample's statistic from
// the drawn sets equals, bit for bit, the one from the materialised
// resampled RDMs, on 92 stimuli and 15 subjects (algonauts2019-92's shape).
func TestDrawnSplitStatIsValues(t *testing.T) {
	for _, method := range []rsa.Method{rsa.Spearman, rsa.Pearson} {
		ev := noiseBenchmark(t, 92, 15, 3, 9)
		ev.Method = method
		splits, err := MakeSplits(ev.N, nil, DefaultSplitPolicy, 4)
		if err != nil {
			t.Fatal(err)
		}
		chosen := make([]int, len(splits))
		for s := range chosen {
			chosen[s] = s % 3
		}
		drawn, values := rsaSplitStat(ev, splits, chosen), valuesSplitStat(ev, splits, chosen)
		r := rand.New(rand.NewPCG(18, 5))
		for b := range 40 {
			idx := drawn.draw(r)
			if got, want := drawn.eval(idx), values(idx); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("%s, resample %d: drawn %.17g, materialised %.17g", method, b, got, want)
			}
		}
	}
}

// BenchmarkRSABootstrapResample: one bootstrap resample of an RSA score on
// algonauts2019-92's shape (92 stimuli, 15 subjects, 10 splits), from the
// drawn sets and, side by side, from materialised resampled RDMs ranked
// afresh (as before issue 18's drawn sets).
//
//	go test -run '^$' -bench RSABootstrapResample ./scoring/runner/
func BenchmarkRSABootstrapResample(b *testing.B) {
	ev := noiseBenchmark(b, 92, 15, 2, 9)
	splits, err := MakeSplits(ev.N, nil, DefaultSplitPolicy, 1)
	if err != nil {
		b.Fatal(err)
	}
	chosen := make([]int, len(splits))
	drawn, values := rsaSplitStat(ev, splits, chosen), valuesSplitStat(ev, splits, chosen)
	r := rand.New(rand.NewPCG(18, 6))
	idx := make([][][]int, 64)
	for i := range idx {
		idx[i] = drawn.draw(r)
	}
	b.Run("drawn", func(b *testing.B) {
		i := 0
		for b.Loop() {
			drawn.eval(idx[i%len(idx)])
			i++
		}
	})
	b.Run("materialised", func(b *testing.B) {
		i := 0
		for b.Loop() {
			values(idx[i%len(idx)])
			i++
		}
	})
}
