package jobscorer

import (
	"context"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/submissions"
)

// EstimateInput describes m for the estimate: its parameters, input size
// and the per-stimulus size of every candidate layer (all but the output).
func EstimateInput(m *onnxrun.Model) submissions.EstimateInput {
	c := m.Checked()
	in := submissions.EstimateInput{Params: c.Parameters}
	if len(c.Input.Shape) == 4 {
		in.Height, in.Width = c.Input.Shape[2], c.Input.Shape[3]
		if c.Layout == models.NHWC {
			in.Height, in.Width = c.Input.Shape[1], c.Input.Shape[2]
		}
	}
	if sz := m.Info().Spec.InputSize; sz > 0 && (in.Height <= 0 || in.Width <= 0) {
		in.Height, in.Width = int64(sz), int64(sz)
	}
	for _, l := range m.Layers() {
		if !l.IsOutput {
			in.LayerFeatures = append(in.LayerFeatures, int64(m.Features(l)))
		}
	}
	in.Layers = len(in.LayerFeatures)
	if m.Cache != nil {
		in.CacheLimit = m.CacheLimit
	}
	return in
}

// BenchmarkCost is what the estimate needs of a loaded benchmark.
func BenchmarkCost(l *benchmarks.Loaded) submissions.BenchmarkCost {
	bc := submissions.BenchmarkCost{ID: l.Benchmark.ID, Subjects: len(l.RDMs)}
	switch {
	case l.Stimuli != nil:
		bc.Stimuli = l.Stimuli.Len()
		bc.StimulusKey = runner.StimulusKey(l.Stimuli.Set())
	case len(l.Sessions) > 0:
		for _, s := range l.Sessions {
			bc.Stimuli += s.Stimuli.Len()
			bc.Sessions = append(bc.Sessions, s.Stimuli.Len())
		}
	}
	return bc
}

// record keeps, for later estimates, how long a job that scored m on ref
// took and what the calibrated estimate predicted for it (uncorrected).
// Best effort: without a calibration in this process, or when the
// benchmark cannot be opened, nothing is kept.
func (s *Scorer) record(ctx context.Context, m *onnxrun.Model, ref string, took time.Duration) {
	cals, cal := submissions.CurrentCalibration()
	if cals == nil || cal == nil {
		return
	}
	l, err := s.Bench.Open(ctx, ref)
	if err != nil {
		return
	}
	p := submissions.CalibratedEstimate(cal, EstimateInput(m), []submissions.BenchmarkCost{BenchmarkCost(l)}, s.Config.Bootstrap, nil)
	_ = cals.Record(submissions.JobRecord{Benchmark: l.Benchmark.ID, Model: m.Hash(), Seconds: took.Seconds(), Predicted: p[0].Seconds, At: time.Now().UTC()})
}
