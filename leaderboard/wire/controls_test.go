package wire

import (
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
)

// FromControls decides the flag over every control: a benchmark is
// discriminating only when each control is beaten reliably by some
// trained model (a higher score with q < 0.05; a reliably lower one does
// not count), and undecided when a control could not be tested.
func TestFromControls(t *testing.T) {
	cell := func(raw, lo, hi float64) leaderboard.Cell {
		return leaderboard.Cell{Present: true, Raw: raw, Ceiled: raw, CILow: lo, CIHigh: hi, Ceiling: 1}
	}
	a := leaderboard.ModelInfo{Hash: "a", Name: "a", Family: "resnet"}
	b := leaderboard.ModelInfo{Hash: "b", Name: "b", Family: "vit"}
	shuf := leaderboard.ModelInfo{Hash: "s", Name: "a (control: shuffled)", Family: leaderboard.ControlFamily}
	untr := leaderboard.ModelInfo{Hash: "u", Name: "a (control: untrained)", Family: leaderboard.ControlFamily}
	ranking := []leaderboard.BenchmarkEntry{{Rank: 1, Model: a, Cell: cell(0.5, 0.4, 0.6)}, {Rank: 2, Model: untr, Cell: cell(0.45, 0.35, 0.55)},
		{Rank: 3, Model: shuf, Cell: cell(0.1, 0, 0.2)}, {Rank: 4, Model: b, Cell: cell(0.05, -0.05, 0.15)}}
	model := func(h string) leaderboard.ModelInfo { return leaderboard.ModelInfo{Hash: h} }
	tests := map[string]*leaderboard.ControlTest{
		// a beats the shuffled control; b is reliably below it.
		"s": {Control: "s", Pairs: []leaderboard.ControlPair{{Model: "a", Diff: 0.4, P: 0.001, Q: 0.002}, {Model: "b", Diff: -0.05, P: 0.001, Q: 0.002}}},
		// nobody beats the untrained one.
		"u": {Control: "u", Pairs: []leaderboard.ControlPair{{Model: "a", Diff: 0.05, P: 0.2, Q: 0.3}, {Model: "b", Diff: -0.4, P: 0.001, Q: 0.002}}},
	}
	c := FromControls(ranking, tests, "", model)
	if c == nil || c.Test != "paired-bootstrap" || c.Discriminating == nil || *c.Discriminating || c.Flag != leaderboard.NotDiscriminating || len(c.Controls) != 2 {
		t.Fatalf("one control unbeaten: %+v", c)
	}
	if s := c.Controls[1]; s.Model.Hash != "s" || s.BeatenBy != 1 || s.Tested != 2 || !s.Models[0].Beats || s.Models[1].Beats {
		t.Errorf("shuffled control: %+v", s)
	}
	if o := c.Controls[0].Models[0].IntervalsOverlap; o == nil || !*o {
		t.Errorf("a [0.4, 0.6] and the untrained control [0.35, 0.55]: overlap %v, want true", o)
	}
	if o := c.Controls[1].Models[0].IntervalsOverlap; o == nil || *o {
		t.Errorf("a [0.4, 0.6] and the shuffled control [0, 0.2]: overlap %v, want false", o)
	}

	tests["u"] = &leaderboard.ControlTest{Control: "u", Pairs: []leaderboard.ControlPair{{Model: "a", Diff: 0.05, P: 0.01, Q: 0.02}}}
	if c := FromControls(ranking, tests, "", model); c.Discriminating == nil || !*c.Discriminating || c.Flag != "" {
		t.Errorf("every control beaten: %+v", c)
	}

	tests["u"] = &leaderboard.ControlTest{Control: "u", ControlScore: math.NaN(), Skipped: []leaderboard.SkippedModel{{Hash: "u", Reason: "no stored RDM"}}}
	if c := FromControls(ranking, tests, "", model); c.Discriminating != nil || c.Flag != "" || c.Note == "" || c.Controls[0].Note == "" || len(c.Controls[0].Skipped) != 1 {
		t.Errorf("a control that could not be tested: %+v", c)
	}

	if c := FromControls(ranking[:1], tests, "", model); c != nil {
		t.Errorf("no control ranked: %+v, want nil", c)
	}
}
