package registry

import (
	"context"
	"fmt"
)

// ScoresState is what ScoresVersion is made of: the count, largest and
// sum of score ids, and the count of withdrawals.
type ScoresState struct{ Scores, MaxID, SumID, Withdrawn int64 }

// Token is the state as ScoresVersion's token.
func (s ScoresState) Token() string {
	return fmt.Sprintf("scores %d max %d sum %d; withdrawn %d", s.Scores, s.MaxID, s.SumID, s.Withdrawn)
}

// Generation is a number that grows with every change of the scored set:
// scores are never updated or deleted and withdrawals only added, so the
// count of both never shrinks, whichever process reads it.
func (s ScoresState) Generation() int64 { return s.Scores + s.Withdrawn }

// ScoresState reads the scores' state with two aggregate queries (no row
// is loaded).
func (r *Registry) ScoresState(ctx context.Context) (ScoresState, error) {
	var s struct{ N, Max, Sum int64 }
	err := r.db.WithContext(ctx).Model(&scoreRow{}).
		Select("COUNT(*) AS n, COALESCE(MAX(id), 0) AS max, CAST(COALESCE(SUM(id), 0) AS BIGINT) AS sum").
		Scan(&s).Error
	if err != nil {
		return ScoresState{}, fmt.Errorf("registry: scores version: %w", err)
	}
	var w struct{ N int64 }
	if err := r.db.WithContext(ctx).Model(&withdrawalRow{}).Select("COUNT(*) AS n").Scan(&w).Error; err != nil {
		return ScoresState{}, fmt.Errorf("registry: scores version: %w", err)
	}
	return ScoresState{Scores: s.N, MaxID: s.Max, SumID: s.Sum, Withdrawn: w.N}, nil
}

// ScoresVersion returns a short token that changes whenever a score is
// added or removed or a model withdrawn (ScoresState's Token). Scores are
// never updated in place (PutScore keeps the first), so readers such as
// the leaderboard's periodic refresh can skip reloading every score while
// the token stays the same (issue 15, finding 7).
func (r *Registry) ScoresVersion(ctx context.Context) (string, error) {
	st, err := r.ScoresState(ctx)
	if err != nil {
		return "", err
	}
	return st.Token(), nil
}
