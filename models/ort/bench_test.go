package ort

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/internal/memstat"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/activations"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// cowley opens one Cowley V4 session's images (JPEG 112×112), limited to
// CORTEXBENCH_BENCH_IMAGES when set.
func cowley(b testing.TB) *preprocess.Zip {
	shared := sharedDir(b)
	paths, _ := filepath.Glob(filepath.Join(shared, "datasets", "cowley2023-v4", "images", "images_*.zip"))
	if len(paths) == 0 {
		b.Skip("no Cowley V4 images")
	}
	z, err := preprocess.OpenZip(paths[0])
	if err != nil {
		b.Fatal(err)
	}
	if n, err := strconv.Atoi(os.Getenv("CORTEXBENCH_BENCH_IMAGES")); err == nil && n > 0 {
		z.Limit(n)
	}
	return z
}

// benchSetup opens the Cowley session's images (closed when b ends), the
// runtime, and the float32 MobileNetV2 with its layers.
func benchSetup(b *testing.B) (*preprocess.Zip, *Runtime, *onnxmodel.Checked, []models.Layer) {
	shared := sharedDir(b)
	z := cowley(b)
	b.Cleanup(func() { z.Close() })
	c, layers := mobileNetV2(b, shared)
	return z, runtime(b), c, layers
}

func benchExtract(b *testing.B, all bool, wrap func(layers []models.Layer) models.Consumer) {
	benchExtractOpts(b, all, Options{}, wrap)
}

var (
	benchPool  = envInt("CORTEXBENCH_BENCH_POOL", 2048)
	benchK     = int(envInt("CORTEXBENCH_BENCH_K", 100))
	benchUnits = int(envInt("CORTEXBENCH_BENCH_UNITS", 1024))
)

func envInt(name string, def int64) int64 {
	if n, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return n
	}
	return def
}

func benchExtractOpts(b *testing.B, all bool, o Options, wrap func(layers []models.Layer) models.Consumer) {
	z, r, c, layers := benchSetup(b)
	chosen := outputLayers(layers)
	if all {
		chosen = perStimulus(layers)
	}
	if bs := envInt("CORTEXBENCH_BENCH_BATCH_BYTES", 0); bs > 0 {
		r = &Runtime{cfg: r.cfg}
		r.cfg.MaxBatchBytes = bs
	}
	o.Overlap = envInt("CORTEXBENCH_BENCH_OVERLAP", 1) == 1
	e, err := r.NewExtractor(c, models.MobileNetV2Float, chosen, o)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	cpu0 := cpuTime()
	b.ResetTimer() // (which also drops metrics reported before it)
	for range b.N {
		cons := wrap(chosen)
		if err := e.Run(context.Background(), z, cons, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(z.Len()), "images")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(z.Len())*1000, "ms/image")
	b.ReportMetric((cpuTime()-cpu0)/float64(b.N)/float64(z.Len())*1000, "cpu-ms/image")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MiB") // Maxrss is in KiB on Linux
	}
}

// cpuTime is the process's user+system CPU seconds: on a shared machine it
// varies less than wall time.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func nop([]models.Layer) models.Consumer {
	return models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil })
}

// BenchmarkForwardOutput is the bare forward pass: final output only.
func BenchmarkForwardOutput(b *testing.B) { benchExtract(b, false, nop) }

// BenchmarkForwardAllLayers exposes all 245 layers, consumer does nothing.
func BenchmarkForwardAllLayers(b *testing.B) { benchExtract(b, true, nop) }

// BenchmarkAllLayersReduced is all 245 layers reduced on the fly: each
// layer wider than benchUnits keeps a seeded random subset of benchUnits
// units, then a Gaussian random projection (scoring/reduce) to benchK
// dimensions, in the streaming consumer.
func BenchmarkAllLayersReduced(b *testing.B) {
	benchExtractOpts(b, true, Options{}, func([]models.Layer) models.Consumer {
		return &activations.Reducing{Next: models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil }),
			New: activations.Subsampled(benchUnits, benchK, 1)}
	})
}

