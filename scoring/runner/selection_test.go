package runner

import (
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// noiseBenchmark builds a synthetic RSA benchmark whose subjects share a
// brain RDM, and a model whose layers are pure noise, unrelated to it: any
// score above zero is selection bias.
func noiseBenchmark(t testing.TB, n, subjects, layers int, seed uint64) *RSAEvaluator {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	features := func(q int, base linalg.Matrix[float64], w float64) []float64 {
		x := linalg.NewMatrix[float64](n, q)
		for i := range x.Data {
			x.Data[i] = r.NormFloat64()
			if base.Data != nil {
				x.Data[i] += w * base.Data[i]
			}
		}
		d, err := rdm.Compute(x, rdm.Correlation)
		if err != nil {
			t.Fatal(err)
		}
		return rdm.Upper(n, d)
	}
	brain := linalg.NewMatrix[float64](n, 30)
	for i := range brain.Data {
		brain.Data[i] = r.NormFloat64()
	}
	ev := &RSAEvaluator{N: n, Method: rsa.Spearman}
	for s := 0; s < subjects; s++ {
		ev.Subjects = append(ev.Subjects, features(30, brain, 2))
	}
	for l := 0; l < layers; l++ {
		ev.Layers = append(ev.Layers, features(20, linalg.Matrix[float64]{}, 0))
	}
	return ev
}

// TestHeldOutSelectionIsNotInflated shows that picking the best of many
// noise layers on the reported data inflates the score, and that choosing
// on a selection part and reporting on the disjoint test part does not.
func TestHeldOutSelectionIsNotInflated(t *testing.T) {
	const n, layers = 40, 60
	var naive, heldOut []float64
	for rep := uint64(0); rep < 8; rep++ {
		ev := noiseBenchmark(t, n, 4, layers, 100+rep)
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		full, err := ev.Subset(all)
		if err != nil {
			t.Fatal(err)
		}
		best := math.Inf(-1)
		candidates := make([]int, layers)
		for l := range candidates {
			candidates[l] = l
			v, err := full.Score(l)
			if err != nil {
				t.Fatal(err)
			}
			best = max(best, v)
		}
		naive = append(naive, best)
		splits, err := MakeSplits(n, nil, SplitPolicy{Splits: 10, SelectFraction: 0.5, Seed: rep}, 3)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := SelectHeldOut(ev, splits, candidates)
		if err != nil {
			t.Fatal(err)
		}
		heldOut = append(heldOut, sel.Raw)
	}
	nm, nse := MeanSE(naive)
	hm, hse := MeanSE(heldOut)
	t.Logf("best layer on reported data: %.4f ± %.4f; held-out selection: %.4f ± %.4f", nm, nse, hm, hse)
	if !(nm > hm+4*math.Max(nse, hse)) {
		t.Errorf("choosing on the reported data should inflate the score: naive %.4f vs held-out %.4f", nm, hm)
	}
	if math.Abs(hm) > 3*hse+0.01 {
		t.Errorf("held-out score of noise layers is %.4f ± %.4f, want ≈ 0", hm, hse)
	}
}

// TestHeldOutSelectionFindsTheSignal checks the other side: a layer that
// carries the brain's structure is chosen and scores well above zero.
func TestHeldOutSelectionFindsTheSignal(t *testing.T) {
	ev := noiseBenchmark(t, 40, 4, 10, 7)
	ev.Layers[6] = ev.Subjects[0] // a layer that is one subject's RDM
	splits, err := MakeSplits(40, nil, DefaultSplitPolicy, 3)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := SelectHeldOut(ev, splits, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Layer != 6 || sel.Raw < 0.3 {
		t.Fatalf("chose layer %d with %.3f, want layer 6 well above 0", sel.Layer, sel.Raw)
	}
	if !(sel.Ceiling > 0 && sel.Ceiling <= 1) {
		t.Fatalf("ceiling %.3f outside (0, 1]", sel.Ceiling)
	}
}

func TestMakeSplitsStratified(t *testing.T) {
	labels := make([]string, 30)
	for i := range labels {
		labels[i] = []string{"face", "body", "object"}[i%3]
	}
	splits, err := MakeSplits(30, labels, SplitPolicy{Splits: 5, SelectFraction: 0.5, Seed: 3}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range splits {
		if len(sp.Select)+len(sp.Test) != 30 {
			t.Fatalf("split loses stimuli: %d + %d", len(sp.Select), len(sp.Test))
		}
		count := map[string]int{}
		for _, i := range sp.Select {
			count[labels[i]]++
		}
		for l, c := range count {
			if c != 5 {
				t.Fatalf("label %s has %d of 10 in the selection part, want 5", l, c)
			}
		}
	}
	again, _ := MakeSplits(30, labels, SplitPolicy{Splits: 5, SelectFraction: 0.5, Seed: 3}, 3)
	for s := range splits {
		for k := range splits[s].Select {
			if splits[s].Select[k] != again[s].Select[k] {
				t.Fatal("same seed gave different splits")
			}
		}
	}
	if _, err := MakeSplits(4, nil, SplitPolicy{Splits: 1, SelectFraction: 0.5, Seed: 1}, 3); err == nil {
		t.Fatal("4 stimuli cannot give two parts of 3: want an error")
	}
}

// TestEvaluatorCeilingPool: the per-split ceiling follows the benchmark's
// pooling of the subjects' RDMs, on the subset's RDMs.
func TestEvaluatorCeilingPool(t *testing.T) {
	ev := noiseBenchmark(t, 30, 5, 2, 3)
	idx := make([]int, 0, 20)
	for i := range 20 {
		idx = append(idx, i)
	}
	for _, pool := range []ceiling.Pool{"", ceiling.PoolMean, ceiling.PoolStandardized} {
		ev.Pool = pool
		sc, err := ev.Subset(idx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sc.Ceiling()
		if err != nil {
			t.Fatal(err)
		}
		subj := make([][]float64, len(ev.Subjects))
		for i, v := range ev.Subjects {
			subj[i] = subUpper(ev.N, v, idx)
		}
		c, err := ceiling.RSACeilingPool(subj, rsa.Spearman, pool)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.Upper {
			t.Errorf("pool %q: ceiling %v, want %v", pool, got, c.Upper)
		}
	}
}
