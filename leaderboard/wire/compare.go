package wire

import (
	"math"

	"github.com/cortexbench/cortexbench/leaderboard"
)

// ComparedModel is a model in a comparison with its score on all stimuli.
type ComparedModel struct {
	Model Model `json:"model"`
	Score Num   `json:"score"` // raw, on all stimuli: the bootstrap's reference
}

// SkippedModel is a model left out of a comparison, and why.
type SkippedModel struct {
	Model  Model  `json:"model"`
	Reason string `json:"reason"`
}

// ModelPair is the comparison of models a and b (a ranked above b):
// diff = score(a) − score(b) with its 95% bootstrap interval, the
// bootstrap p-value, the Benjamini–Hochberg q-value across the
// benchmark's pairs, and whether q < level.
type ModelPair struct {
	A           string `json:"a"` // model hash
	B           string `json:"b"`
	Diff        Num    `json:"diff"`
	CI          [2]Num `json:"ci"`
	P           Num    `json:"p"`
	Q           Num    `json:"q"`
	Significant bool   `json:"significant"`
}

// Comparison is every pair of models compared on one benchmark.
type Comparison struct {
	BenchmarkID     string          `json:"benchmark_id"`
	Rule            string          `json:"rule"`
	Method          string          `json:"method"`
	Resamples       int             `json:"resamples"`
	FailedResamples int             `json:"failed_resamples"`
	Seed            uint64          `json:"seed"`
	Level           Num             `json:"level"` // q below which a difference is significant
	Models          []ComparedModel `json:"models"`
	Skipped         []SkippedModel  `json:"skipped"`
	Pairs           []ModelPair     `json:"pairs"`
}

// FromComparison converts c; model returns the description of a hash (an
// unknown one may be returned with only its hash).
func FromComparison(c *leaderboard.Comparison, model func(hash string) leaderboard.ModelInfo) Comparison {
	out := Comparison{BenchmarkID: c.BenchmarkID, Rule: leaderboard.ComparisonRule, Method: c.Method,
		Resamples: c.Resamples, FailedResamples: c.Failed, Seed: c.Seed, Level: leaderboard.FDRLevel,
		Models: []ComparedModel{}, Skipped: []SkippedModel{}, Pairs: []ModelPair{}}
	for i, h := range c.Models {
		cm := ComparedModel{Model: FromModel(model(h)), Score: Num(math.NaN())}
		if i < len(c.Scores) {
			cm.Score = Num(c.Scores[i])
		}
		out.Models = append(out.Models, cm)
	}
	for _, s := range c.Skipped {
		out.Skipped = append(out.Skipped, SkippedModel{Model: FromModel(model(s.Hash)), Reason: s.Reason})
	}
	for _, p := range c.Pairs {
		out.Pairs = append(out.Pairs, ModelPair{A: p.A, B: p.B, Diff: Num(p.Diff), CI: [2]Num{Num(p.Lower), Num(p.Upper)},
			P: Num(p.P), Q: Num(p.Q), Significant: p.Significant()})
	}
	return out
}
