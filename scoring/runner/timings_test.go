package runner

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// TestRunTimings: a Run reports where its time went, per stage (what
// cortexbench bench prints per benchmark, issue 18): each stage that ran
// is counted, none exceeds the run's wall time times the cores it may
// use, and a stage that did not run (ridge fits on an RSA benchmark have
// none; the ceilings of a ridge benchmark are precomputed) counts as such.
func TestRunTimings(t *testing.T) {
	ctx := context.Background()
	run := synthRunner(t)
	if (run.Timings() != Timings{}) {
		t.Fatalf("timings before any run: %+v", run.Timings())
	}
	for _, id := range []string{"synth.pub", "synth.ridge"} {
		start := time.Now()
		if _, err := run.Run(ctx, newFakeModel(8, 40, 3), []string{id}); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(start)
		tm := run.Timings()
		for name, d := range map[string]time.Duration{"I/O": tm.Open, "extraction": tm.Extract, "layer math": tm.LayerMath,
			"selection": tm.Selection, "ceilings": tm.Ceilings, "bootstrap": tm.Bootstrap} {
			if d < 0 || d > 4*wall {
				t.Errorf("%s: %s took %v of a %v run", id, name, d, wall)
			}
		}
		if tm.Open <= 0 || tm.Extract <= 0 || tm.LayerMath <= 0 || tm.Bootstrap <= 0 {
			t.Errorf("%s: a stage that ran is not counted: %+v", id, tm)
		}
		if id == "synth.pub" && (tm.Selection <= 0 || tm.Ceilings <= 0) {
			t.Errorf("%s: the RSA selection or its ceilings are not counted: %+v", id, tm)
		}
	}
}

// TestFreshRunScoresPartnerOnce: a --fresh run listing a public benchmark
// and its private partner computes the public one once (before issue 18
// the private one's committed layer computed it again: its whole
// selection and bootstrap), and the private score is the one a run of it
// alone gives.
func TestFreshRunScoresPartnerOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 40, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Bootstrap = 100
	cfg.Fresh = true
	score := func(ids ...string) (map[string]scoring.Score, map[string]int) {
		computed := map[string]int{}
		run, err := NewRunner(cfg, reg, &memResults{}, nil, func(ev Event) {
			if ev.Stage == "done" {
				computed[ev.Benchmark]++
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		scores, err := run.Run(ctx, newFakeModel(8, 40, 3), ids)
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]scoring.Score{}
		for _, s := range scores {
			by[s.BenchmarkID] = s
		}
		return by, computed
	}
	both, computed := score("synth.priv", "synth.pub")
	if computed["synth.pub"] != 1 || computed["synth.priv"] != 1 {
		t.Errorf("scores computed per benchmark: %v, want each once", computed)
	}
	alone, _ := score("synth.priv")
	a, b := both["synth.priv"], alone["synth.priv"]
	if a.Layer != b.Layer || math.Float64bits(a.Raw) != math.Float64bits(b.Raw) || math.Float64bits(a.CILow) != math.Float64bits(b.CILow) || math.Float64bits(a.CIHigh) != math.Float64bits(b.CIHigh) {
		t.Errorf("private score beside its partner %+v, alone %+v", a, b)
	}
}

// TestBenchmarkTimings: one Run over several benchmarks reports each one's
// share: every benchmark scored (a private one's partner too) has its
// line, the partner's work is on the partner's line and not on the
// private one's, the stages of the lines add up to the run's, and their
// wall times to no more than the run's.
func TestBenchmarkTimings(t *testing.T) {
	ctx := context.Background()
	run := synthRunner(t)
	start := time.Now()
	// the private one first: its partner is scored inside its scoring
	if _, err := run.Run(ctx, newFakeModel(8, 40, 3), []string{"synth.ridge", "synth.priv"}); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	lines := run.BenchmarkTimings()
	var ids []string
	var sum Timings
	var walls time.Duration
	by := map[string]BenchmarkTiming{}
	for _, l := range lines {
		ids = append(ids, l.Benchmark)
		by[l.Benchmark] = l
		walls += l.Wall
		sum.Open += l.Open
		sum.Extract += l.Extract
		sum.LayerMath += l.LayerMath
		sum.Selection += l.Selection
		sum.Ceilings += l.Ceilings
		sum.Bootstrap += l.Bootstrap
	}
	if want := []string{"synth.ridge", "synth.priv", "synth.pub"}; !slices.Equal(ids, want) {
		t.Fatalf("benchmark lines %v, want %v", ids, want)
	}
	if total := run.Timings(); sum != total {
		t.Errorf("the lines' stages add up to %+v, the run's are %+v", sum, total)
	}
	if walls <= 0 || walls > wall {
		t.Errorf("the lines' wall times add up to %v of a %v run", walls, wall)
	}
	pub, priv := by["synth.pub"], by["synth.priv"]
	if pub.Selection <= 0 || pub.Bootstrap <= 0 || pub.Extract <= 0 {
		t.Errorf("the partner's own work is not on its line: %+v", pub)
	}
	if priv.Selection != 0 {
		t.Errorf("the private benchmark's line holds a selection (its partner's): %+v", priv)
	}
	if priv.Wall <= 0 || pub.Wall <= 0 || by["synth.ridge"].LayerMath <= 0 {
		t.Errorf("lines without their work: %+v", lines)
	}
}

// synthRunner is a runner (100 resamples, every ridge layer competing) on
// writeDataset's public, private and ridge benchmarks.
func synthRunner(t *testing.T) *Runner {
	t.Helper()
	dir := t.TempDir()
	writeDataset(t, dir, 40, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml", "ridge.yaml"} {
		if _, err := reg.Add(context.Background(), filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Bootstrap = 100
	cfg.RidgeCandidates = AllButOutput
	run, err := NewRunner(cfg, reg, &memResults{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return run
}
