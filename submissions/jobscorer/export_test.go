package jobscorer

import (
	"context"
	"time"

	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/submissions"
)

// ModelForTest loads the job's model as ScoreOne does.
func (s *Scorer) ModelForTest(ctx context.Context, job submissions.JobSpec) (*onnxrun.Model, error) {
	return s.model(ctx, job)
}

// RecordForTest keeps a finished job's duration as ScoreOne does.
func (s *Scorer) RecordForTest(ctx context.Context, m *onnxrun.Model, ref string, took time.Duration) {
	s.record(ctx, m, ref, took)
}
