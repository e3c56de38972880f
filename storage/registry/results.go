package registry

import (
	"context"

	"github.com/cortexbench/cortexbench/scoring"
)

// Results adapts the registry database to the scoring runner's results
// store: a score is looked up by its key, and a missing one is no error.
type Results struct{ DB *Registry }

// GetScore returns the stored score of k; false when there is none.
func (s Results) GetScore(ctx context.Context, k scoring.Key) (scoring.Score, bool, error) {
	sc, err := s.DB.GetScore(ctx, ScoreKey{ModelHash: k.ModelHash, BenchmarkVersion: k.BenchmarkVersion, ScorerVersion: k.ScorerVersion})
	if IsNotFound(err) {
		return scoring.Score{}, false, nil
	}
	if err != nil {
		return scoring.Score{}, false, err
	}
	return sc, true, nil
}

// PutScore stores sc (an existing score of the same key is kept).
func (s Results) PutScore(ctx context.Context, sc scoring.Score) error {
	_, _, err := s.DB.PutScore(ctx, sc)
	return err
}
