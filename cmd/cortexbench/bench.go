package main

import (
	"context"
	"fmt"
	"image"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/scoring"
)

// runBench measures the runner against its reference, side by side in one
// process: the bare forward passes of the model over every stimulus of the
// chosen benchmarks (final output only, nothing kept), then a full scoring
// run from scratch (results kept in memory, nothing read from the store).
// The scoring time splits into extraction (every candidate layer) and the
// rest (RDMs, ridge, ceilings, layer selection, bootstrap): the target is
// total ≤ 1.5 × (forward + math).
func runBench(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench", "bench --model FILE --preprocess SPEC [--benchmark ID,…|all] [--json]")
	sf := addScoreFlags(env, fs)
	file := fs.String("model", "", "ONNX `file`")
	preprocess := fs.String("preprocess", "", "preprocessing `spec` (e.g. mobilenet_v2_float)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" || *preprocess == "" {
		fs.Usage()
		return errUsage
	}
	spec, err := models.ParseSpec(*preprocess)
	if err != nil {
		return fmt.Errorf("%w: --preprocess: %w", errInput, err)
	}
	p, err := sf.plat.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	rt, err := onnxrun.OpenRuntime(*sf.lib)
	if err != nil {
		return err
	}
	m, err := onnxrun.Load(rt, onnxrun.Info{Path: *file, Name: *file, Spec: spec}, *sf.poolTo)
	if err != nil {
		return err
	}
	ids, err := sf.benchmarkIDs(ctx, p)
	if err != nil {
		return err
	}

	// 1. Bare forward passes over every distinct stimulus set.
	var outputs []models.Layer
	for _, l := range m.Layers() {
		if l.IsOutput {
			outputs = append(outputs, l)
		}
	}
	seen := map[string]bool{}
	stimuli := 0
	start := time.Now()
	for _, id := range ids {
		l, err := p.bench.Open(ctx, id)
		if err != nil {
			return err
		}
		sets := []*benchmarks.Stimuli{l.Stimuli}
		if l.Stimuli == nil {
			sets = nil
			for _, s := range l.Sessions {
				sets = append(sets, s.Stimuli)
			}
		}
		for _, s := range sets {
			key := scoring.StimulusKey(s.Set())
			if seen[key] {
				continue
			}
			seen[key] = true
			stimuli += s.Len()
			err := m.Extract(ctx, stimAdapter{ctx, s}, outputs, models.ConsumerFunc(func(models.Layer, int, [][]float32) error { return nil }), nil)
			if err != nil {
				return fmt.Errorf("forward pass on %s: %w", id, err)
			}
		}
	}
	forward := time.Since(start)
	fmt.Fprintf(env.Stderr, "bare forward passes: %d images in %.1f s\n", stimuli, forward.Seconds())

	// 2. Scoring from scratch, extraction timed apart.
	timed := &timedModel{Model: m}
	run, err := scoring.NewRunner(runnerConfig(sf), p.bench, &memoryResults{}, nil, progressPrinter(env.Stderr))
	if err != nil {
		return err
	}
	start = time.Now()
	if _, err := run.Run(ctx, timed, ids); err != nil {
		return explainFailure(err)
	}
	total := time.Since(start)
	math := total - timed.elapsed
	target := 1.5 * (forward.Seconds() + math.Seconds())
	res := map[string]any{
		"images": stimuli, "forward_s": forward.Seconds(), "score_total_s": total.Seconds(),
		"score_extraction_s": timed.elapsed.Seconds(), "score_math_s": math.Seconds(),
		"target_s": target, "ratio_to_forward_plus_math": total.Seconds() / (forward.Seconds() + math.Seconds()),
		"peak_rss_bytes": peakRSS(), "benchmarks": ids,
	}
	if *asJSON {
		return writeJSON(env.Stdout, res)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "images (distinct)\t%d\n", stimuli)
	fmt.Fprintf(tw, "bare forward passes\t%.1f s\n", forward.Seconds())
	fmt.Fprintf(tw, "scoring, total\t%.1f s\n", total.Seconds())
	fmt.Fprintf(tw, "  extraction (all candidate layers)\t%.1f s\n", timed.elapsed.Seconds())
	fmt.Fprintf(tw, "  math (RDMs, ridge, ceilings, selection, bootstrap)\t%.1f s\n", math.Seconds())
	fmt.Fprintf(tw, "total / (forward + math)\t%.2f (target ≤ 1.5)\n", total.Seconds()/(forward.Seconds()+math.Seconds()))
	fmt.Fprintf(tw, "peak RSS\t%.2f GiB\n", float64(peakRSS())/(1<<30))
	return tw.Flush()
}

func runnerConfig(sf *scoreFlags) scoring.Config {
	cfg := scoring.DefaultConfig()
	cfg.Bootstrap = *sf.bootstrap
	cfg.Candidates = scoring.Candidates(*sf.candidates)
	cfg.RidgeCandidates = scoring.Candidates(*sf.ridgeLayers)
	cfg.PeakRSS = peakRSS
	cfg.Fresh = sf.fresh
	return cfg
}

// stimAdapter gives benchmark stimuli to a model outside the runner.
type stimAdapter struct {
	ctx context.Context
	s   *benchmarks.Stimuli
}

func (a stimAdapter) Len() int { return a.s.Len() }
func (a stimAdapter) Image(i int) (image.Image, error) {
	return a.s.Image(a.ctx, i)
}

// timedModel adds up the time spent extracting.
type timedModel struct {
	*onnxrun.Model
	mu      sync.Mutex
	elapsed time.Duration
}

func (t *timedModel) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	start := time.Now()
	err := t.Model.Extract(ctx, stim, layers, c, p)
	t.mu.Lock()
	t.elapsed += time.Since(start)
	t.mu.Unlock()
	return err
}

// memoryResults keeps scores in memory: a benchmark run starts from scratch.
type memoryResults struct {
	mu sync.Mutex
	m  map[scoring.Key]scoring.Score
}

func (r *memoryResults) GetScore(_ context.Context, k scoring.Key) (scoring.Score, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.m[k]
	return s, ok, nil
}

func (r *memoryResults) PutScore(_ context.Context, s scoring.Score) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[scoring.Key]scoring.Score{}
	}
	r.m[scoring.Key{ModelHash: s.ModelHash, BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion}] = s
	return nil
}
