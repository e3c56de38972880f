package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/scoring/perf"
	"github.com/cortexbench/cortexbench/scoring/report"
	"github.com/cortexbench/cortexbench/scoring/runner"
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
	sf.reduce.data = fs.String("data", defaultDataDir, "datasets `folder`: where --reduce pca:K reads its reference images")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkRequired(env, fs, "cortexbench bench --model model.onnx --preprocess imagenet_nchw",
		required{*file == "", "--model FILE (the ONNX model to time)"},
		required{*preprocess == "", "--preprocess SPEC (how images become its input; see 'cortexbench models -h')"}); err != nil {
		return err
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
	start := time.Now()
	stimuli, err := perf.ForwardPasses(ctx, p.bench, m, ids)
	if err != nil {
		return err
	}
	forward := time.Since(start)
	fmt.Fprintf(env.Stderr, "bare forward passes: %d images in %.1f s\n", stimuli, forward.Seconds())
	// The reduction (--reduce) applies to scoring, not to the bare passes.
	if err := sf.reduce.apply(m, *sf.poolTo); err != nil {
		return err
	}

	// 2. Scoring from scratch, extraction timed apart.
	timed := &perf.Timed{Model: m}
	run, err := runner.NewRunner(runnerConfig(sf), p.bench, &perf.MemoryResults{}, nil, report.ProgressPrinter(env.Stderr))
	if err != nil {
		return err
	}
	start = time.Now()
	if _, err := run.Run(ctx, timed, ids); err != nil {
		return explainFailure(err)
	}
	total := time.Since(start)
	math := total - timed.Elapsed()
	target := 1.5 * (forward.Seconds() + math.Seconds())
	res := map[string]any{
		"images": stimuli, "forward_s": forward.Seconds(), "score_total_s": total.Seconds(),
		"score_extraction_s": timed.Elapsed().Seconds(), "score_math_s": math.Seconds(),
		"target_s": target, "ratio_to_forward_plus_math": total.Seconds() / (forward.Seconds() + math.Seconds()),
		"peak_rss_bytes": perf.PeakRSS(), "benchmarks": ids,
	}
	if *asJSON {
		return writeJSON(env.Stdout, res)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "images (distinct)\t%d\n", stimuli)
	fmt.Fprintf(tw, "bare forward passes\t%.1f s\n", forward.Seconds())
	fmt.Fprintf(tw, "scoring, total\t%.1f s\n", total.Seconds())
	fmt.Fprintf(tw, "  extraction (all candidate layers)\t%.1f s\n", timed.Elapsed().Seconds())
	fmt.Fprintf(tw, "  math (RDMs, ridge, ceilings, selection, bootstrap)\t%.1f s\n", math.Seconds())
	fmt.Fprintf(tw, "total / (forward + math)\t%.2f (target ≤ 1.5)\n", total.Seconds()/(forward.Seconds()+math.Seconds()))
	fmt.Fprintf(tw, "peak RSS\t%.2f GiB\n", float64(perf.PeakRSS())/(1<<30))
	return tw.Flush()
}

func runnerConfig(sf *scoreFlags) runner.Config {
	cfg := runner.DefaultConfig()
	cfg.Bootstrap = *sf.bootstrap
	cfg.Candidates = runner.Candidates(*sf.candidates)
	cfg.RidgeCandidates = runner.Candidates(*sf.ridgeLayers)
	cfg.PeakRSS = perf.PeakRSS
	cfg.Fresh = sf.fresh
	return cfg
}