// BenchmarkAllLayersUnits is the same reduction with the units chosen by
// the extractor (Options.Units): layers that are elementwise functions of
// other layers are not exposed by the graph but computed at the kept
// units; the consumer projects.
func BenchmarkAllLayersUnits(b *testing.B) {
	o := Options{Units: activations.SubsampleUnits(benchUnits, 1), UnitsKey: "bench"}
	benchExtractOpts(b, true, o, func([]models.Layer) models.Consumer {
		return &activations.Reducing{Next: models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil }),
			New: activations.Subsampled(benchUnits, benchK, 1)}
	})
}

// BenchmarkAllLayersPooled is the in-graph pooling alone (consumer does
// nothing), to separate ONNX Runtime's cost from the Go reducers'.
func BenchmarkAllLayersPooled(b *testing.B) {
	benchExtractOpts(b, true, Options{PoolTo: benchPool}, nop)
}

// BenchmarkForwardPrefetch is the bare forward pass (final output only)
// with each batch's input prepared while the previous batch runs (issue
// 18), against the same pass preparing each batch before running it
// (Options.Serial, as before), alternately in the same run:
// prefetch/serial is the ratio of their wall times (< 1: faster).
func BenchmarkForwardPrefetch(b *testing.B) {
	z, r, c, layers := benchSetup(b)
	var err error
	var ex [2]*Extractor
	for i, o := range []Options{{Serial: true}, {}} {
		if ex[i], err = r.NewExtractor(c, models.MobileNetV2Float, outputLayers(layers), o); err != nil {
			b.Fatal(err)
		}
		defer ex[i].Close()
	}
	var took [2]time.Duration
	var cpu [2]float64
	b.ResetTimer()
	for range b.N {
		for i, e := range ex {
			t0, c0 := time.Now(), cpuTime()
			if err := e.Run(context.Background(), z, nop(nil), nil); err != nil {
				b.Fatal(err)
			}
			took[i] += time.Since(t0)
			cpu[i] += cpuTime() - c0
		}
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) / float64(z.Len()) * 1000 }
	b.ReportMetric(float64(z.Len()), "images")
	b.ReportMetric(per(took[0]), "serial-ms/image")
	b.ReportMetric(per(took[1]), "prefetch-ms/image")
	b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "prefetch/serial")
	b.ReportMetric(cpu[0]/took[0].Seconds(), "serial-cores")
	b.ReportMetric(cpu[1]/took[1].Seconds(), "prefetch-cores")
}

// BenchmarkAllLayersMemPattern is the pooled extraction of all layers (an
// RSA benchmark's candidates, in-graph pooling to benchPool values, the
// consumer doing nothing) without ONNX Runtime's memory pattern, as
// NewExtractor runs it, against the same with the pattern
// (Options.MemPattern, ONNX Runtime's default), each in its own session,
// the reference first, each session's peak resident memory measured from
// a reset high-water mark. Reported: ms/image of each, their ratio
// (< 1: faster without the pattern), and the peak of each in MiB; every
// value of every layer is checked to be the same bit for bit (a hash).
func BenchmarkAllLayersMemPattern(b *testing.B) {
	z, r, c, layers := benchSetup(b)
	chosen := perStimulus(layers)
	var took [2]time.Duration
	var peak [2]int64
	var sum [2]uint64 // FNV-1a of every value consumed, in order
	b.ResetTimer()
	// The reference first: memory it leaves behind (glibc's, ORT's
	// environment) counts against the variant measured second.
	for _, i := range []int{1, 0} {
		pattern := i == 1
		b.StopTimer()
		memstat.ResetPeak()
		e, err := r.NewExtractor(c, models.MobileNetV2Float, chosen, Options{PoolTo: benchPool, Overlap: true, MemPattern: pattern})
		if err != nil {
			b.Fatal(err)
		}
		h := uint64(14695981039346656037)
		keep := models.ConsumerFunc(func(_ context.Context, _ models.Layer, _ int, rows [][]float32) error {
			for _, row := range rows {
				for _, v := range row {
					h = (h ^ uint64(math.Float32bits(v))) * 1099511628211
				}
			}
			return nil
		})
		b.StartTimer()
		t0 := time.Now()
		for range b.N {
			if err := e.Run(context.Background(), z, keep, nil); err != nil {
				b.Fatal(err)
			}
		}
		took[i] = time.Since(t0)
		b.StopTimer()
		sum[i] = h
		peak[i] = memstat.Peak()
		e.Close()
	}
	if sum[0] != sum[1] {
		b.Fatalf("the layers' values differ with the memory pattern (FNV-1a %x against %x)", sum[1], sum[0])
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) / float64(z.Len()) * 1000 }
	b.ReportMetric(float64(z.Len()), "images")
	b.ReportMetric(per(took[0]), "ms/image")
	b.ReportMetric(per(took[1]), "pattern-ms/image")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "ratio")
	b.ReportMetric(float64(peak[0])/(1<<20), "peakRSS-MiB")
	b.ReportMetric(float64(peak[1])/(1<<20), "pattern-peakRSS-MiB")
}

