package wire_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// The threshold is strict: q = 0.05 is not significant (the brief's rule,
// q < 0.05).
func TestModelPairSignificant(t *testing.T) {
	for _, c := range []struct {
		q    float64
		want bool
	}{{0.001, true}, {0.0499, true}, {0.05, false}, {0.3, false}, {math.NaN(), false}} {
		if got := (leaderboard.ModelPair{Q: c.q}).Significant(); got != c.want {
			t.Errorf("q %g: significant %v, want %v", c.q, got, c.want)
		}
	}
}

func TestFromComparison(t *testing.T) {
	c := &leaderboard.Comparison{BenchmarkID: "b.IT", Method: "rsa (spearman)", Resamples: 10, Seed: 3,
		Models: []string{"h1", "h2"}, Scores: []float64{0.4}, // h2's score unknown: null, not 0
		Skipped: []leaderboard.SkippedModel{{Hash: "h3", Reason: "no stored RDM"}},
		Pairs:   []leaderboard.ModelPair{{A: "h1", B: "h2", Diff: 0.1, Lower: 0.02, Upper: 0.2, P: 0.01, Q: 0.01}}}
	names := map[string]string{"h1": "one", "h2": "two", "h3": "three"}
	doc := wire.FromComparison(c, func(h string) leaderboard.ModelInfo { return leaderboard.ModelInfo{Hash: h, Name: names[h]} })
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Models []struct {
			Model struct{ Name string }
			Score *float64
		}
		Skipped []struct {
			Model  struct{ Name string }
			Reason string
		}
		Pairs []struct {
			A, B        string
			CI          [2]float64
			Significant bool
		}
		Level float64
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Models) != 2 || back.Models[0].Model.Name != "one" || back.Models[0].Score == nil || back.Models[1].Score != nil {
		t.Errorf("models: %s", b)
	}
	if len(back.Skipped) != 1 || back.Skipped[0].Model.Name != "three" || back.Skipped[0].Reason == "" {
		t.Errorf("skipped: %s", b)
	}
	if len(back.Pairs) != 1 || back.Pairs[0].CI != [2]float64{0.02, 0.2} || !back.Pairs[0].Significant || back.Level != leaderboard.FDRLevel {
		t.Errorf("pairs: %s", b)
	}
	// No pairs: empty arrays, never null, so clients need no special case.
	empty, _ := json.Marshal(wire.FromComparison(&leaderboard.Comparison{}, func(h string) leaderboard.ModelInfo { return leaderboard.ModelInfo{Hash: h} }))
	var raw map[string]json.RawMessage
	json.Unmarshal(empty, &raw)
	for _, k := range []string{"models", "skipped", "pairs"} {
		if string(raw[k]) != "[]" {
			t.Errorf("empty comparison: %s = %s, want []", k, raw[k])
		}
	}
}
