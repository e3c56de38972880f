package wire

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

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

// ComparedScore is one model's score in a two-model comparison row: the
// value (ceiled when the benchmark has a ceiling, see Units) with its 95%
// interval and SE, the raw score, the reported layer and the per-layer
// profile (withheld on a private benchmark).
type ComparedScore struct {
	Units          string       `json:"units"` // "ceiled" or "raw"
	Score          Num          `json:"score"`
	CI             [2]Num       `json:"ci"`
	SE             Num          `json:"se"`
	Raw            Num          `json:"raw"`
	Layer          string       `json:"layer"`
	Selection      string       `json:"selection"`
	Layers         []LayerScore `json:"layers"`
	LayersWithheld bool         `json:"layers_withheld,omitempty"`
}

// BenchmarkDiff is two models compared on one benchmark: diff = B − A in
// units, its 95% interval and SE, the test's p, the Benjamini–Hochberg q
// across the benchmarks compared, whether q < level (reliable) and which
// model wins reliably ("a", "b" or "").
type BenchmarkDiff struct {
	Benchmark Benchmark     `json:"benchmark"`
	A         ComparedScore `json:"a"`
	B         ComparedScore `json:"b"`
	Units     string        `json:"units"`
	Diff      Num           `json:"diff"`
	CI        [2]Num        `json:"ci"`
	SE        Num           `json:"se"`
	P         Num           `json:"p"`
	Q         Num           `json:"q"`
	Test      string        `json:"test"`
	Note      string        `json:"note,omitempty"`
	Reliable  bool          `json:"reliable"`
	Winner    string        `json:"winner"`
}

// NotCompared is a benchmark where only one model (has: "a" or "b"; ""
// for neither) has a score.
type NotCompared struct {
	Benchmark Benchmark `json:"benchmark"`
	Has       string    `json:"has"`
	Reason    string    `json:"reason"`
}

// TwoModelSummary counts the benchmarks compared and those each model
// wins reliably, and gives the mean difference B − A over the
// benchmarks compared in ceiled units (mean_over of them) with its
// conservative 95% interval.
type TwoModelSummary struct {
	Compared int    `json:"compared"`
	AWins    int    `json:"a_wins"`
	BWins    int    `json:"b_wins"`
	MeanOver int    `json:"mean_over"`
	MeanDiff Num    `json:"mean_diff"`
	MeanCI   [2]Num `json:"mean_ci"`
}

// TwoModelComparison is the document of GET /api/v1/compare?models=A,B and
// of 'cortexbench compare --models A,B --json'.
type TwoModelComparison struct {
	A           Model           `json:"a"`
	B           Model           `json:"b"`
	Rule        string          `json:"rule"`
	Level       Num             `json:"level"`
	Resamples   int             `json:"resamples"`
	Seed        uint64          `json:"seed"`
	Benchmarks  []BenchmarkDiff `json:"benchmarks"`
	NotCompared []NotCompared   `json:"not_compared"`
	Summary     TwoModelSummary `json:"summary"`
}

func fromScoreOn(b leaderboard.BenchmarkInfo, s leaderboard.ModelScoreOn) ComparedScore {
	ms := FromScore(b, s.Score, "")
	return ComparedScore{Units: s.Units, Score: Num(s.Value), CI: [2]Num{Num(s.Lower), Num(s.Upper)}, SE: Num(s.SE), Raw: Num(s.Raw),
		Layer: s.Layer, Selection: s.Score.Selection, Layers: ms.Layers, LayersWithheld: ms.LayersWithheld}
}

