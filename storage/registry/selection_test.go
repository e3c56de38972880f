package registry_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// TestScoreSelectionData: the typed selection survives a round trip (NaN
// included), and a row stored before migration 3 reads back with none.
func TestScoreSelectionData(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		ctx := t.Context()
		r := openDB()
		want := sampleScore("vgg16", "v1")
		want.SelectionData = scoring.Selection{Method: scoring.HeldOutStimuli, Splits: 2, Seed: 7,
			PerSplit: []float64{0.25, math.NaN()}, Chosen: []string{"L042.Conv", "L001.Conv"},
			Values:      map[string]float64{"gain": -0.5, "ceiling_lower": math.Inf(1)},
			LayerValues: map[string]map[string]float64{"weight": {"L042.Conv": 0.75}},
			Sets:        map[string][]string{"early": {"L001.Conv"}}}
		if _, _, err := r.PutScore(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := r.GetScore(ctx, registry.ScoreKey{ModelHash: want.ModelHash, BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion})
		if err != nil {
			t.Fatal(err)
		}
		if g, w := fmt.Sprintf("%+v", got.SelectionData), fmt.Sprintf("%+v", want.SelectionData); g != w {
			t.Errorf("selection data\n got %s\nwant %s", g, w)
		}
		same(t, got, want)

		// An old row: no selection data.
		old := sampleScore("alexnet", "v1")
		if _, _, err := r.PutScore(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := registry.ExecForTest(r, "UPDATE scores SET selection_data = '' WHERE model_name = 'alexnet'"); err != nil {
			t.Fatal(err)
		}
		got, err = r.GetScore(ctx, registry.ScoreKey{ModelHash: old.ModelHash, BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion})
		if err != nil {
			t.Fatal(err)
		}
		if got.SelectionData.Method != "" || got.Selection != old.Selection {
			t.Errorf("old row: selection %q, data %+v", got.Selection, got.SelectionData)
		}
	})
}
