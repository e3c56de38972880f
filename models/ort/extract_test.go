package ort

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/activations"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// checkConsumer checks that every layer arrives for every stimulus, once,
// in order, with the right width and finite values.
type checkConsumer struct {
	t      *testing.T
	widths map[string]int
	seen   map[string]int // layer → next stimulus expected
}

func (c *checkConsumer) Consume(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
	if c.seen[l.ID] != first {
		return fmt.Errorf("%s: batch at %d, want %d", l.ID, first, c.seen[l.ID])
	}
	c.seen[l.ID] = first + len(rows)
	for _, r := range rows {
		if len(r) != c.widths[l.ID] {
			return fmt.Errorf("%s: row of %d values, want %d", l.ID, len(r), c.widths[l.ID])
		}
		for _, v := range r {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: non-finite value %v", l.ID, v)
			}
		}
	}
	return nil
}

func extractAll(t *testing.T, r *Runtime, path string, spec models.Spec, stim models.Stimuli, wantLayers int) {
	t.Helper()
	c := loadModel(t, path)
	layers, err := r.Inspect(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	var chosen []models.Layer
	widths := map[string]int{}
	ids := map[string]bool{}
	for _, l := range layers {
		if ids[l.ID] {
			t.Fatalf("duplicate layer id %s", l.ID)
		}
		ids[l.ID] = true
		if l.Depth < 0 || l.Depth > 1 {
			t.Errorf("%s: depth %v outside [0,1]", l.ID, l.Depth)
		}
		if l.PerStimulus {
			chosen = append(chosen, l)
		}
	}
	if wantLayers > 0 && len(chosen) != wantLayers {
		t.Fatalf("%d per-stimulus layers of %d, want %d", len(chosen), len(layers), wantLayers)
	}
	if len(chosen) == 0 {
		t.Fatal("no per-stimulus layers")
	}
	e, err := r.NewExtractor(c, spec, chosen, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, l := range chosen {
		widths[l.ID] = -1
	}
	for i, l := range e.Layers() {
		widths[l.ID] = e.Widths()[i]
	}
	cons := &checkConsumer{t: t, widths: widths, seen: map[string]int{}}
	var last int
	err = e.Run(context.Background(), stim, cons, func(done, total int) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if last != stim.Len() {
		t.Errorf("progress ended at %d, want %d", last, stim.Len())
	}
	for _, l := range chosen {
		if cons.seen[l.ID] != stim.Len() {
			t.Errorf("%s: %d stimuli, want %d", l.ID, cons.seen[l.ID], stim.Len())
		}
	}
	outs := 0
	for _, l := range layers {
		if l.IsOutput {
			outs++
		}
	}
	if outs == 0 {
		t.Error("no layer marked as network output")
	}
	t.Logf("%s: %d layers, %d per-stimulus, batch %d, first %s %v, last %s %v", filepath.Base(path), len(layers), len(chosen), e.BatchSize(),
		chosen[0].ID, chosen[0].Shape, chosen[len(chosen)-1].ID, chosen[len(chosen)-1].Shape)
}

func algonauts(t *testing.T, shared string) preprocess.Files {
	dir := filepath.Join(shared, "datasets", "algonauts2019-92", "stimuli")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("Algonauts stimuli not found: %v", err)
	}
	var files preprocess.Files
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jpg") || strings.HasSuffix(e.Name(), ".png") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files
}

// All 245 node outputs of the float32 MobileNetV2 come out for the 92
// Algonauts images (shared/models/README.md: 245 nodes).
func TestExtractMobileNetV2AllLayersAlgonauts(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)
	if len(files) != 92 {
		t.Fatalf("%d Algonauts images, want 92", len(files))
	}
	extractAll(t, runtime(t), filepath.Join(shared, "models", "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx"),
		models.MobileNetV2Float, files, 245)
}

// The uint8 MobileNetV1 has a fixed batch of 1, uint8 input and uint8
// output; every layer still comes out as float32.
func TestExtractMobileNetV1Uint8FixedBatch(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:5]
	extractAll(t, runtime(t), filepath.Join(shared, "models", "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_uint8.onnx"),
		models.MobileNetV1Uint8, files, 0)
}

