package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/preprocess"
	"github.com/cortexbench/cortexbench/scoring/perf"
	"github.com/cortexbench/cortexbench/scoring/report"
	"github.com/cortexbench/cortexbench/scoring/runner"
)

// pixelCacheDir is where a run's shared decoded images live under the
// store folder (issue 18).
func pixelCacheDir(store string) string { return filepath.Join(store, "cache", "pixels") }

// sharedPixels sets on rt, for the models of one run preprocessed by
// specs, a pixel cache under the store when at least two of them share a
// geometry (input size, crop, resize; placement is in the images' key):
// the first such model decodes and resizes each image and writes its
// pixels, the later ones read them back (preprocess.PixelCache). done
// unsets it, removes its folder and reports on stderr what it saved. When
// no geometry is shared nothing is opened and done does nothing.
func sharedPixels(env *Env, store string, rt *ort.Runtime, specs []models.Spec) (done func() preprocess.PixelStats, err error) {
	geoms := map[string]int{}
	shared := false
	for _, s := range specs {
		geoms[preprocess.GeometryKey(s)]++
		shared = shared || geoms[preprocess.GeometryKey(s)] > 1
	}
	if !shared {
		return func() preprocess.PixelStats { return preprocess.PixelStats{} }, nil
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pc, err := preprocess.OpenPixelCache(pixelCacheDir(store), preprocess.DefaultPixelCacheLimit, log)
	if err != nil {
		return nil, fmt.Errorf("%w (the shared decoded images of this run's models live there; free the disk or pass another --store)", err)
	}
	for _, s := range specs {
		pc.Use(s)
	}
	rt.SetPixelCache(pc)
	return func() preprocess.PixelStats {
		rt.SetPixelCache(nil)
		st := pc.Stats()
		if err := pc.Close(); err != nil {
			fmt.Fprintf(env.Stderr, "warning: %v\n", err)
		}
		if st.Hits+st.Misses > 0 {
			fmt.Fprintf(env.Stderr, "shared decoded images: %d decoded once (%.1f s), %d read back by later models (%.1f s), ~%.1f s of decoding saved; %d damaged record(s) decoded again\n",
				st.Misses, st.DecodeSeconds, st.Hits, st.ReadSeconds, st.SavedSeconds(), st.Corrupt)
		}
		return st
	}, nil
}

// shuffledPrefix in 'bench --model' names the weights-shuffled control of
// a file (seed 1, as the main job's control).
const shuffledPrefix = "shuffled:"

// benchModelFile returns the ONNX file for one item of 'bench --model':
// the file itself, or for shuffled:FILE its control, written once under
// the store's folder (as onnxrun.Defaults does for the main job).
func benchModelFile(item, store string) (string, error) {
	file, ok := strings.CutPrefix(item, shuffledPrefix)
	if !ok {
		return item, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: --model %s: %w", errInput, item, err)
	}
	sum := sha256.Sum256(data)
	out := filepath.Join(filepath.Dir(store), "models", "shuffled_seed1_"+hex.EncodeToString(sum[:8])+".onnx")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	shuffled, _, err := onnxmodel.ShuffleWeights(data, 1)
	if err != nil {
		return "", fmt.Errorf("%w: --model %s: make the shuffled control: %w", errInput, item, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(out+".tmp", shuffled, 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(out+".tmp", out)
}

// modelTime is one model's scoring time in the several-model bench.
type modelTime struct {
	Model      string  `json:"model"`
	File       string  `json:"file"`
	Spec       string  `json:"preprocess"`
	Seconds    float64 `json:"seconds"`
	Extraction float64 `json:"extraction_seconds"`
}

// runBenchModels is 'bench --model A,B,C': it scores model A alone from
// scratch (cold: every image decoded), then the models A, B, C one after
// another in one run that shares the decoded images between the models of
// one geometry (issue 18, "several models in one run"), and reports the
// run's total against its reference: N times model A alone minus the
// decoding the shared images saved.
func runBenchModels(ctx context.Context, env *Env, sf *scoreFlags, items []string, text string, asJSON bool) error {
	p, rt, ids, err := sf.openScoring(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	var ms []*onnxrun.Model
	var specs []models.Spec
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Errorf("%w: --model %q names an empty file; give files separated by commas, e.g. --model a.onnx,shuffled:a.onnx,b.onnx", errInput, strings.Join(items, ","))
		}
		file, err := benchModelFile(item, *sf.plat.store)
		if err != nil {
			return err
		}
		spec, err := specFor(ctx, env, rt, p, file, text)
		if err != nil {
			return err
		}
		m, err := onnxrun.Load(rt, onnxrun.Info{Path: file, Name: item, Spec: spec}, *sf.poolTo)
		if err != nil {
			return err
		}
		if err := checkLayerFlags(env, m.Name(), m.Layers(), sf); err != nil {
			return err
		}
		if err := sf.reduce.apply(m, *sf.poolTo); err != nil {
			return err
		}
		ms, specs = append(ms, m), append(specs, spec)
	}
	score := func(m *onnxrun.Model) (modelTime, error) {
		timed := &perf.Timed{Model: m}
		run, err := runner.NewRunner(runnerConfig(sf), p.bench, &perf.MemoryResults{}, nil, report.ProgressPrinter(env.Stderr))
		if err != nil {
			return modelTime{}, err
		}
		t0 := time.Now()
		if _, err := run.Run(ctx, timed, ids); err != nil {
			return modelTime{}, explainFailure(err)
		}
		return modelTime{Model: m.Name(), File: m.Info().Path, Spec: m.Info().Spec.String(), Seconds: time.Since(t0).Seconds(), Extraction: timed.Elapsed().Seconds()}, nil
	}

	// 1. The first model alone, every image decoded (no shared pixels).
	fmt.Fprintf(env.Stderr, "bench: %s alone (cold: every image decoded)\n", ms[0].Name())
	alone, err := score(ms[0])
	if err != nil {
		return err
	}
	// 2. All the models in one run, sharing the decoded images.
	fmt.Fprintf(env.Stderr, "bench: %d models in one run, sharing decoded images\n", len(ms))
	done, err := sharedPixels(env, *sf.plat.store, rt, specs)
	if err != nil {
		return err
	}
	start := time.Now()
	var per []modelTime
	for _, m := range ms {
		t, err := score(m)
		if err != nil {
			done()
			return err
		}
		per = append(per, t)
	}
	total := time.Since(start).Seconds()
	st := done()
	saved := st.SavedSeconds()
	reference := float64(len(ms))*alone.Seconds - saved
	res := map[string]any{
		"benchmarks": ids, "models": len(ms), "one_model": alone, "run": per, "run_total_s": total,
		"reference_s": reference, "ratio_to_reference": total / reference,
		"n_times_one_model_s": float64(len(ms)) * alone.Seconds, "decoding_saved_s": saved,
		"pixels": map[string]any{"decoded": st.Misses, "read_back": st.Hits, "damaged": st.Corrupt, "written": st.Written, "bytes": st.Bytes,
			"decode_s": st.DecodeSeconds, "read_s": st.ReadSeconds, "write_s": st.WriteSeconds},
		"peak_rss_bytes": perf.PeakRSS(),
	}
	if asJSON {
		return writeJSON(env.Stdout, res)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "benchmarks\t%s\n", strings.Join(ids, ", "))
	fmt.Fprintf(tw, "%s alone (cold)\t%.1f s (extraction %.1f s)\n", alone.Model, alone.Seconds, alone.Extraction)
	fmt.Fprintf(tw, "%d models in one run\t%.1f s\n", len(ms), total)
	for _, t := range per {
		fmt.Fprintf(tw, "  %s\t%.1f s (extraction %.1f s)\n", t.Model, t.Seconds, t.Extraction)
	}
	fmt.Fprintf(tw, "decoded images shared\t%d decoded (%.1f s), %d read back (%.1f s), %d damaged\n", st.Misses, st.DecodeSeconds, st.Hits, st.ReadSeconds, st.Corrupt)
	fmt.Fprintf(tw, "decoding saved\t%.1f s\n", saved)
	fmt.Fprintf(tw, "reference: %d × alone − saved\t%.1f s\n", len(ms), reference)
	fmt.Fprintf(tw, "run / reference\t%.3f (target ≤ 1)\n", total/reference)
	fmt.Fprintf(tw, "peak RSS\t%.2f GiB\n", float64(perf.PeakRSS())/(1<<30))
	return tw.Flush()
}
