// Package perf measures the scoring runner against its reference: the bare
// forward passes of a model over the same stimuli, the time spent
// extracting, and the process's peak memory.
package perf

import (
	"context"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/internal/memstat"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/runner"
)

// PeakRSS is the process's peak resident set (VmHWM), 0 if unknown.
func PeakRSS() int64 { return memstat.Peak() }

// ForwardPasses runs the model's output layers (final outputs only,
// nothing kept) over every distinct stimulus set of the benchmarks ids,
// and returns how many images that was. Like the runner, it keeps one
// session for all the sets when the model can (runner.SessionHolder), so
// the reference pays no session start-up the run does not.
func ForwardPasses(ctx context.Context, bench runner.Benchmarks, m runner.Model, ids []string) (images int, err error) {
	if h, ok := m.(runner.SessionHolder); ok {
		defer h.HoldSessions()()
	}
	var outputs []models.Layer
	for _, l := range m.Layers() {
		if l.IsOutput {
			outputs = append(outputs, l)
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		l, err := bench.Open(ctx, id)
		if err != nil {
			return images, err
		}
		sets := []*benchmarks.Stimuli{l.Stimuli}
		if l.Stimuli == nil {
			sets = nil
			for _, s := range l.Sessions {
				sets = append(sets, s.Stimuli)
			}
		}
		for _, s := range sets {
			key := runner.StimulusKey(s.Set())
			if seen[key] {
				continue
			}
			seen[key] = true
			images += s.Len()
			err := m.Extract(ctx, stimAdapter{s}, outputs, models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil }), nil)
			if err != nil {
				return images, fmt.Errorf("forward pass on %s: %w", id, err)
			}
		}
	}
	return images, nil
}

// stimAdapter gives benchmark stimuli to a model outside the runner.
type stimAdapter struct {
	s *benchmarks.Stimuli
}

func (a stimAdapter) Len() int { return a.s.Len() }
func (a stimAdapter) Image(ctx context.Context, i int) (image.Image, error) {
	return a.s.Image(ctx, i)
}

// Timed adds up the time its Model spends extracting.
type Timed struct {
	runner.Model
	mu      sync.Mutex
	elapsed time.Duration
}

// Extract times the model's Extract.
func (t *Timed) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	start := time.Now()
	err := t.Model.Extract(ctx, stim, layers, c, p)
	t.mu.Lock()
	t.elapsed += time.Since(start)
	t.mu.Unlock()
	return err
}

// FieldOfView forwards the model's field of view, so the runner places
// stimuli for the timed model as for the model itself.
func (t *Timed) FieldOfView() float64 { return runner.FieldOfView(t.Model) }

// ReductionFor passes the runner's question on to the model when it is
// a runner.Reducer (issue 16: --reduce), and names the default otherwise.
func (t *Timed) ReductionFor(ctx context.Context, used models.UsedImages) (string, error) {
	if r, ok := t.Model.(runner.Reducer); ok {
		return r.ReductionFor(ctx, used)
	}
	return "", nil
}

// HoldSessions forwards to the model when it is a runner.SessionHolder,
// so a timed run reuses sessions as the run itself does.
func (t *Timed) HoldSessions() (release func()) {
	if h, ok := t.Model.(runner.SessionHolder); ok {
		return h.HoldSessions()
	}
	return func() {}
}

// Elapsed is the time spent extracting so far.
func (t *Timed) Elapsed() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.elapsed
}

// MemoryResults keeps scores in memory: a run starts from scratch.
type MemoryResults struct {
	mu sync.Mutex
	m  map[scoring.Key]scoring.Score
}

func (r *MemoryResults) GetScore(_ context.Context, k scoring.Key) (scoring.Score, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.m[k]
	return s, ok, nil
}

func (r *MemoryResults) PutScore(_ context.Context, s scoring.Score) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[scoring.Key]scoring.Score{}
	}
	r.m[scoring.Key{ModelHash: s.ModelHash, BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion}] = s
	return nil
}
