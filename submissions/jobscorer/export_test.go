package jobscorer

import (
	"context"

	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/submissions"
)

// ModelForTest loads the job's model as ScoreOne does.
func (s *Scorer) ModelForTest(ctx context.Context, job submissions.JobSpec) (*onnxrun.Model, error) {
	return s.model(ctx, job)
}