// BenchmarkInnerLayerPruned is the extraction of one inner layer, as a
// private benchmark scores the layer committed on its public partner:
// alone, on the graph cut after the layer (onnxmodel.SetOutputs drops the
// nodes nothing fetched depends on), against the same layer extracted
// beside the model's output (every node runs, as before the cut) and the
// bare forward pass, in turn in the same run on the same images.
// CORTEXBENCH_BENCH_LAYER names the layer (default L167.Clip, the one
// cowley2023.V4 commits for MobileNetV2 in the main job). Reported:
// ms/image of each, pruned/whole, pruned/bare; the layer's values of the
// two must be the same bit for bit (a hash).
func BenchmarkInnerLayerPruned(b *testing.B) {
	z, r, c, layers := benchSetup(b)
	id := os.Getenv("CORTEXBENCH_BENCH_LAYER")
	if id == "" {
		id = "L167.Clip"
	}
	var ly models.Layer
	for _, l := range layers {
		if l.ID == id {
			ly = l
		}
	}
	if ly.ID == "" {
		b.Fatalf("MobileNetV2 has no layer %s", id)
	}
	out := outputLayers(layers)
	sets := [][]models.Layer{{ly}, append([]models.Layer{ly}, out...), out}
	var ex [3]*Extractor
	for i, s := range sets {
		var err error
		if ex[i], err = r.NewExtractor(c, models.MobileNetV2Float, s, Options{PoolTo: 4096, Overlap: true}); err != nil {
			b.Fatal(err)
		}
		defer ex[i].Close()
	}
	var took [3]time.Duration
	var sum [2]uint64 // FNV-1a of the layer's values, in order
	b.ResetTimer()
	for range b.N {
		for i, e := range ex {
			h := uint64(14695981039346656037)
			keep := models.ConsumerFunc(func(_ context.Context, l models.Layer, _ int, rows [][]float32) error {
				if l.ID != ly.ID {
					return nil
				}
				for _, row := range rows {
					for _, v := range row {
						h = (h ^ uint64(math.Float32bits(v))) * 1099511628211
					}
				}
				return nil
			})
			t0 := time.Now()
			if err := e.Run(context.Background(), z, keep, nil); err != nil {
				b.Fatal(err)
			}
			took[i] += time.Since(t0)
			if i < 2 {
				sum[i] = h
			}
		}
	}
	if sum[0] != sum[1] {
		b.Fatalf("%s's values differ on the cut graph (FNV-1a %x against %x)", ly.ID, sum[0], sum[1])
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) / float64(z.Len()) * 1000 }
	b.ReportMetric(float64(z.Len()), "images")
	b.ReportMetric(per(took[0]), "pruned-ms/image")
	b.ReportMetric(per(took[1]), "whole-ms/image")
	b.ReportMetric(per(took[2]), "bare-ms/image")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "pruned/whole")
	b.ReportMetric(took[0].Seconds()/took[2].Seconds(), "pruned/bare")
}
