package runner

import (
	"sync/atomic"
	"time"
)

// Timings is where a Run's time went, stage by stage, so the next
// bottleneck is visible (cortexbench bench, issue 18). Each is wall time
// (a stage that runs on several cores counts its wall time once); what
// no stage covers (e.g. choosing among scores, progress) is the rest of
// the run's total.
type Timings struct {
	// Open is opening the benchmarks and reading or storing scores and
	// model RDMs (I/O).
	Open time.Duration
	// Extract is the model's forward passes over the stimuli with every
	// candidate layer kept (decoding and preprocessing included).
	Extract time.Duration
	// LayerMath is the per-layer math on the extracted features: the
	// layer RDMs (RSA metrics) or the ridge fits (encoding metrics).
	LayerMath time.Duration
	// Selection is choosing the layer on the held-out splits and the
	// per-layer profile on all the data, the ceilings apart.
	Selection time.Duration
	// Ceilings is the noise ceilings of the selection's test parts and of
	// all the data.
	Ceilings time.Duration
	// Bootstrap is the bootstrap interval's resamples.
	Bootstrap time.Duration
	// Reused counts the rows of stimuli that were not run through the
	// model because the same image was, in the same set or in another of
	// the run (reuse.go): one per stimulus and extraction pass.
	Reused int64
}

// stage names a field of Timings.
type stage int

const (
	stageOpen stage = iota
	stageExtract
	stageLayerMath
	stageSelection
	stageCeilings
	stageBootstrap
	stages
)

// timings adds up the time of each stage, safely from several goroutines.
// A benchmark's timings also count into the run's (total).
type timings struct {
	ns     [stages]atomic.Int64
	reused atomic.Int64
	total  *timings
}

// add counts the time since start to stage s; a nil receiver counts
// nothing.
func (t *timings) add(s stage, start time.Time) {
	t.addDuration(s, time.Since(start))
}

// addDuration counts d to stage s.
func (t *timings) addDuration(s stage, d time.Duration) {
	for ; t != nil; t = t.total {
		t.ns[s].Add(int64(d))
	}
}

// addReused counts n stimuli not run through the model.
func (t *timings) addReused(n int) {
	for ; t != nil; t = t.total {
		t.reused.Add(int64(n))
	}
}

func (t *timings) get() Timings {
	if t == nil {
		return Timings{}
	}
	d := func(s stage) time.Duration { return time.Duration(t.ns[s].Load()) }
	return Timings{Open: d(stageOpen), Extract: d(stageExtract), LayerMath: d(stageLayerMath),
		Selection: d(stageSelection), Ceilings: d(stageCeilings), Bootstrap: d(stageBootstrap), Reused: t.reused.Load()}
}

// Timings reports where the time of the last Run went (zero before the
// first).
func (r *Runner) Timings() Timings { return r.total.get() }

// BenchmarkTiming is one benchmark's share of a Run: its wall time and
// stages, without the time of scoring its partner (a private benchmark's
// public one, a commit benchmark), which is the partner's own line. Work
// that several benchmarks share in a run (the layer RDMs of one stimulus
// set) counts for the first that needed it.
type BenchmarkTiming struct {
	Benchmark string
	Wall      time.Duration
	Timings
}

// BenchmarkTimings reports the last Run's time per benchmark, in the
// order they were first opened: the Run's list, then the partners its
// benchmarks needed.
func (r *Runner) BenchmarkTimings() []BenchmarkTiming {
	out := make([]BenchmarkTiming, len(r.benchOrder))
	for i, bt := range r.benchOrder {
		out[i] = BenchmarkTiming{Benchmark: bt.id, Wall: bt.wall, Timings: bt.t.get()}
	}
	return out
}

// benchTiming accumulates one benchmark's share of a Run.
type benchTiming struct {
	id           string
	t            *timings
	wall, nested time.Duration
}

// timeBenchmark counts what follows, until the returned function is
// called, to benchmark id: its stages (and the run's total) and its wall
// time without the time of benchmarks scored inside (a partner).
func (r *Runner) timeBenchmark(id string) (done func()) {
	bt := r.benchTimes[id]
	if bt == nil {
		bt = &benchTiming{id: id, t: &timings{total: r.total}}
		r.benchTimes[id] = bt
		r.benchOrder = append(r.benchOrder, bt)
	}
	prev, outer := r.env.timings, r.benchStack
	r.env.timings = bt.t
	r.benchStack = bt
	start, nested := time.Now(), bt.nested
	return func() {
		el := time.Since(start)
		bt.wall += el - (bt.nested - nested)
		if outer != nil {
			outer.nested += el
		}
		r.env.timings, r.benchStack = prev, outer
	}
}
