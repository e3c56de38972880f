package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/perf"
	"github.com/cortexbench/cortexbench/scoring/report"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// runBench measures the runner against its reference, side by side in one
// process: the bare forward passes of the model over every stimulus of the
// chosen benchmarks (final output only, nothing kept), then a full scoring
// run from scratch (results kept in memory, nothing read from the store),
// then the bare passes again (--bracket, the default): the reference is
// the mean of the two, so that a machine whose speed drifts during the
// run (a shared one drifts by ±10% over minutes) weighs on both sides.
// The bare passes run the model's graph as its file gives it (what a user
// would measure with ONNX Runtime); scoring folds chains of clamping nodes
// (ort.Options.AsGiven), with the same values, and --folded times the bare
// passes on that graph too, once, before scoring.
// The scoring time splits, per benchmark, into I/O (opening the benchmark,
// reading and storing scores), extraction (every candidate layer), the
// per-layer math (RDMs or ridge fits), the layer selection, the ceilings
// and the bootstrap (runner.Timings): the target is issue 18's, total ≤
// 1.3 × the bare forward passes.
func runBench(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench", "bench --model FILE [--preprocess SPEC] [--benchmark ID,…|all] [--json]\n       cortexbench bench --calibrate [--models DIR] [--store DIR] [--json]")
	sf := addScoreFlags(env, fs)
	file := fs.String("model", "", "ONNX `file`; several separated by commas (shuffled:FILE for FILE's weights-shuffled control) time them in one run sharing decoded images")
	preprocess := fs.String("preprocess", "", "preprocessing `spec` (e.g. mobilenet_v2_float; default as in 'score')")
	sf.reduce.data = fs.String("data", defaultDataDir, "datasets `folder`: where --reduce pca:K reads its reference images")
	asJSON := fs.Bool("json", false, "print JSON")
	calibrate := fs.Bool("calibrate", false, "measure this machine again for the time estimates (~2–5 s: the built-in model's forward pass, matrix products, rank correlations) and keep it in the --store folder (calibration.json); score, bench and the server measure it when missing or stale")
	modelsDir := fs.String("models", defaultModelsDir, "models `folder` holding the calibration's built-in model (../shared/models)")
	bracket := fs.Bool("bracket", true, "time the bare forward passes again after scoring and take the mean of both as the reference (a shared machine's speed drifts over the minutes between them); false: once, before scoring")
	foldedPasses := fs.Bool("folded", true, "also time the bare forward passes once on the graph as scoring runs it (chains of clamping nodes folded: the same values, often faster), beside the reference passes on the graph as the model file gives it")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (forward passes and scoring) to `file`, for 'go tool pprof'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *calibrate {
		return runCalibrate(ctx, env, *sf.lib, *sf.plat.store, *modelsDir, *asJSON)
	}
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if strings.Contains(*file, ",") { // several models in one run (bench_models.go)
		return runBenchModels(ctx, env, sf, strings.Split(*file, ","), *preprocess, *asJSON)
	}
	if err := checkRequired(env, fs, "cortexbench bench --model model.onnx [--preprocess imagenet]",
		required{*file == "", "--model FILE (the ONNX model to time)"}); err != nil {
		return err
	}
	p, rt, ids, err := sf.openScoring(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	spec, err := specFor(ctx, env, rt, p, *file, *preprocess)
	if err != nil {
		return err
	}
	m, err := onnxrun.Load(rt, onnxrun.Info{Path: *file, Name: *file, Spec: spec}, *sf.poolTo)
	if err != nil {
		return err
	}
	if err := checkLayerFlags(env, m.Name(), m.Layers(), sf); err != nil {
		return err
	}
	cal, _, err := calibration(ctx, rt, *sf.plat.store, *modelsDir, false)
	if err != nil {
		return err
	}
	cals := submissions.OpenCalibrations(*sf.plat.store)
	learned, err := cals.Learned()
	if err != nil {
		return err
	}
	in := jobscorer.EstimateInput(m)
	var costs []submissions.BenchmarkCost
	for _, id := range ids {
		l, err := p.bench.Open(ctx, id)
		if err != nil {
			return err
		}
		costs = append(costs, jobscorer.BenchmarkCost(l))
	}
	plan := submissions.CalibratedEstimate(cal, in, costs, *sf.bootstrap, learned)
	fmt.Fprintf(env.Stderr, "estimate: %s (calibrated on this machine %s; %s)\n", wire.FormatSeconds(submissions.Sum(plan)), cal.MeasuredAt.Format("2006-01-02 15:04"), learnedNote(plan))

	// 1. Bare forward passes over every distinct stimulus set, on the
	// graph as given (the reference), then on the graph as scoring runs it.
	m.AsGiven = true
	start, cpu0 := time.Now(), perf.CPUTime()
	stimuli, err := perf.ForwardPasses(ctx, p.bench, m, ids)
	if err != nil {
		return err
	}
	forward, forwardCPU := time.Since(start), perf.CPUTime()-cpu0
	fmt.Fprintf(env.Stderr, "bare forward passes: %d images in %.1f s\n", stimuli, forward.Seconds())
	m.AsGiven = false
	var folded time.Duration
	if *foldedPasses {
		start = time.Now()
		if _, err := perf.ForwardPasses(ctx, p.bench, m, ids); err != nil {
			return err
		}
		folded = time.Since(start)
		fmt.Fprintf(env.Stderr, "bare forward passes, clamping chains folded as scoring runs them: %d images in %.1f s\n", stimuli, folded.Seconds())
	}
	forwardPeak := perf.PeakRSS() // the process's peak so far: the bare passes'
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
	// One Run over every benchmark, as the main job and 'score' do: work
	// that benchmarks share (the layer RDMs of one stimulus set, a public
	// partner) is done once, and each benchmark's line holds its own share.
	start, cpu0 = time.Now(), perf.CPUTime()
	if _, err := run.Run(ctx, timed, ids); err != nil {
		return explainFailure(err)
	}
	total, scoreCPU := time.Since(start), perf.CPUTime()-cpu0
	peak := perf.PeakRSS() // the bare passes' and the scoring's
	// 3. The bare passes again, after: the reference is the mean of both.
	forwardBefore, forwardAfter := forward, time.Duration(0)
	if *bracket {
		m.AsGiven = true
		start, cpu0 = time.Now(), perf.CPUTime()
		if _, err := perf.ForwardPasses(ctx, p.bench, m, ids); err != nil {
			return err
		}
		m.AsGiven = false
		forwardAfter = time.Since(start)
		fmt.Fprintf(env.Stderr, "bare forward passes again, after scoring: %d images in %.1f s\n", stimuli, forwardAfter.Seconds())
		forward, forwardCPU = (forwardBefore+forwardAfter)/2, (forwardCPU+perf.CPUTime()-cpu0)/2
	}
	cpu := cpuUse(forward, forwardCPU, total, scoreCPU)
	lines := map[string]runner.BenchmarkTiming{}
	for _, bt := range run.BenchmarkTimings() {
		lines[bt.Benchmark] = bt
	}
	perBench := make([]benchTime, len(ids))
	var records []submissions.JobRecord
	for i, id := range ids {
		bt := lines[id]
		took := bt.Wall.Seconds()
		perBench[i] = benchTime{Benchmark: id, Seconds: took, Estimate: plan[i].Seconds, Parts: plan[i], Stages: stagesOf(bt.Timings)}
		// For later estimates, only lines that ran their own forward
		// passes: one that reused another's layer RDMs is not what a job
		// on it alone takes.
		if bt.Extract > 0 {
			records = append(records, submissions.JobRecord{Benchmark: id, Model: m.Hash(), Seconds: took, Predicted: plan[i].Seconds / plan[i].Learned, At: time.Now().UTC()})
		}
	}
	if err := cals.Record(records...); err != nil {
		return fmt.Errorf("keep the timings for later estimates: %w", err)
	}
	math := total - timed.Elapsed()
	target := targetRatio * forward.Seconds()
	var sum benchStages
	for _, b := range perBench {
		sum = sum.plus(b.Stages)
	}
	res := map[string]any{
		"images": stimuli, "forward_s": forward.Seconds(), "forward_before_s": forwardBefore.Seconds(), "forward_after_s": forwardAfter.Seconds(), "score_total_s": total.Seconds(),
		"score_extraction_s": timed.Elapsed().Seconds(), "score_math_s": math.Seconds(),
		"target_s": target, "target_ratio_to_forward": targetRatio, "ratio_to_forward": total.Seconds() / forward.Seconds(),
		"ratio_to_forward_plus_math": total.Seconds() / (forward.Seconds() + math.Seconds()), "stages": sum,
		"stimuli_reused": run.Timings().Reused, "peak_rss_bytes": peak, "forward_peak_rss_bytes": forwardPeak, "benchmarks": ids,
		"estimate_s": submissions.Sum(plan), "per_benchmark": perBench, "calibration": cal, "cpu": cpu,
		"forward_graph": "as given",
	}
	if folded > 0 {
		res["forward_folded_s"] = folded.Seconds()
		res["ratio_to_forward_folded"] = total.Seconds() / folded.Seconds()
	}
	if *asJSON {
		return writeJSON(env.Stdout, res)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	if cal != nil {
		fmt.Fprintf(tw, "machine\t%s\n", describeMachine(cal.Machine))
	}
	if note := kernelsNote(linalg.Kernels()); note != "" {
		fmt.Fprintf(tw, "note\t%s\n", note)
	}
	fmt.Fprintf(tw, "images (distinct)\t%d\n", stimuli)
	if *bracket {
		fmt.Fprintf(tw, "bare forward passes\t%.1f s (mean of %.1f s before scoring and %.1f s after)\n", forward.Seconds(), forwardBefore.Seconds(), forwardAfter.Seconds())
	} else {
		fmt.Fprintf(tw, "bare forward passes\t%.1f s\n", forward.Seconds())
	}
	if folded > 0 {
		fmt.Fprintf(tw, "  the same, clamping chains folded\t%.1f s (%.2f× the graph as given; scoring runs this graph, with the same values)\n", folded.Seconds(), folded.Seconds()/forward.Seconds())
	}
	fmt.Fprintf(tw, "scoring, total\t%.1f s\n", total.Seconds())
	fmt.Fprintf(tw, "  extraction (all candidate layers)\t%.1f s\n", timed.Elapsed().Seconds())
	fmt.Fprintf(tw, "  math (RDMs, ridge, ceilings, selection, bootstrap)\t%.1f s\n", math.Seconds())
	if n := run.Timings().Reused; n > 0 {
		fmt.Fprintf(tw, "  stimuli not run again\t%d (an image shown twice in a set, or by another set of the run: its rows copied)\n", n)
	}
	fmt.Fprintf(tw, "total / forward\t%.2f (target ≤ %.1f: %.1f s)\n", total.Seconds()/forward.Seconds(), targetRatio, target)
	if folded > 0 {
		fmt.Fprintf(tw, "total / forward, folded graph\t%.2f\n", total.Seconds()/folded.Seconds())
	}
	fmt.Fprintf(tw, "total / (forward + math)\t%.2f\n", total.Seconds()/(forward.Seconds()+math.Seconds()))
	if cpu.Cores > 0 && cpu.ForwardCPU > 0 {
		fmt.Fprintf(tw, "CPU time, bare passes\t%.1f s (%.2f of %d cores busy)\n", cpu.ForwardCPU, cpu.ForwardBusy, cpu.Cores)
		fmt.Fprintf(tw, "CPU time, scoring\t%.1f s (%.2f of %d cores busy)\n", cpu.ScoreCPU, cpu.ScoreBusy, cpu.Cores)
		fmt.Fprintf(tw, "floor: total / forward with every core busy\t%.2f (scoring's CPU time / (%d × bare passes' wall time))\n", cpu.FloorRatio, cpu.Cores)
		fmt.Fprintf(tw, "CPU work: scoring / bare passes\t%.2f (total / forward if both kept the cores equally busy)\n", cpu.WorkRatio)
	}
	fmt.Fprintf(tw, "peak RSS\t%.2f GiB (%.2f GiB by the end of the bare passes)\n", float64(peak)/(1<<30), float64(forwardPeak)/(1<<30))
	fmt.Fprintf(tw, "estimate (before scoring)\t%.1f s\n", submissions.Sum(plan))
	for _, b := range perBench {
		fmt.Fprintf(tw, "  %s\t%.1f s, estimated %.1f s\n", b.Benchmark, b.Seconds, b.Estimate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Where each benchmark's time went (wall time per stage).
	tw = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\ttotal s\tI/O\textraction\tRDMs/ridge\tselection\tceilings\tbootstrap\t")
	row := func(name string, total float64, st benchStages) {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", name, total, st.Open, st.Extraction, st.LayerMath, st.Selection, st.Ceilings, st.Bootstrap)
	}
	for _, b := range perBench {
		row(b.Benchmark, b.Seconds, b.Stages)
	}
	row("all", total.Seconds(), sum)
	return tw.Flush()
}

// describeMachine is the machine line of bench's tables: what its numbers
// depend on.
func describeMachine(m submissions.Machine) string {
	blas := m.BLAS
	if m.BLASKernels != "" {
		blas += " (" + m.BLASKernels + " kernels)"
	}
	return fmt.Sprintf("%s, %d cores, ONNX Runtime %s, %s", m.CPU, m.Cores, m.ORT, blas)
}

// kernelsNote says when $OPENBLAS_CORETYPE holds OpenBLAS to kernels
// older than the CPU's: AVX2 ones on an AVX-512 CPU ran the main job's
// math ~20% slower on a 2-core EPYC (stop 30), with the same scores to
// 1.4e-15 (TestMainJobScoresMatchGolden).
func kernelsNote(kernels string) string {
	forced := os.Getenv("OPENBLAS_CORETYPE")
	if forced == "" || kernels == "" || !cpu.X86.HasAVX512F {
		return ""
	}
	switch strings.ToLower(kernels) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return ""
	}
	return fmt.Sprintf("OPENBLAS_CORETYPE=%s holds OpenBLAS to %s kernels on this AVX-512 CPU; unset, OpenBLAS picks AVX-512 ones and the math runs faster", forced, kernels)
}

// benchTime is one benchmark's scoring time and its estimate.
type benchTime struct {
	Benchmark string           `json:"benchmark"`
	Seconds   float64          `json:"seconds"`
	Estimate  float64          `json:"estimate_seconds"`
	Parts     submissions.Part `json:"estimate_parts"`
	Stages    benchStages      `json:"stages"`
}

// benchCPU is the CPU time (user and system, every thread) of the bare
// passes and of the scoring, how many cores each kept busy on average, and
// the lowest total/forward ratio the scoring's CPU work allows: its CPU
// time spread over every core with none idle. Above targetRatio the goal
// needs less work, not better overlap. WorkRatio compares the two parts'
// CPU time: total/forward is WorkRatio × ForwardBusy/ScoreBusy, so at equal
// utilisation only less work moves it.
type benchCPU struct {
	Cores       int     `json:"cores"`
	ForwardCPU  float64 `json:"forward_cpu_s"`
	ForwardBusy float64 `json:"forward_cores_busy"`
	ScoreCPU    float64 `json:"score_cpu_s"`
	ScoreBusy   float64 `json:"score_cores_busy"`
	FloorRatio  float64 `json:"floor_ratio_to_forward"`
	WorkRatio   float64 `json:"cpu_ratio_to_forward"`
}

func cpuUse(forward, forwardCPU, total, scoreCPU time.Duration) benchCPU {
	c := benchCPU{Cores: runtime.NumCPU(), ForwardCPU: forwardCPU.Seconds(), ScoreCPU: scoreCPU.Seconds()}
	if forward > 0 {
		c.ForwardBusy = c.ForwardCPU / forward.Seconds()
		c.FloorRatio = c.ScoreCPU / (float64(c.Cores) * forward.Seconds())
	}
	if total > 0 {
		c.ScoreBusy = c.ScoreCPU / total.Seconds()
	}
	if c.ForwardCPU > 0 {
		c.WorkRatio = c.ScoreCPU / c.ForwardCPU
	}
	return c
}

// targetRatio is issue 18's goal: scoring every benchmark takes at most
// 1.3 × the bare forward passes over the same images.
const targetRatio = 1.3

// benchStages is where a benchmark's scoring time went, in seconds
// (runner.Timings), wall time per stage.
type benchStages struct {
	Open       float64 `json:"io_s"`
	Extraction float64 `json:"extraction_s"`
	LayerMath  float64 `json:"layer_math_s"` // layer RDMs or ridge fits
	Selection  float64 `json:"selection_s"`
	Ceilings   float64 `json:"ceilings_s"`
	Bootstrap  float64 `json:"bootstrap_s"`
}

func stagesOf(t runner.Timings) benchStages {
	return benchStages{Open: t.Open.Seconds(), Extraction: t.Extract.Seconds(), LayerMath: t.LayerMath.Seconds(),
		Selection: t.Selection.Seconds(), Ceilings: t.Ceilings.Seconds(), Bootstrap: t.Bootstrap.Seconds()}
}

func (a benchStages) plus(b benchStages) benchStages {
	return benchStages{a.Open + b.Open, a.Extraction + b.Extraction, a.LayerMath + b.LayerMath,
		a.Selection + b.Selection, a.Ceilings + b.Ceilings, a.Bootstrap + b.Bootstrap}
}

// startCPUProfile starts a CPU profile into path; stop ends it and
// closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// learnedNote says how many benchmarks of plan are corrected by the
// timings of finished jobs.
func learnedNote(plan []submissions.Part) string {
	n := 0
	for _, p := range plan {
		if p.Learned != 1 {
			n++
		}
	}
	return fmt.Sprintf("%d of %d benchmark(s) corrected by finished jobs", n, len(plan))
}

// runCalibrate is "cortexbench bench --calibrate": measure this machine's
// throughput again and keep it in dir.
func runCalibrate(ctx context.Context, env *Env, lib, dir, modelsDir string, asJSON bool) error {
	rt, err := onnxrun.OpenRuntime(lib)
	if err != nil {
		return err
	}
	cal, _, err := calibration(ctx, rt, dir, modelsDir, true)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(env.Stdout, cal)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "machine\t%s\n", describeMachine(cal.Machine))
	fmt.Fprintf(tw, "forward pass\t%.2f GFLOP/s (estimate's FLOPs, built-in model)\n", cal.ForwardFLOPS/1e9)
	fmt.Fprintf(tw, "matrix product\t%.2f GFLOP/s\n", cal.GemmFLOPS/1e9)
	fmt.Fprintf(tw, "rank correlation\t%.1f ns per element\n", cal.RankSeconds*1e9)
	fmt.Fprintf(tw, "model load\t%.2f s\n", cal.ModelSeconds)
	fmt.Fprintf(tw, "kept in\t%s (measured in %.1f s)\n", submissions.OpenCalibrations(dir).Path(), cal.Took)
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
