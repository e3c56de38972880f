package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// maxMemoizedControls bounds ctlMemo; past it the memo starts over.
const maxMemoizedControls = 256

// controlFlight is a controls section being computed, or computed: the
// requests that want it while it runs wait for it.
type controlFlight struct {
	done chan struct{}
	sec  *wire.BenchmarkControls
	keep bool // false: not to be reused (the test timed out or failed)
}

// benchmarkControls returns benchmark b's controls section (nil when no
// control is ranked on it). The reliability tests run once per
// benchmark version and set of scores, across generations (memoized by
// the fingerprint of their inputs, as comparisons are), within
// Config.ControlTimeout, on at most Config.MaxControlModels trained models
// (the best ranked).
func (s *Server) benchmarkControls(ctx context.Context, st *state, b leaderboard.BenchmarkInfo) *wire.BenchmarkControls {
	ranking := st.ix.RankBenchmark(b.ID)
	model := func(h string) leaderboard.ModelInfo {
		if m, ok := st.ix.Model(h); ok {
			return m
		}
		return leaderboard.ModelInfo{Hash: h}
	}
	var controls, trained []string
	var fp strings.Builder
	fp.WriteString(b.ID + "@" + b.Version)
	for _, r := range ranking {
		if r.Model.IsControl() {
			controls = append(controls, r.Model.Hash)
		} else {
			trained = append(trained, r.Model.Hash)
		}
		sc, _ := st.ix.Score(r.Model.Hash, b.ID)
		fp.WriteString("|" + r.Model.Hash + ":" + r.Model.Family + ":" + sc.Layer + ":" + strconv.FormatInt(sc.CreatedAt.UnixNano(), 36))
	}
	if len(controls) == 0 {
		return nil
	}
	if s.cfg.Controls == nil {
		return wire.FromControls(ranking, nil, "this server runs no reliability test against controls: only the intervals' overlap is shown", model)
	}
	key := fp.String()
	s.ctlMu.Lock()
	f, ok := s.ctlMemo[key]
	if !ok {
		if len(s.ctlMemo) >= maxMemoizedControls {
			clear(s.ctlMemo)
		}
		f = &controlFlight{done: make(chan struct{})}
		s.ctlMemo[key] = f
	}
	s.ctlMu.Unlock()
	if ok {
		<-f.done
		return f.sec
	}
	f.sec, f.keep = s.testControls(ctx, b, ranking, controls, trained, model)
	close(f.done)
	if !f.keep {
		s.ctlMu.Lock()
		if s.ctlMemo[key] == f {
			delete(s.ctlMemo, key)
		}
		s.ctlMu.Unlock()
	}
	return f.sec
}

// testControls runs the reliability test of every control; keep is false
// when the result must not be reused (a time-out or a failure).
func (s *Server) testControls(ctx context.Context, b leaderboard.BenchmarkInfo, ranking []leaderboard.BenchmarkEntry, controls, trained []string,
	model func(string) leaderboard.ModelInfo) (sec *wire.BenchmarkControls, keep bool) {
	capped := len(trained) > s.cfg.MaxControlModels
	if capped {
		trained = trained[:s.cfg.MaxControlModels]
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ControlTimeout)
	defer cancel()
	tests := map[string]*leaderboard.ControlTest{}
	note, keep := "", true
	for _, c := range controls {
		t, err := s.cfg.Controls.AgainstControl(ctx, b.ID, c, trained)
		switch {
		case leaderboard.ErrorCode(err) == leaderboard.EUNSUPPORTED:
			note = "the reliability test is not available for this benchmark's metric (a paired bootstrap of RSA benchmarks only): only the intervals' overlap is shown"
		case errors.Is(err, context.DeadlineExceeded):
			note, keep = fmt.Sprintf("the reliability test did not finish within %s: only the intervals' overlap is shown", s.cfg.ControlTimeout), false
		case err != nil:
			s.cfg.Logger.Error("httpapi: test models against a control", "benchmark", b.ID, "control", c, "err", err)
			note, keep = "the reliability test failed (internal error): only the intervals' overlap is shown", false
		default:
			tests[c] = t
			continue
		}
		break
	}
	if note != "" {
		tests = nil
	}
	sec = wire.FromControls(ranking, tests, note, model)
	if capped && sec.Test == "paired-bootstrap" {
		sec.Note = strings.TrimPrefix(sec.Note+fmt.Sprintf("; only the %d best-ranked models were tested (the server's bound)", s.cfg.MaxControlModels), "; ")
	}
	return sec, keep
}

// cached returns the response for key when it is built already.
func (st *state) cached(key string) (*entry, bool) {
	if e, ok := st.pinned[key]; ok {
		return e, true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.cache[key]
	return e, ok
}
