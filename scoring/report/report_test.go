package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring"
)

// TestScoresSayTheirConventions: the table shows each ceiling with its
// kind and each ceiled score with how it was formed; the JSON has the
// kind, the transform and every convention; a score stored before
// conventions were recorded is labelled as such, one without a ceiling
// has no label.
func TestScoresSayTheirConventions(t *testing.T) {
	ss := []scoring.Score{
		{ModelName: "a", BenchmarkID: "b.IT", Raw: 0.31, Ceiling: 0.62, Ceiled: 0.5, Conventions: scoring.Conventions{Ceiling: "upper", Transform: "ratio"}},
		{ModelName: "b", BenchmarkID: "c.V1", Raw: 0.2, Ceiling: 0.4, Ceiled: 0.25,
			Conventions: scoring.Conventions{Ceiling: "leave-one-subject-out", Transform: "squared-clipped", Features: "zscore"}},
		{ModelName: "c", BenchmarkID: "old", Raw: 0.3, Ceiling: 0.6, Ceiled: 0.5},
		{ModelName: "d", BenchmarkID: "none", Raw: 0.3, Ceiling: math.NaN(), Ceiled: math.NaN(), Conventions: scoring.Conventions{Ceiling: "none", Transform: "ratio"}},
	}
	var buf bytes.Buffer
	PrintScores(&buf, ss)
	lines := strings.Split(buf.String(), "\n")
	for i, want := range [][]string{
		{"0.620 upper", "0.500 raw/upper"},
		{"0.400 leave-one-subject-out", "0.250 (raw/leave-one-subject-out)² clipped"},
		{"0.600  ", "0.500 raw/ceiling"},
		{"—  ", "—  "},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q lacks %q", i, lines[i+1], w)
			}
		}
	}
	data, err := json.Marshal(ScoresJSON(ss))
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back[1]["ceiling_kind"] != "leave-one-subject-out" || back[1]["transform"] != "squared-clipped" ||
		back[1]["conventions"].(map[string]any)["features"] != "zscore" {
		t.Errorf("JSON of a squared-clipped LOSO score: %v", back[1])
	}
	if back[2]["ceiling_kind"] != "" || back[2]["transform"] != "ratio" || len(back[2]["conventions"].(map[string]any)) != 0 {
		t.Errorf("JSON of a score without recorded conventions: %v", back[2])
	}
}

// TestScoresJSONHaveTheProfile (issue 17): each score's JSON has raw,
// ceiling, ceiled, the chosen layer and the per-layer profile as stored,
// a layer without a stored SE with se null; a score without layers has
// an empty profile, not null.
func TestScoresJSONHaveTheProfile(t *testing.T) {
	ss := []scoring.Score{
		{ModelName: "a", BenchmarkID: "b.IT", Raw: 0.31, Ceiling: 0.62, Ceiled: 0.5, Layer: "L002.Relu", Layers: []scoring.LayerScore{
			{Layer: "L001.Conv", Depth: 0, Raw: 0.1, Ceiled: 0.1 / 0.62, SE: 0.02},
			{Layer: "L002.Relu", Depth: 1, Raw: 0.31, Ceiled: 0.5},
		}},
		{ModelName: "a", BenchmarkID: "none", Raw: 0.3, Ceiling: math.NaN(), Ceiled: math.NaN(), Layer: "L001.Conv"},
	}
	data, err := json.Marshal(ScoresJSON(ss))
	if err != nil {
		t.Fatal(err)
	}
	var back []struct {
		Raw, Ceiling, Ceiled *float64
		Layer                string
		LayerName            *string `json:"layer_name"`
		Profile              []struct {
			Layer           string
			Name            *string
			Depth           float64
			Raw, Ceiled, SE *float64
		}
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	a := back[0]
	if *a.Raw != 0.31 || *a.Ceiling != 0.62 || *a.Ceiled != 0.5 || a.Layer != "L002.Relu" || a.LayerName == nil || len(a.Profile) != 2 {
		t.Fatalf("score JSON %s", data)
	}
	if p := a.Profile[0]; p.Layer != "L001.Conv" || p.Name == nil || *p.Raw != 0.1 || *p.Ceiled != 0.1/0.62 || p.SE == nil || *p.SE != 0.02 {
		t.Errorf("profile[0] %+v", p)
	}
	if p := a.Profile[1]; p.Depth != 1 || p.SE != nil {
		t.Errorf("profile[1] %+v: want depth 1 and se null (none stored)", p)
	}
	if b := back[1]; b.Ceiling != nil || b.Ceiled != nil || b.Profile == nil || len(b.Profile) != 0 {
		t.Errorf("score without a ceiling or layers: %s", data)
	}
}
