package stores_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
)

// conventionsBench lists three benchmarks: one with today's settings, one
// ceiled by the leave-one-subject-out bound with squared-clipped scores
// and z-scored features, and one whose version is gone when read.
type conventionsBench struct{ fakeBench }

func (conventionsBench) List(context.Context) ([]benchmarks.Summary, error) {
	return []benchmarks.Summary{
		{ID: "plain", Version: "v1", CeilingValid: true, CeilingUpper: 0.8, Selection: "held-out"},
		{ID: "loso", Version: "v1", CeilingValid: true, CeilingUpper: 0.8, Selection: "committed to IT"},
		{ID: "gone", Version: "v1", CeilingValid: true, CeilingUpper: 0.7},
	}, nil
}

func (conventionsBench) Benchmark(_ context.Context, ref string) (*benchmarks.Benchmark, error) {
	nili := benchmarks.CeilingPolicy{Method: benchmarks.CeilingRSANili}
	value := benchmarks.Ceiling{Method: benchmarks.CeilingRSANili, Valid: true, Upper: 0.8, Lower: 0.6, LOSO: 0.55}
	switch ref {
	case "plain@v1":
		return &benchmarks.Benchmark{ID: "plain", Version: "v1", Ceiling: nili, CeilingValue: value}, nil
	case "loso@v1":
		nili.Bound = ceiling.BoundLOSO
		return &benchmarks.Benchmark{ID: "loso", Version: "v1", Ceiling: nili, CeilingValue: value,
			Conventions: benchmarks.Conventions{Transform: ceiling.TransformSquaredClipped, Features: benchmarks.FeaturesZScore}}, nil
	}
	return nil, fmt.Errorf("benchmark %s: %w", ref, benchmarks.ErrNotFound)
}

// TestBoardBenchmarkConventions: the board's benchmarks carry the ceiling
// their scores divide by (the policy's bound), its kind, the transform,
// the feature handling and the selection; a benchmark whose stored
// version cannot be read keeps its summary's ceiling, its conventions
// unstated.
func TestBoardBenchmarkConventions(t *testing.T) {
	bs, err := stores.Board{Bench: conventionsBench{}}.Benchmarks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 {
		t.Fatalf("%d benchmarks", len(bs))
	}
	p, l, g := bs[0], bs[1], bs[2]
	if p.Ceiling != 0.8 || p.CeilingKind != "upper" || p.Transform != "ratio" || p.Features != "" || p.Selection != "held-out" {
		t.Errorf("default benchmark: %+v", p)
	}
	if l.Ceiling != 0.55 || l.CeilingKind != "leave-one-subject-out" || l.Transform != "squared-clipped" || l.Features != "zscore" || l.Selection != "committed to IT" {
		t.Errorf("leave-one-subject-out benchmark: %+v", l)
	}
	if g.Ceiling != 0.7 || g.CeilingKind != "" || g.Transform != "" || math.IsNaN(g.Ceiling) {
		t.Errorf("unreadable benchmark: %+v", g)
	}
}
