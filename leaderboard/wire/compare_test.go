package wire_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring"
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

// TestTwoModelComparisonDocument: undefined numbers are null, winners
// lower case, the rule served, and the text names the test, the
// benchmarks not compared and the summary.
func TestTwoModelComparisonDocument(t *testing.T) {
	b := leaderboard.BenchmarkInfo{ID: "enc.IT", Version: "v1", Ceiling: 0.5}
	priv := leaderboard.BenchmarkInfo{ID: "priv.IT", Version: "v1", Ceiling: 0.5, Private: true}
	s := scoring.Score{ModelHash: "aa", BenchmarkID: "enc.IT", Raw: 0.2, Ceiling: 0.5, Ceiled: 0.4, Layer: "L1",
		Layers: []scoring.LayerScore{{Layer: "L1", Depth: 1, Raw: 0.2, Ceiled: 0.4}}}
	nan := math.NaN()
	c := &leaderboard.TwoModelComparison{
		A: leaderboard.ModelInfo{Hash: "aa", Name: "first"}, B: leaderboard.ModelInfo{Hash: "bb", Name: "second"},
		Rows: []leaderboard.BenchmarkDiff{
			{Benchmark: b, A: leaderboard.ModelScoreOn{Units: "ceiled", Value: 0.4, Score: s}, B: leaderboard.ModelScoreOn{Units: "ceiled", Value: 0.6, Score: s},
				Units: "ceiled", Test: leaderboard.TestUnpaired, Diff: 0.2, Lower: 0.1, Upper: 0.3, DiffSE: 0.05, P: 0.001, Q: 0.002},
			{Benchmark: priv, A: leaderboard.ModelScoreOn{Units: "ceiled", Score: s}, B: leaderboard.ModelScoreOn{Units: "ceiled", Score: s},
				Units: "ceiled", Test: leaderboard.TestNone, Note: "no SE to test with", Diff: 0, Lower: nan, Upper: nan, DiffSE: nan, P: nan, Q: nan},
		},
		NotCompared: []leaderboard.NotCompared{{Benchmark: leaderboard.BenchmarkInfo{ID: "only.V1"}, Has: "A", Reason: "only first (A) has a score"}},
		Summary:     leaderboard.TwoModelSummary{Compared: 2, BWins: 1, N: 1, MeanDiff: 0.2, Lower: 0.1, Upper: 0.3},
	}
	doc := wire.FromTwoModelComparison(c)
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"winner":"b"`, `"reliable":true`, `"test":"none"`, `"p":null`, `"ci":[null,null]`, `"has":"a"`,
		`"layers_withheld":true`, `"layer":"L1","name":"","depth":1`, `"mean_ci":[0.1,0.3]`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("document lacks %s:\n%s", want, data)
		}
	}
	if doc.Rule != leaderboard.TwoModelRule || doc.Benchmarks[1].Reliable || doc.Benchmarks[1].Winner != "" {
		t.Errorf("rule or the untested row: %+v", doc.Benchmarks[1])
	}
	var buf strings.Builder
	wire.WriteTwoModelText(&buf, doc)
	for _, want := range []string{"A: first (aa)", "enc.IT", "+0.200 [+0.100, +0.300]", "B*", "unpaired from SEs", "priv.IT: no SE to test with",
		"not compared: only.V1: only first (A) has a score", "A wins reliably on 0, B on 1", "mean B−A over 1 ceiled: +0.200 [+0.100, +0.300]"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
}
