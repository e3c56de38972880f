package runner

import (
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
)

// TestMetricTables: the runner scores exactly the metric kinds a manifest
// can name, and every metric that can score a committed layer is one a
// private benchmark scores on its partner's layer (not an advanced kind).
func TestMetricTables(t *testing.T) {
	bk := benchmarks.MetricKinds()
	rk := Kinds()
	slices.Sort(bk)
	slices.Sort(rk)
	if !slices.Equal(bk, rk) {
		t.Fatalf("benchmarks know the kinds %v, the runner %v", bk, rk)
	}
	for k, m := range metrics {
		if _, ok := m.(Committer); ok == k.Advanced() {
			t.Errorf("%s: Committer %v, but Advanced() %v: a private benchmark's partner would be used (or ignored) against its manifest", k, ok, k.Advanced())
		}
	}
}