// FromTwoModelComparison converts c.
func FromTwoModelComparison(c *leaderboard.TwoModelComparison) TwoModelComparison {
	out := TwoModelComparison{A: FromModel(c.A), B: FromModel(c.B), Rule: leaderboard.TwoModelRule, Level: leaderboard.FDRLevel,
		Resamples: c.Resamples, Seed: c.Seed, Benchmarks: []BenchmarkDiff{}, NotCompared: []NotCompared{},
		Summary: TwoModelSummary{Compared: c.Summary.Compared, AWins: c.Summary.AWins, BWins: c.Summary.BWins, MeanOver: c.Summary.N,
			MeanDiff: Num(c.Summary.MeanDiff), MeanCI: [2]Num{Num(c.Summary.Lower), Num(c.Summary.Upper)}}}
	for _, r := range c.Rows {
		out.Benchmarks = append(out.Benchmarks, BenchmarkDiff{Benchmark: FromBenchmark(r.Benchmark),
			A: fromScoreOn(r.Benchmark, r.A), B: fromScoreOn(r.Benchmark, r.B), Units: r.Units,
			Diff: Num(r.Diff), CI: [2]Num{Num(r.Lower), Num(r.Upper)}, SE: Num(r.DiffSE), P: Num(r.P), Q: Num(r.Q),
			Test: r.Test, Note: r.Note, Reliable: r.Reliable(), Winner: strings.ToLower(r.Winner())})
	}
	for _, n := range c.NotCompared {
		out.NotCompared = append(out.NotCompared, NotCompared{Benchmark: FromBenchmark(n.Benchmark), Has: strings.ToLower(n.Has), Reason: n.Reason})
	}
	return out
}

// WriteTwoModelText writes a two-model comparison as a text table: a row
// per benchmark, the benchmarks not compared, and the summary.
func WriteTwoModelText(w io.Writer, c TwoModelComparison) {
	short := func(h string) string { return h[:min(12, len(h))] }
	fmt.Fprintf(w, "A: %s (%s)\nB: %s (%s)\n\n", c.A.Name, short(c.A.Hash), c.B.Name, short(c.B.Hash))
	num := func(x Num, format string) string {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return "—"
		}
		return fmt.Sprintf(format, float64(x))
	}
	score := func(s ComparedScore) string {
		v := num(s.Score, "%.3f") + " [" + num(s.CI[0], "%.3f") + ", " + num(s.CI[1], "%.3f") + "]"
		if s.Units == "raw" {
			v += " raw"
		}
		return v
	}
	if len(c.Benchmarks) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BENCHMARK\tA [95% CI]\tLAYER A\tB [95% CI]\tLAYER B\tB−A [95% CI]\tP\tQ (BH)\t\tTEST")
		for _, r := range c.Benchmarks {
			mark := ""
			switch r.Winner {
			case "a":
				mark = "A*"
			case "b":
				mark = "B*"
			}
			diff := num(r.Diff, "%+.3f") + " [" + num(r.CI[0], "%+.3f") + ", " + num(r.CI[1], "%+.3f") + "]"
			if r.Units == "raw" {
				diff += " raw"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Benchmark.ID, score(r.A), r.A.Layer, score(r.B), r.B.Layer,
				diff, num(r.P, "%.4f"), num(r.Q, "%.4f"), mark, r.Test)
		}
		tw.Flush()
	} else {
		fmt.Fprintln(w, "no benchmark where both models have a score")
	}
	for _, r := range c.Benchmarks {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Benchmark.ID, r.Note)
		}
	}
	for _, n := range c.NotCompared {
		fmt.Fprintf(w, "not compared: %s: %s\n", n.Benchmark.ID, n.Reason)
	}
	s := c.Summary
	fmt.Fprintf(w, "\nsummary: %d benchmark(s) compared; A wins reliably on %d, B on %d", s.Compared, s.AWins, s.BWins)
	if s.MeanOver > 0 {
		fmt.Fprintf(w, "; mean B−A over %d ceiled: %s [%s, %s]", s.MeanOver, num(s.MeanDiff, "%+.3f"), num(s.MeanCI[0], "%+.3f"), num(s.MeanCI[1], "%+.3f"))
	}
	fmt.Fprintf(w, "\n* A or B wins reliably: q < %g", float64(c.Level))
	if c.Resamples > 0 {
		fmt.Fprintf(w, "; bootstraps of %d resamples, seed %d", c.Resamples, c.Seed)
	}
	fmt.Fprintf(w, "\n%s\n", c.Rule)
}
