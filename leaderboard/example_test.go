package leaderboard_test

import (
	"fmt"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// Two IT benchmarks and one V1: the IT scores are averaged first, so the
// average is (mean(IT) + V1) / 2. A missing score is not counted: resnet's
// average is over the two benchmarks it has, and it is ranked after the
// complete rows, with its coverage.
func ExampleIndex_Rank() {
	bs := []leaderboard.BenchmarkInfo{
		{ID: "it-a", Region: "IT", Ceiling: 0.5},
		{ID: "it-b", Region: "IT", Ceiling: 0.5},
		{ID: "v1-a", Region: "V1", Ceiling: 0.5},
	}
	sc := func(model, bench string, ceiled float64) scoring.Score {
		return scoring.Score{ModelHash: model, ModelName: model, BenchmarkID: bench, Raw: ceiled / 2, Ceiling: 0.5, Ceiled: ceiled}
	}
	ss := []scoring.Score{
		sc("alexnet", "it-a", 0.4), sc("alexnet", "it-b", 0.6), sc("alexnet", "v1-a", 0.8), // (0.5 + 0.8) / 2
		sc("resnet", "it-a", 0.9), sc("resnet", "v1-a", 0.8), // (0.9 + 0.8) / 2, partial
		sc("vit", "it-a", 0.5), sc("vit", "it-b", 0.5), sc("vit", "v1-a", 0.8),
	}
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	for _, r := range lb.Rows {
		fmt.Printf("%d %-8s %.3f %d/%d missing %v\n", r.Rank, r.Model.Name, r.Average, r.Coverage.Scored, r.Coverage.Total, r.Missing)
	}
	// Output:
	// 1 alexnet  0.650 3/3 missing []
	// 1 vit      0.650 3/3 missing []
	// 3 resnet   0.850 2/3 missing [it-b]
}
