package leaderboard

import (
	"context"
	"math"
)

// ControlFamily is the family of control entries: a network with its
// weights shuffled or re-initialised (`score --control`, the main job's
// shuffled MobileNetV2), scored so that a benchmark shows what an
// untrained network gets.
const ControlFamily = "control"

// IsControl reports whether m is a control entry.
func (m ModelInfo) IsControl() bool { return m.Family == ControlFamily }

// ControlRule states how a benchmark page tests the trained models
// against the controls, served with every benchmark that has a control.
const ControlRule = "a control is a model entry of family \"control\" (weights shuffled or re-initialised). " +
	"On an RSA benchmark every other scored model is compared with each control by the paired bootstrap of model comparisons " +
	"(stimuli and subjects resampled, raw scores on all stimuli with each model's reported layer); " +
	"q = Benjamini–Hochberg adjusted p across the models; a model beats the control reliably when its score is higher and q < 0.05. " +
	"A benchmark where no model beats a control reliably is flagged not discriminating. " +
	"On other benchmarks the test is not available: only the control's score and whether each model's 95% interval overlaps the control's are shown"

// NotDiscriminating is the flag of a benchmark where no trained model
// beats a control reliably.
const NotDiscriminating = "not discriminating: no model beats the control reliably"

// ControlTester compares every model with one control on a benchmark
// (leaderboard/stores implements it over scoring/compare). Codes as
// Comparer: ENOTFOUND for an unknown benchmark, EUNSUPPORTED for a
// metric without the test (encoding benchmarks). A control or model
// without the data the test needs is listed in Skipped, not an error.
type ControlTester interface {
	AgainstControl(ctx context.Context, benchmarkID, control string, modelHashes []string) (*ControlTest, error)
}

// ControlTest is every model compared with one control on a benchmark.
type ControlTest struct {
	BenchmarkID string
	Method      string
	Resamples   int
	Failed      int
	Seed        uint64
	Control     string
	// ControlScore is the control's raw score on all stimuli (NaN when
	// it could not be compared).
	ControlScore float64
	Skipped      []SkippedModel
	// Pairs has one entry per model compared, in the order asked.
	Pairs []ControlPair
}

// ControlPair is a model against the control: Score its raw score on all
// stimuli, Diff = Score − the control's, with its 95% bootstrap interval,
// p and the BH-adjusted q across the models.
type ControlPair struct {
	Model              string
	Score              float64
	Diff, Lower, Upper float64
	P, Q               float64
}

// Beats reports whether the model beats the control reliably: a higher
// score, with q < FDRLevel.
func (p ControlPair) Beats() bool { return p.Diff > 0 && p.Q < FDRLevel }

// BeatenBy counts the models that beat the control reliably.
func (t *ControlTest) BeatenBy() int {
	n := 0
	for _, p := range t.Pairs {
		if p.Beats() {
			n++
		}
	}
	return n
}

// IntervalsOverlap reports whether two scores' 95% intervals overlap;
// ok is false when either has none.
func IntervalsOverlap(a, b Cell) (overlap, ok bool) {
	if math.IsNaN(a.CILow+a.CIHigh+b.CILow+b.CIHigh) || math.IsInf(a.CILow+a.CIHigh+b.CILow+b.CIHigh, 0) {
		return false, false
	}
	return a.CILow <= b.CIHigh && b.CILow <= a.CIHigh, true
}
