package rsa

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSkippedSortFuncWouldChangeNothing: rankEach skips slices.SortFunc on
// a run of equal 32-bit keys only when SortFunc would leave it as it is, so
// the order equal values are visited in (and the sums' rounding) is the
// one SortFunc gives.
func TestSkippedSortFuncWouldChangeNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 2))
	skipped, sorted := 0, 0
	for trial := range 20000 {
		n := 2 + trial%20
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(r.IntN(1 + trial%4)) // mostly one value, sometimes a few
		}
		run := make([]int32, n)
		for i := range run {
			run[i] = int32(i)
		}
		r.Shuffle(n, func(i, j int) { run[i], run[j] = run[j], run[i] })
		if trial%2 == 0 { // as radix order gives them: often already in order
			slices.SortStableFunc(run, func(a, b int32) int { return cmp.Compare(x[a], x[b]) })
		}
		got := slices.Clone(run)
		if insertionSortsNothing(x, got) {
			skipped++
			want := slices.Clone(run)
			slices.SortFunc(want, func(a, b int32) int { return cmp.Compare(x[a], x[b]) })
			if !slices.Equal(got, want) {
				t.Fatalf("skipped a run SortFunc reorders: %v → %v (values %v)", run, want, x)
			}
		} else {
			sorted++
		}
	}
	if skipped == 0 || sorted == 0 {
		t.Fatalf("skipped %d runs, sorted %d: the test covers both cases only if each happens", skipped, sorted)
	}
}
