package httpapi

import (
	"context"
	"fmt"
	"slices"
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

// maxCompareBenchmarks bounds the benchmark ids of one two-model comparison.
const maxCompareBenchmarks = 200

// getCompare compares two models over every benchmark both are scored
// on (GET /api/v1/compare?models=A,B[&benchmark=ID...]); A and B are
// names, ids or unique id prefixes of at least 8 hex digits.
func (s *Server) getCompare(c *gin.Context) error {
	v := c.Request.URL.Query()
	for name := range v {
		if name != "models" && name != "benchmark" {
			return leaderboard.Errorf(leaderboard.EINVALID, "unknown query parameter %q; allowed: models, benchmark", name)
		}
	}
	var refs, ids []string
	for _, val := range v["models"] {
		refs = append(refs, strings.Split(val, ",")...)
	}
	for _, val := range v["benchmark"] {
		for _, id := range strings.Split(val, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	if len(refs) != 2 || strings.TrimSpace(refs[0]) == "" || strings.TrimSpace(refs[1]) == "" {
		return leaderboard.Errorf(leaderboard.EINVALID, "give two models: ?models=A,B (names, ids or id prefixes of at least 8 hex digits); for one benchmark's pairs see /api/v1/benchmarks/{id}/comparisons")
	}
	if len(ids) > maxCompareBenchmarks {
		return leaderboard.Errorf(leaderboard.EINVALID, "%d benchmarks given; at most %d (or none: every benchmark)", len(ids), maxCompareBenchmarks)
	}
	for _, id := range ids {
		if err := checkID(id); err != nil {
			return err
		}
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	var hashes [2]string
	for i, r := range refs {
		m, err := st.ix.ResolveModel(r)
		if err != nil {
			return err
		}
		hashes[i] = m.Hash
	}
	if hashes[0] == hashes[1] {
		return leaderboard.Errorf(leaderboard.EINVALID, "both models are %s: give two different models", hashes[0])
	}
	for _, id := range ids {
		if _, ok := st.ix.Benchmark(id); !ok {
			return leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %q; list them at /api/v1/benchmarks", id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// The bootstraps take a while and their result is shared by every
	// waiting request: a client that gives up does not cancel them.
	// Unlike a benchmark's comparisons (one per benchmark), there is one
	// per pair of models, so a client could start any number: they count
	// against MaxBuilds and MaxQueuedBuilds (503 past the queue).
	ctx := context.WithoutCancel(c.Request.Context())
	key := "compare/" + hashes[0] + "," + hashes[1] + "?" + strings.Join(ids, ",")
	e, err := st.get(s, key, "application/json", func() ([]byte, error) { return s.buildCompare(ctx, st, hashes, ids) })
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

// buildCompare runs the two-model comparison, memoized across generations
// by the fingerprint of its inputs (each benchmark's version and both
// models' score records and descriptions).
func (s *Server) buildCompare(ctx context.Context, st *state, hashes [2]string, ids []string) ([]byte, error) {
	var fp strings.Builder
	fp.WriteString("two|")
	for _, h := range hashes {
		m, _ := st.ix.Model(h)
		fmt.Fprintf(&fp, "%#v|", m)
	}
	for _, b := range st.ix.Benchmarks() {
		if len(ids) > 0 && !slices.Contains(ids, b.ID) {
			continue
		}
		fmt.Fprintf(&fp, "%#v", b)
		for _, h := range hashes {
			if sc, ok := st.ix.Score(h, b.ID); ok {
				fp.WriteString("|" + h + ":" + sc.Layer + ":" + strconv.FormatInt(sc.CreatedAt.UnixNano(), 36))
			}
		}
		fp.WriteString(";")
	}
	key := fp.String()
	s.cmpMu.Lock()
	body, ok := s.cmpMemo[key]
	s.cmpMu.Unlock()
	if ok {
		return body, nil
	}
	cmp, err := leaderboard.CompareModels(ctx, st.ix, s.cfg.Comparer, hashes[0], hashes[1], ids)
	if err != nil {
		return nil, err
	}
	body, err = marshal(wire.FromTwoModelComparison(cmp))
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
