package httpapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// maxMemoizedComparisons bounds cmpMemo; past it the memo starts over.
const maxMemoizedComparisons = 256

func (s *Server) getComparisons(c *gin.Context) error {
	st, b, err := s.benchmarkOf(c)
	if err != nil {
		return err
	}
	id := b.ID
	if s.cfg.Comparer == nil {
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "this server computes no model comparisons")
	}
	// The bootstrap takes a while and its result is shared by every
	// waiting request: a client that gives up does not cancel it.
	ctx := context.WithoutCancel(c.Request.Context())
	e, err := st.getUnlimited(s, "comparisons/"+id, "application/json", func() ([]byte, error) { return s.buildComparisons(ctx, st, b) })
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

// buildComparisons compares the models ranked on b, in rank order.
func (s *Server) buildComparisons(ctx context.Context, st *state, b leaderboard.BenchmarkInfo) ([]byte, error) {
	ranking := st.ix.RankBenchmark(b.ID)
	hashes := make([]string, len(ranking))
	var fp strings.Builder
	fp.WriteString(b.ID + "@" + b.Version)
	for i, r := range ranking {
		hashes[i] = r.Model.Hash
		sc, _ := st.ix.Score(r.Model.Hash, b.ID)
		fp.WriteString("|" + r.Model.Hash + ":" + sc.Layer + ":" + strconv.FormatInt(sc.CreatedAt.UnixNano(), 36))
	}
	key := fp.String()
	s.cmpMu.Lock()
	body, ok := s.cmpMemo[key]
	s.cmpMu.Unlock()
	if ok {
		return body, nil
	}
	cmp, err := s.cfg.Comparer.Compare(ctx, b.ID, hashes)
	if err != nil {
		return nil, fmt.Errorf("compare models on %s: %w", b.ID, err)
	}
	body, err = marshal(wire.FromComparison(cmp, func(h string) leaderboard.ModelInfo {
		if m, ok := st.ix.Model(h); ok {
			return m
		}
		return leaderboard.ModelInfo{Hash: h}
	}))
	if err != nil {
		return nil, err
	}
	s.cmpMu.Lock()
	if len(s.cmpMemo) >= maxMemoizedComparisons {
		clear(s.cmpMemo)
	}
	s.cmpMemo[key] = body
	s.cmpMu.Unlock()
	return body, nil
}
