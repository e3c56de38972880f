package registry

import (
	"context"
	"fmt"
)

// ScoresVersion returns a short token that changes whenever a score is
// added or removed or a model withdrawn, read with two aggregate queries
// (no row is loaded). Scores are never updated in place (PutScore keeps
// the first), so readers such as the leaderboard's periodic refresh can
// skip reloading every score while the token stays the same (issue 15,
// finding 7).
func (r *Registry) ScoresVersion(ctx context.Context) (string, error) {
	var s struct{ N, Max, Sum int64 }
	err := r.db.WithContext(ctx).Model(&scoreRow{}).
		Select("COUNT(*) AS n, COALESCE(MAX(id), 0) AS max, CAST(COALESCE(SUM(id), 0) AS BIGINT) AS sum").
		Scan(&s).Error
	if err != nil {
		return "", fmt.Errorf("registry: scores version: %w", err)
	}
	var w struct{ N int64 }
	if err := r.db.WithContext(ctx).Model(&withdrawalRow{}).Select("COUNT(*) AS n").Scan(&w).Error; err != nil {
		return "", fmt.Errorf("registry: scores version: %w", err)
	}
	return fmt.Sprintf("scores %d max %d sum %d; withdrawn %d", s.N, s.Max, s.Sum, w.N), nil
}
