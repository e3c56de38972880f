package submissions

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
)

// DelayScorer is a deterministic stand-in for the scoring runner: it waits
// Delay, passing through the stages, and returns a score derived from the
// job alone. Tests and demos of the queue use it; it touches no model.
type DelayScorer struct {
	Delay time.Duration
}

// ScoreOne implements Scorer.
func (d DelayScorer) ScoreOne(ctx context.Context, job JobSpec, progress func(Stage)) (scoring.Score, error) {
	for _, st := range []Stage{StageExtracting, StageScoring} {
		progress(st)
		select {
		case <-time.After(d.Delay / 2):
		case <-ctx.Done():
			return scoring.Score{}, fmt.Errorf("delay scorer: %w", context.Cause(ctx))
		}
	}
	h := fnv.New64a()
	h.Write([]byte(job.ModelHash + "\x00" + job.BenchmarkVersion))
	raw := float64(h.Sum64()%1000) / 1000
	return scoring.Score{
		ModelHash: job.ModelHash, BenchmarkID: job.BenchmarkID, BenchmarkVersion: job.BenchmarkVersion,
		ScorerVersion: scoring.ScorerVersion, Raw: raw, Ceiling: 1, Ceiled: raw, Layer: "L000.Fake",
		Selection: "delay scorer", Candidates: "none", Elapsed: d.Delay,
	}, nil
}
