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
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/submissions"
)

// The calibration's built-in model (../shared/models) and its spec: the
// smallest of the default models, so the calibration takes seconds.
var (
	calibrationModel = filepath.Join("mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	calibrationSpec  = "mobilenet_v2_float,size=128"
)

// calibrationImages is how many images the forward pass is timed on.
const calibrationImages = 48

// thisMachine names this machine for the calibration's key.
func thisMachine(rt *ort.Runtime) submissions.Machine {
	m := submissions.Machine{Cores: runtime.NumCPU(), BLAS: linalg.Backend()}
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
// correlations of RDM-sized vectors. ~5–10 s.
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
	stim := noiseImages{n: calibrationImages, size: 128}
	discard := models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil })
	// One warm-up pass over a few images, then the timed one.
	if err := m.Extract(ctx, noiseImages{n: 8, size: 128}, outputs, discard, nil); err != nil {
		return nil, fmt.Errorf("forward pass: %w", err)
	}
	t0 = time.Now()
	if err := m.Extract(ctx, stim, outputs, discard, nil); err != nil {
		return nil, fmt.Errorf("forward pass: %w", err)
	}
	perImage := time.Since(t0).Seconds() / calibrationImages
	cal.ForwardFLOPS = submissions.ForwardFlops(m.Checked().Parameters, 128, 128) / perImage

	// A float64 matrix product of 384×384 matrices, repeated for ~0.5 s.
	const k = 384
	a, b, c := linalg.NewMatrix[float64](k, k), linalg.NewMatrix[float64](k, k), linalg.NewMatrix[float64](k, k)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range a.Data {
		a.Data[i], b.Data[i] = r.Float64(), r.Float64()
	}
	var flops float64
	t0 = time.Now()
	for time.Since(t0) < 500*time.Millisecond {
		linalg.Gemm(false, false, 1, a, b, 0, c)
		flops += 2 * k * k * k
	}
	cal.GemmFLOPS = flops / time.Since(t0).Seconds()

	// Spearman correlations of two vectors the size of the test half of a
	// 92-stimulus RDM, repeated for ~0.5 s.
	const pairs = 46 * 45 / 2
	x, y := make([]float64, pairs), make([]float64, pairs)
	for i := range x {
		x[i], y[i] = r.Float64(), r.Float64()
	}
	var elems float64
	t0 = time.Now()
	for time.Since(t0) < 500*time.Millisecond {
		if _, err := rsa.Compare(x, y, rsa.Spearman); err != nil {
			return nil, err
		}
		elems += pairs
	}
	cal.RankSeconds = time.Since(t0).Seconds() / elems
	cal.Took = time.Since(start).Seconds()
	return cal, nil
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
}
