package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring"
)

// TestScoreAndBenchmarkSayTheirConventions: a model's score document
// says which ceiling and transform the score used; a benchmark's says
// its ceiling kind, transform, features and selection; a score stored
// before conventions were recorded has none and no guess.
func TestScoreAndBenchmarkSayTheirConventions(t *testing.T) {
	b := leaderboard.BenchmarkInfo{ID: "b.IT", Version: "v1", Region: "IT", Ceiling: 0.55,
		CeilingKind: "leave-one-subject-out", Transform: "squared-clipped", Features: "zscore", Selection: "committed to IT"}
	s := scoring.Score{BenchmarkID: "b.IT", Raw: 0.2, Ceiling: 0.55, Ceiled: 0.13,
		Conventions: scoring.Conventions{Ceiling: "leave-one-subject-out", Transform: "squared-clipped", Features: "zscore"}}
	data, err := json.Marshal(wire.FromScore(b, s, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"conventions":{"ceiling":"leave-one-subject-out","transform":"squared-clipped","features":"zscore"}`,
		`"formula":"(raw/leave-one-subject-out)² clipped"`, `"ceiling_kind":"leave-one-subject-out"`, `"transform":"squared-clipped"`,
		`"features":"zscore"`, `"selection":"committed to IT"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("score document lacks %s: %s", want, data)
		}
	}
	data, err = json.Marshal(wire.FromScore(leaderboard.BenchmarkInfo{ID: "old"}, scoring.Score{BenchmarkID: "old", Raw: 0.3, Ceiling: 0.6, Ceiled: 0.5}, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"conventions":{}`) || !strings.Contains(string(data), `"formula":"raw/ceiling"`) || strings.Contains(string(data), "ceiling_kind") {
		t.Errorf("old score document: %s", data)
	}
}

// TestTextSaysHowColumnsAreCeiled: the text leaderboard names, per
// benchmark whose conventions are known, the ceiling and how its column
// is ceiled.
func TestTextSaysHowColumnsAreCeiled(t *testing.T) {
	lb := &leaderboard.Leaderboard{Benchmarks: []leaderboard.BenchmarkInfo{
		{ID: "a.IT", Ceiling: 0.5346, CeilingKind: "upper", Transform: "ratio"},
		{ID: "b.V1", Ceiling: 0.41, CeilingKind: "leave-one-subject-out", Transform: "squared-clipped"},
		{ID: "c.V4", Ceiling: 0.7}}}
	var buf strings.Builder
	wire.WriteText(&buf, lb)
	for _, want := range []string{"a.IT: ceiled = raw/upper, ceiling 0.5346 (upper)",
		"b.V1: ceiled = (raw/leave-one-subject-out)² clipped, ceiling 0.4100 (leave-one-subject-out)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text leaderboard lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "c.V4: ceiled") {
		t.Errorf("a benchmark without known conventions got a guess:\n%s", buf.String())
	}
}