// Every architecture in shared/models/architectures is enumerated and
// runs with all its per-stimulus node outputs exposed.
func TestExtractArchitectures(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:1]
	paths, _ := filepath.Glob(filepath.Join(shared, "models", "architectures", "*.onnx"))
	if len(paths) == 0 {
		t.Skip("no architectures")
	}
	r := runtime(t)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			extractAll(t, r, p, models.ImageNetNCHW, files, 0)
		})
	}
}

// Cancelling the context stops extraction with the context's error, and
// a consumer's error stops it with that error; both with and without
// overlapped consumption.
func TestExtractCancel(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:40]
	r := runtime(t)
	c, layers := mobileNetV2(t, shared)
	for _, o := range []Options{{}, {Overlap: true}} {
		e, err := r.NewExtractor(c, models.MobileNetV2Float, outputLayers(layers), o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var batches int
		err = e.Run(ctx, files, models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error {
			batches++
			cancel()
			return nil
		}), nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%+v: err = %v, want context.Canceled", o, err)
		}
		if batches > 2 {
			t.Errorf("%+v: %d batches consumed after cancel, want at most 2", o, batches)
		}
		boom := errors.New("consumer failed")
		err = e.Run(context.Background(), files, models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return boom }), nil)
		if !errors.Is(err, boom) {
			t.Errorf("%+v: err = %v, want the consumer's error", o, err)
		}
		// The extractor is usable again with a live context.
		var col models.Collector
		if err := e.Run(context.Background(), files[:3], &col, nil); err != nil {
			t.Fatal(err)
		}
		if len(col.Rows) != 3 {
			t.Errorf("%d rows, want 3", len(col.Rows))
		}
	}
}

// The whole reduced pipeline on the real network: all 245 layers pooled
// in the graph to at most 4096 values, 1024 of them kept (Subsample),
// then PCA fitted on reference images (Algonauts images 0–23), applied to
// 8 other images, stored in a cache.
func TestReducedPipelineMobileNetV2(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)
	ref, stim := files[:24], files[24:32]
	r := runtime(t)
	c, layers := mobileNetV2(t, shared)
	chosen := perStimulus(layers)
	opts := Options{PoolTo: 4096}
	e, err := r.NewExtractor(c, models.MobileNetV2Float, chosen, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	const k = 10
	fits, err := activations.FitPCA(ctx, e, ref, activations.Subsampled(1024, 0, 1), k)
	if err != nil {
		t.Fatal(err)
	}
	store := &models.MemStore{}
	key := func(l models.Layer) activations.Key {
		return activations.Key{Model: c.SHA256, Stimuli: activations.StimulusSetHash(stim), Layer: l.ID,
			Preprocess: models.MobileNetV2Float.String(), Reduction: opts.Reduction() + "+sample1024-seed1+pca10-ref-algonauts0-23"}
	}
	cache := &activations.Caching{Store: store, Key: key, Total: len(stim)}
	if err := e.Run(ctx, stim, &activations.Reducing{Next: cache, New: activations.Fixed(fits)}, nil); err != nil {
		t.Fatal(err)
	}
	if store.Len() != len(chosen) {
		t.Fatalf("%d layers cached, want %d", store.Len(), len(chosen))
	}
	for _, l := range chosen {
		rows, cols, data, err := activations.Load(ctx, store, key(l))
		if err != nil {
			t.Fatal(err)
		}
		if rows != len(stim) || cols > 4096 || (l.Features() > k && cols != k) {
			t.Errorf("%s (%d features): cached %d×%d", l.ID, l.Features(), rows, cols)
		}
		for _, v := range data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite", l.ID)
			}
		}
	}
}
