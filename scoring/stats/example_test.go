package stats_test

import (
	"fmt"

	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
)

// A 95% bootstrap interval over stimuli for the Spearman correlation
// between a model RDM and a brain RDM (both n×n, full): resample stimuli,
// rebuild both RDM vectors with the same indices, compare.
func ExampleBootstrapStimuli() {
	const n = 6
	model := make([]float64, n*n)
	brain := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				d := float64((i - j) * (i - j))
				model[i*n+j] = d
				brain[i*n+j] = d + float64((i*j)%3)
			}
		}
	}
	ci, err := stats.BootstrapStimuli(n, 1000, 1, func(idx []int) (float64, error) {
		return rsa.Compare(stats.ResampleUpper(n, model, idx), stats.ResampleUpper(n, brain, idx), rsa.Spearman)
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.0f%% CI [%.3f, %.3f], %d resamples failed (too few distinct stimuli)\n", 100*ci.Level, ci.Lower, ci.Upper, ci.Failed)
	// Output: 95% CI [0.899, 1.000], 30 resamples failed (too few distinct stimuli)
}
