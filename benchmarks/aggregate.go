package benchmarks

import (
	"math"
	"slices"
)

// ParentScore is a parent's aggregate over its children.
type ParentScore struct {
	Parent   string
	Score    float64  // mean of the children's ceiled scores; NaN unless Complete
	Complete bool     // every child has a finite score
	Children []string // every child, sorted
	Missing  []string // children without a finite score, sorted
}

// Aggregate computes parent's score from the ceiled scores of its
// children (benchmark id → ceiled score). The rule: the parent score is
// the mean of the children's ceiled scores, reported only when every child
// has a finite score; otherwise Score is NaN, Complete false, and Missing
// lists the children without one. A mean over the children that happen to
// be present would let a model gain rank by failing a hard benchmark.
// Scores of ids that are not children are ignored.
func Aggregate(parent string, children []string, ceiled map[string]float64) ParentScore {
	p := ParentScore{Parent: parent, Children: slices.Sorted(slices.Values(children)), Score: math.NaN()}
	p.Children = slices.Compact(p.Children)
	var sum float64
	for _, c := range p.Children {
		v, ok := ceiled[c]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			p.Missing = append(p.Missing, c)
			continue
		}
		sum += v
	}
	if len(p.Children) > 0 && len(p.Missing) == 0 {
		p.Complete = true
		p.Score = sum / float64(len(p.Children))
	}
	return p
}

// Children groups benchmarks by parent: parent → child ids, sorted.
// Benchmarks without a parent are left out.
func Children(benchmarks []Summary) map[string][]string {
	out := map[string][]string{}
	for _, b := range benchmarks {
		if b.Parent != "" {
			out[b.Parent] = append(out[b.Parent], b.ID)
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}
