// Package jobscorer scores queued submission jobs with the scoring
// runner: it implements submissions.Scorer.
package jobscorer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/submissions"
)

// Scorer reads the submitted model from the models registry (the file
// stored by the submissions service), validates it again and scores it on
// the job's benchmark. The job's own score is handed back to the queue,
// which commits it together with the job's completion; a partner
// benchmark scored on the way (a private benchmark needs its public
// partner's committed layer) is stored in Results directly.
type Scorer struct {
	Models  *models.Registry  // the submitted files and their metadata
	Runtime *ort.Runtime      // validates and runs the models
	Config  runner.Config     // the runner's
	PoolTo  int64             // see onnxrun.DefaultPoolTo
	Bench   runner.Benchmarks // the benchmarks to score on
	Results runner.Results    // scores already stored, and partners' scores
	RDMs    runner.ModelRDMs  // keeps model RDMs; may be nil
	// CacheLimit bounds the cached activations of one stimulus set (in
	// Models' store); see onnxrun.Model.
	CacheLimit int64

	mu     sync.Mutex
	models map[string]*onnxrun.Model
}

// model loads the job's model entry: its file by sha256 (checked) with
// the job's own spec. The entry's stored metadata (checked against its ID)
// must agree with the job: a job whose file or spec is not its entry's is
// refused. A job queued before jobs carried file and spec takes both from
// the entry's metadata.
func (s *Scorer) model(ctx context.Context, job submissions.JobSpec) (*onnxrun.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.models[job.ModelHash]; ok {
		return m, nil
	}
	md, err := s.Models.Get(ctx, job.ModelHash)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", job.ModelHash, err)
	}
	file, spec := md.File, md.Spec
	if job.FileHash != "" || job.Spec != "" {
		if spec, err = models.ParseSpec(job.Spec); err != nil {
			return nil, fmt.Errorf("job %s/%s: its preprocessing spec %q: %w", job.SubmissionID, job.BenchmarkID, job.Spec, err)
		}
		file = job.FileHash
		if file != md.File || spec.String() != md.Spec.String() {
			return nil, fmt.Errorf("job %s/%s refused: it scores file %s with spec %q, but model entry %s is file %s with spec %q: "+
				"a job must score its entry as registered (requeue the submission)",
				job.SubmissionID, job.BenchmarkID, file, spec, job.ModelHash, md.File, md.Spec)
		}
	}
	data, err := s.Models.File(ctx, file)
	if err != nil {
		return nil, err
	}
	c, err := onnxmodel.Validate(data, onnxmodel.DefaultConfig(), s.Runtime)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", scoring.ErrBadModel, err)
	}
	info := onnxrun.Info{Name: md.Name, Family: md.Family, Version: md.Version, TrainingData: md.TrainingData, Spec: spec, ID: md.ID, Commitments: md.Commitments}
	m, err := onnxrun.New(s.Runtime, c, info, s.PoolTo)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", scoring.ErrBadModel, err)
	}
	m.Cache, m.CacheLimit = s.Models.Store, s.CacheLimit
	if s.models == nil {
		s.models = map[string]*onnxrun.Model{}
	}
	s.models[job.ModelHash] = m
	return m, nil
}

// captureResults reads stored scores and keeps the job's own score for
// the queue's transaction instead of writing it.
type captureResults struct {
	runner.Results
	benchmarkID string
	got         *scoring.Score
}

func (c *captureResults) PutScore(ctx context.Context, s scoring.Score) error {
	if s.BenchmarkID == c.benchmarkID {
		c.got = &s
		return nil
	}
	return c.Results.PutScore(ctx, s)
}

// ScoreOne implements submissions.Scorer.
func (s *Scorer) ScoreOne(ctx context.Context, job submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
	start := time.Now()
	progress(submissions.StageValidating)
	m, err := s.model(ctx, job)
	if err != nil {
		return scoring.Score{}, err
	}
	res := &captureResults{Results: s.Results, benchmarkID: job.BenchmarkID}
	stage := submissions.StageValidating
	run, err := runner.NewRunner(s.Config, s.Bench, res, s.RDMs, func(e runner.Event) {
		next := stage
		switch e.Stage {
		case "extracting":
			next = submissions.StageExtracting
		case "scoring":
			next = submissions.StageScoring
		}
		if next != stage {
			stage = next
			progress(next)
		}
	})
	if err != nil {
		return scoring.Score{}, err
	}
	ref := job.BenchmarkID
	if job.BenchmarkVersion != "" {
		ref += "@" + job.BenchmarkVersion
	}
	scores, err := run.Run(ctx, m, []string{ref})
	if err != nil {
		return scoring.Score{}, err
	}
	if res.got != nil {
		s.record(ctx, m, ref, time.Since(start))
		return *res.got, nil
	}
	// Already stored earlier (e.g. by the main job): hand back that score.
	return scores[0], nil
}
