package benchmarks_test

import (
	"fmt"

	"github.com/cortexbench/cortexbench/benchmarks"
)

// A parent score is reported only when every child has a score.
func ExampleAggregate() {
	children := []string{"algonauts2019-92.IT", "kriegeskorte2008.hIT", "kriegeskorte2008.mIT"}
	all := benchmarks.Aggregate("IT", children, map[string]float64{
		"algonauts2019-92.IT": 0.5, "kriegeskorte2008.hIT": 0.7, "kriegeskorte2008.mIT": 0.3,
	})
	fmt.Printf("%s %.2f complete=%v\n", all.Parent, all.Score, all.Complete)
	some := benchmarks.Aggregate("IT", children, map[string]float64{"algonauts2019-92.IT": 0.5})
	fmt.Printf("%s %.2f complete=%v missing=%v\n", some.Parent, some.Score, some.Complete, some.Missing)
	// Output:
	// IT 0.50 complete=true
	// IT NaN complete=false missing=[kriegeskorte2008.hIT kriegeskorte2008.mIT]
}
