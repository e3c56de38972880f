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
type timings struct {
	ns [stages]atomic.Int64
}

// add counts the time since start to stage s; a nil receiver counts
// nothing.
func (t *timings) add(s stage, start time.Time) {
	if t != nil {
		t.ns[s].Add(int64(time.Since(start)))
	}
}

// addDuration counts d to stage s.
func (t *timings) addDuration(s stage, d time.Duration) {
	if t != nil {
		t.ns[s].Add(int64(d))
	}
}

func (t *timings) get() Timings {
	if t == nil {
		return Timings{}
	}
	d := func(s stage) time.Duration { return time.Duration(t.ns[s].Load()) }
	return Timings{Open: d(stageOpen), Extract: d(stageExtract), LayerMath: d(stageLayerMath),
		Selection: d(stageSelection), Ceilings: d(stageCeilings), Bootstrap: d(stageBootstrap)}
}

// Timings reports where the time of the last Run went (zero before the
// first).
func (r *Runner) Timings() Timings { return r.env.timings.get() }
