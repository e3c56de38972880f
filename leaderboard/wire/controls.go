package wire

import (
	"math"

	"github.com/cortexbench/cortexbench/leaderboard"
)

// BenchmarkControls is a benchmark's controls (entries of family
// "control") and whether the trained models beat them reliably (issue 16).
type BenchmarkControls struct {
	Rule string `json:"rule"`
	// Test is "paired-bootstrap" when every control was tested against
	// the models, "intervals" when only the intervals' overlap is shown
	// (Note says why).
	Test string `json:"test"`
	Note string `json:"note,omitempty"`
	// Discriminating: every control is beaten reliably by some trained
	// model; null when that could not be tested.
	Discriminating *bool `json:"discriminating"`
	// Flag is leaderboard.NotDiscriminating when Discriminating is false.
	Flag     string            `json:"flag,omitempty"`
	Level    Num               `json:"level"` // q below which a model beats a control
	Controls []ControlStanding `json:"controls"`
}

// ControlStanding is one control on the benchmark: its score, and every
// trained model scored there against it.
type ControlStanding struct {
	Model           Model  `json:"model"`
	Score           *Cell  `json:"score"`
	Method          string `json:"method,omitempty"`
	Resamples       int    `json:"resamples,omitempty"`
	FailedResamples int    `json:"failed_resamples,omitempty"`
	Seed            uint64 `json:"seed,omitempty"`
	// RawAllStimuli is the control's raw score on all stimuli, the
	// bootstrap's reference (null when not tested).
	RawAllStimuli Num `json:"raw_all_stimuli"`
	// Tested counts the models compared with it by the paired bootstrap,
	// BeatenBy those that beat it reliably.
	Tested   int             `json:"tested"`
	BeatenBy int             `json:"beaten_by"`
	Note     string          `json:"note,omitempty"`
	Models   []ControlVersus `json:"models"`
	Skipped  []SkippedModel  `json:"skipped"`
}

// ControlVersus is a trained model against a control: the paired
// bootstrap's difference (model − control, raw, all stimuli), interval,
// p and q when tested, and whether the two scores' 95% intervals overlap
// (null when either has none).
type ControlVersus struct {
	Model            Model  `json:"model"`
	Ceiled           Num    `json:"ceiled"`
	Diff             Num    `json:"diff"`
	CI               [2]Num `json:"ci"`
	P                Num    `json:"p"`
	Q                Num    `json:"q"`
	Beats            bool   `json:"beats"`
	IntervalsOverlap *bool  `json:"intervals_overlap"`
}

// FromControls builds a benchmark's controls section from its ranking:
// tests holds each control's test by its hash (a control missing from it
// was not tested, note says why). It returns nil when no control is
// ranked on the benchmark. model describes hashes the ranking lacks.
func FromControls(ranking []leaderboard.BenchmarkEntry, tests map[string]*leaderboard.ControlTest, note string, model func(hash string) leaderboard.ModelInfo) *BenchmarkControls {
	var controls, trained []leaderboard.BenchmarkEntry
	for _, e := range ranking {
		if e.Model.IsControl() {
			controls = append(controls, e)
		} else {
			trained = append(trained, e)
		}
	}
	if len(controls) == 0 {
		return nil
	}
	out := &BenchmarkControls{Rule: leaderboard.ControlRule, Test: "paired-bootstrap", Level: leaderboard.FDRLevel, Controls: []ControlStanding{}}
	allTested, allBeaten := true, true
	for _, c := range controls {
		st := ControlStanding{Model: FromModel(c.Model), Score: FromCell(c.Cell), RawAllStimuli: Num(math.NaN()), Models: []ControlVersus{}, Skipped: []SkippedModel{}}
		t := tests[c.Model.Hash]
		pairs := map[string]leaderboard.ControlPair{}
		if t != nil {
			st.Method, st.Resamples, st.FailedResamples, st.Seed = t.Method, t.Resamples, t.Failed, t.Seed
			st.RawAllStimuli = Num(t.ControlScore)
			st.Tested, st.BeatenBy = len(t.Pairs), t.BeatenBy()
			for _, p := range t.Pairs {
				pairs[p.Model] = p
			}
			for _, s := range t.Skipped {
				st.Skipped = append(st.Skipped, SkippedModel{Model: FromModel(model(s.Hash)), Reason: s.Reason})
			}
			if st.Tested == 0 {
				st.Note = "no trained model could be compared with this control (see skipped)"
			}
		} else {
			st.Note = note
		}
		for _, m := range trained {
			v := ControlVersus{Model: FromModel(m.Model), Ceiled: Num(m.Cell.Ceiled), Diff: Num(math.NaN()),
				CI: [2]Num{Num(math.NaN()), Num(math.NaN())}, P: Num(math.NaN()), Q: Num(math.NaN())}
			if p, ok := pairs[m.Model.Hash]; ok {
				v.Diff, v.CI, v.P, v.Q, v.Beats = Num(p.Diff), [2]Num{Num(p.Lower), Num(p.Upper)}, Num(p.P), Num(p.Q), p.Beats()
			}
			if overlap, ok := leaderboard.IntervalsOverlap(m.Cell, c.Cell); ok {
				v.IntervalsOverlap = &overlap
			}
			st.Models = append(st.Models, v)
		}
		allTested = allTested && t != nil && st.Tested > 0
		allBeaten = allBeaten && st.BeatenBy > 0
		out.Controls = append(out.Controls, st)
	}
	switch {
	case allTested:
		out.Discriminating = &allBeaten
		if !allBeaten {
			out.Flag = leaderboard.NotDiscriminating
		}
	case len(tests) == 0:
		out.Test, out.Note = "intervals", note
	default:
		out.Note = "the reliability test could not be run for every control (see each control's note)"
	}
	return out
}
