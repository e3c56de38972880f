package main

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// The calibration's built-in model (../shared/models) and its spec: the
// smallest of the default models, so the calibration takes seconds.
var (
	calibrationModel = filepath.Join("mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	calibrationSpec  = "mobilenet_v2_float,size=128"
)

// calibrationImages is how many images the forward pass is timed on, in
// calibrationRounds passes.
const (
	calibrationImages = 48
	calibrationRounds = 3
)

// thisMachine names this machine for the calibration's key.
func thisMachine(rt *ort.Runtime) submissions.Machine {
	m := submissions.Machine{Cores: runtime.NumCPU(), BLAS: linalg.Backend(), BLASKernels: linalg.Kernels()}
	if rt != nil {
		m.ORT = rt.Version()
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// calibration returns this machine's calibration kept in dir, measured
// (and kept) when there is none, it is stale, or force.
func calibration(ctx context.Context, rt *ort.Runtime, dir, modelsDir string, force bool) (*submissions.Calibration, bool, error) {
	cals := submissions.OpenCalibrations(dir)
	mach := thisMachine(rt)
	cal, err := cals.Get(mach)
	if err != nil {
		cal = nil // unreadable: measured again and rewritten
	}
	if !force && cal.Stale(mach, time.Now()) == "" {
		return cal, false, nil
	}
	c, err := measureCalibration(ctx, rt, mach, filepath.Join(modelsDir, calibrationModel))
	if err != nil {
		return nil, false, fmt.Errorf("calibration: %w", err)
	}
	if err := cals.Put(*c); err != nil {
		return nil, false, fmt.Errorf("keep the calibration in %s: %w", cals.Path(), err)
	}
	return c, true, nil
}

// measureCalibration times, on this machine: loading the built-in model
// and its forward pass over noise images; a float64 matrix product; rank
// correlations of RDM-sized vectors. ~2–5 s. Each is the median of a
// few repetitions, so that a moment's load of other work counts little.
func measureCalibration(ctx context.Context, rt *ort.Runtime, mach submissions.Machine, modelFile string) (*submissions.Calibration, error) {
	start := time.Now()
	cal := &submissions.Calibration{Machine: mach, MeasuredAt: start.UTC()}
	spec, err := models.ParseSpec(calibrationSpec)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	m, err := onnxrun.Load(rt, onnxrun.Info{Path: modelFile, Name: "calibration", Spec: spec}, onnxrun.DefaultPoolTo)
	if err != nil {
		return nil, fmt.Errorf("built-in model %s (../shared/models; --models): %w", modelFile, err)
	}
	cal.ModelSeconds = time.Since(t0).Seconds()
	var outputs []models.Layer
	for _, l := range m.Layers() {
		if l.IsOutput {
			outputs = append(outputs, l)
		}
	}
	discard := models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil })
	// One warm-up pass over a few images, then timed passes: the fastest
	// counts (the machine's throughput, not a moment's load of others).
	if err := m.Extract(ctx, noiseImages{n: 8, size: 128}, outputs, discard, nil); err != nil {
		return nil, fmt.Errorf("forward pass: %w", err)
	}
	var perImage []float64
	for range calibrationRounds {
		t0 = time.Now()
		if err := m.Extract(ctx, noiseImages{n: calibrationImages / calibrationRounds, size: 128}, outputs, discard, nil); err != nil {
			return nil, fmt.Errorf("forward pass: %w", err)
		}
		perImage = append(perImage, time.Since(t0).Seconds()/(calibrationImages/calibrationRounds))
	}
	cal.ForwardFLOPS = submissions.ForwardFlops(m.Checked().Parameters, 128, 128) / median(perImage)

	// A float64 matrix product of 384×384 matrices, repeated for ~0.5 s.
	const k = 384
	a, b, c := linalg.NewMatrix[float64](k, k), linalg.NewMatrix[float64](k, k), linalg.NewMatrix[float64](k, k)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range a.Data {
		a.Data[i], b.Data[i] = r.Float64(), r.Float64()
	}
	var times []float64
	for t1 := time.Now(); time.Since(t1) < 500*time.Millisecond; {
		t0 = time.Now()
		linalg.Gemm(false, false, 1, a, b, 0, c)
		times = append(times, time.Since(t0).Seconds())
	}
	cal.GemmFLOPS = 2 * k * k * k / median(times)

	// Spearman correlations of two vectors the size of the test half of a
	// 92-stimulus RDM, repeated for ~0.5 s.
	const pairs = 46 * 45 / 2
	x, y := make([]float64, pairs), make([]float64, pairs)
	for i := range x {
		x[i], y[i] = r.Float64(), r.Float64()
	}
	times = times[:0]
	for t1 := time.Now(); time.Since(t1) < 500*time.Millisecond; {
		t0 = time.Now()
		for range 10 {
			if _, err := rsa.Compare(x, y, rsa.Spearman); err != nil {
				return nil, err
			}
		}
		times = append(times, time.Since(t0).Seconds()/(10*pairs))
	}
	cal.RankSeconds = median(times)

	// What the bootstrap repeats: a resample of those 46 stimuli's RDM,
	// held as its distinct pairs and their counts, compared by counting
	// over another RDM's ordered entries (the model's resample prepared
	// once, each subject's compared).
	set, other := rsa.NewDrawnSet(x), rsa.NewDrawnSet(y)
	var sc rsa.DrawnScratch
	var d rsa.Drawn
	times = times[:0]
	for t1 := time.Now(); time.Since(t1) < 300*time.Millisecond; {
		codes := drawnCodes(r, 46)
		t0 = time.Now()
		d.Set(codes, pairs)
		prep := rsa.PrepareDrawnVector(set, &d, rsa.Spearman)
		for range 10 {
			if _, err := prep.Compare(other, &sc); err != nil {
				return nil, err
			}
		}
		times = append(times, time.Since(t0).Seconds()/float64(11*len(codes)))
	}
	cal.DrawnRankSeconds = median(times)
	cal.Took = time.Since(start).Seconds()
	return cal, nil
}

// median of x (which it sorts).
func median(x []float64) float64 {
	slices.Sort(x)
	if n := len(x); n%2 == 0 {
		return (x[n/2-1] + x[n/2]) / 2
	}
	return x[len(x)/2]
}

// noiseImages are n size×size images of uniform noise (fixed seed).
type noiseImages struct{ n, size int }

func (s noiseImages) Len() int { return s.n }

func (s noiseImages) Image(_ context.Context, i int) (image.Image, error) {
	img := image.NewRGBA(image.Rect(0, 0, s.size, s.size))
	r := rand.New(rand.NewPCG(uint64(i), 7))
	for y := 0; y < s.size; y++ {
		for x := 0; x < s.size; x++ {
			v := r.Uint32()
			img.Set(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	return img, nil
}

// useCalibration makes this process's submission estimates use this
// machine's calibration, kept beside p's embedded store (measured now,
// ~2 s, when missing or stale), and keep the durations of the jobs it
// scores. Without an embedded store or the built-in model, estimates use
// the fixed-throughput formula, and it says so.
func useCalibration(ctx context.Context, env *Env, p *platform, rt *ort.Runtime) {
	if p.storeDir == "" {
		return
	}
	modelsDir := p.modelsDir
	if modelsDir == "" {
		modelsDir = defaultModelsDir
	}
	cal, measured, err := calibration(ctx, rt, p.storeDir, modelsDir, false)
	if err != nil {
		fmt.Fprintf(env.Stderr, "cortexbench: time estimates use the fixed-throughput formula: %v (run 'cortexbench bench --calibrate --models DIR')\n", err)
		return
	}
	if measured {
		fmt.Fprintf(env.Stderr, "cortexbench: calibrated this machine for time estimates in %.1f s (kept in %s)\n", cal.Took, submissions.OpenCalibrations(p.storeDir).Path())
	}
	submissions.UseCalibration(submissions.OpenCalibrations(p.storeDir), cal)
	// The benchmarks' sizes, read in the background (a minute at most).
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		submissions.UseBenchmarkShapes(benchmarkShapes(ctx, p.bench))
	}()
}

// benchmarkShapes reads every benchmark of reg for the estimate (those
// that cannot be opened are left out).
func benchmarkShapes(ctx context.Context, reg *benchmarks.Registry) map[string]submissions.BenchmarkCost {
	shapes := map[string]submissions.BenchmarkCost{}
	if reg == nil {
		return shapes
	}
	list, err := reg.List(ctx)
	if err != nil {
		return shapes
	}
	for _, b := range list {
		if l, err := reg.Open(ctx, b.ID); err == nil {
			shapes[b.ID] = jobscorer.BenchmarkCost(l)
		}
	}
	return shapes
}

// scorePlan is the estimate 'score' prints before it scores a model, and
// what it keeps of the actual times afterwards.
type scorePlan struct {
	cals  *submissions.Calibrations
	parts map[string]submissions.Part
	start time.Time
}

// planScore prints the estimated time of scoring m on ids (this
// machine's calibration, measured now when missing; the corrections
// learned from finished jobs), or nothing when there is no calibration
// (another S3 than the embedded store, no built-in model).
func planScore(ctx context.Context, env *Env, p *platform, rt *ort.Runtime, m *onnxrun.Model, ids []string, bootstrap int) *scorePlan {
	if p.storeDir == "" {
		return nil
	}
	cal, _, err := calibration(ctx, rt, p.storeDir, defaultModelsDir, false)
	if err != nil {
		return nil
	}
	cals := submissions.OpenCalibrations(p.storeDir)
	learned, _ := cals.Learned()
	var costs []submissions.BenchmarkCost
	for _, id := range ids {
		ref, _, _ := strings.Cut(id, "@")
		l, err := p.bench.Open(ctx, id)
		if err != nil {
			return nil // the runner says why
		}
		c := jobscorer.BenchmarkCost(l)
		c.ID = ref
		costs = append(costs, c)
	}
	parts := submissions.CalibratedEstimate(cal, jobscorer.EstimateInput(m), costs, bootstrap, learned)
	sp := &scorePlan{cals: cals, parts: map[string]submissions.Part{}, start: time.Now()}
	for _, pt := range parts {
		sp.parts[pt.Benchmark] = pt
	}
	fmt.Fprintf(env.Stderr, "plan: %s on %d benchmark(s), estimate %s if none is stored yet (this machine's calibration of %s; %s)\n",
		m.Name(), len(ids), wire.FormatSeconds(submissions.Sum(parts)), cal.MeasuredAt.Format("2006-01-02"), learnedNote(parts))
	return sp
}

// record keeps the time each score computed in this run took, for later
// estimates; stored scores read back are not timings.
func (sp *scorePlan) record(scores []scoring.Score) {
	if sp == nil {
		return
	}
	var recs []submissions.JobRecord
	for _, s := range scores {
		pt, ok := sp.parts[s.BenchmarkID]
		if !ok || s.CreatedAt.Before(sp.start) || s.Elapsed <= 0 || pt.Learned <= 0 {
			continue
		}
		recs = append(recs, submissions.JobRecord{Benchmark: s.BenchmarkID, Model: s.ModelHash, Seconds: s.Elapsed.Seconds(), Predicted: pt.Seconds / pt.Learned, At: time.Now().UTC()})
	}
	if len(recs) > 0 {
		_ = sp.cals.Record(recs...) // best effort: an estimate is not worth failing a score over
	}
}

// drawnCodes returns the pair codes of a bootstrap resample of k stimuli
// (drawn with replacement; a stimulus with its own copy left out), pairs
// numbered as the upper triangle of k: the bootstrap's input shape.
func drawnCodes(r *rand.Rand, k int) []int32 {
	code := func(a, c int) int32 {
		if a > c {
			a, c = c, a
		}
		return int32(a*k - a*(a+1)/2 + c - a - 1)
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = r.IntN(k)
	}
	var out []int32
	for i, a := range idx {
		for _, c := range idx[i+1:] {
			if a != c {
				out = append(out, code(a, c))
			}
		}
	}
	return out
}
