package ort

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// keyedFiles are image files with a content key (as the runner's
// benchmark images), counting decodings; cancelAt, when positive, cancels
// cancel on decoding that image.
type keyedFiles struct {
	preprocess.Files
	decoded  atomic.Int64
	cancelAt int
	cancel   context.CancelFunc
}

func (k *keyedFiles) Key() string { return "test-files-" + filepath.Base(k.Files[0]) }
func (k *keyedFiles) Image(ctx context.Context, i int) (image.Image, error) {
	k.decoded.Add(1)
	if k.cancelAt > 0 && i == k.cancelAt {
		k.cancel()
	}
	return k.Files.Image(ctx, i)
}

func rowsOf(t *testing.T, e *Extractor, stim models.Stimuli) map[string][][]float32 {
	t.Helper()
	var col collect = map[string][][]float32{}
	if err := e.Run(context.Background(), stim, col, nil); err != nil {
		t.Fatal(err)
	}
	return col
}

func sameRows(t *testing.T, what string, got, want map[string][][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d layers, want %d", what, len(got), len(want))
	}
	for id, w := range want {
		g := got[id]
		if len(g) != len(w) {
			t.Fatalf("%s: layer %s: %d rows, want %d", what, id, len(g), len(w))
		}
		for i := range w {
			for j := range w[i] {
				if math.Float32bits(g[i][j]) != math.Float32bits(w[i][j]) {
					t.Fatalf("%s: layer %s stimulus %d value %d: %v, want %v", what, id, i, j, g[i][j], w[i][j])
				}
			}
		}
	}
}

// Issue 18: the activations are bit-identical whether batches are
// prepared before each run (Serial, as before) or prefetched while the
// previous batch runs, and whether the pixels come from decoding or from
// the run's pixel cache (a second model of the same geometry, here the
// float and uint8 MobileNetV2 would share it; the same file twice here).
func TestExtractPrefetchAndPixelCacheIdentical(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:21] // 2 batches of 16 (the second short)
	r := runtime(t)
	c, layers := mobileNetV2(t, shared)
	chosen := outputLayers(layers)
	for _, l := range perStimulus(layers) {
		if l.ID == "L005.Conv" || l.Features() == 32*112*112 {
			chosen = append(chosen, l) // an early, large layer: the pixels show there
			break
		}
	}
	newEx := func(rt *Runtime, o Options) *Extractor {
		e, err := rt.NewExtractor(c, models.MobileNetV2Float, chosen, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	want := rowsOf(t, newEx(r, Options{Serial: true}), files)
	sameRows(t, "prefetched", rowsOf(t, newEx(r, Options{}), files), want)
	sameRows(t, "prefetched, overlapped", rowsOf(t, newEx(r, Options{Overlap: true}), files), want)

	pc, err := preprocess.OpenPixelCache(filepath.Join(t.TempDir(), "pixels"), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.Use(models.MobileNetV2Float)
	pc.Use(models.MobileNetV2Float)
	withCache := &Runtime{cfg: r.cfg}
	withCache.SetPixelCache(pc)
	stim := &keyedFiles{Files: files}
	sameRows(t, "first model (writes the pixels)", rowsOf(t, newEx(withCache, Options{}), stim), want)
	if n := stim.decoded.Load(); n != int64(len(files)) {
		t.Errorf("first model decoded %d images, want %d", n, len(files))
	}
	stim.decoded.Store(0)
	sameRows(t, "second model (reads them)", rowsOf(t, newEx(withCache, Options{Overlap: true}), stim), want)
	if n := stim.decoded.Load(); n != 0 {
		t.Errorf("second model decoded %d images, want 0", n)
	}
	if st := pc.Stats(); st.Hits != int64(len(files)) || st.Written != int64(len(files)) {
		t.Errorf("pixel cache stats %+v", st)
	}
}

// Cancelling in the middle of a prefetch (while the producer decodes the
// next batch) stops Run with the context's error and leaves no goroutine
// behind; the extractor is usable again afterwards.
func TestExtractCancelMidPrefetch(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:40]
	r := runtime(t)
	c, layers := mobileNetV2(t, shared)
	for _, o := range []Options{{}, {Overlap: true}} {
		e, err := r.NewExtractor(c, models.MobileNetV2Float, outputLayers(layers), o)
		if err != nil {
			t.Fatal(err)
		}
		base := goruntime.NumGoroutine()
		for _, at := range []int{3, 20, 35} { // first batch, second, third
			ctx, cancel := context.WithCancel(context.Background())
			stim := &keyedFiles{Files: files, cancelAt: at, cancel: cancel}
			err = e.Run(ctx, stim, models.ConsumerFunc(func(context.Context, models.Layer, int, [][]float32) error { return nil }), nil)
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%+v, cancelled at image %d: err = %v, want context.Canceled", o, at, err)
			}
			if n := stim.decoded.Load(); n > int64(at)+1 {
				t.Errorf("%+v: %d images decoded after cancelling at image %d", o, n, at)
			}
			// Run waits for its goroutines; allow the runtime a moment to
			// retire the exited ones from the count.
			deadline := time.Now().Add(2 * time.Second)
			for goruntime.NumGoroutine() > base && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := goruntime.NumGoroutine(); n > base {
				buf := make([]byte, 1<<16)
				t.Fatalf("%+v, cancelled at image %d: %d goroutines, %d before Run:\n%s", o, at, n, base, buf[:goruntime.Stack(buf, true)])
			}
		}
		var col models.Collector
		if err := e.Run(context.Background(), files[:3], &col, nil); err != nil {
			t.Fatal(err)
		}
		if len(col.Rows) != 3 {
			t.Errorf("%d rows, want 3", len(col.Rows))
		}
		e.Close()
	}
}

// Stop 26 of issue 18: with inner layers exposed the session runs without
// ONNX Runtime's memory pattern, and every value of every layer (all
// per-stimulus layers, in-graph pooled as the runner asks, over two
// batches and a short third) is the same as with the pattern. The bare
// pass (outputs only) keeps the pattern.
func TestExtractWithoutMemPatternIdentical(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:10]
	r := runtime(t)
	c, layers := mobileNetV2(t, shared)
	chosen := perStimulus(layers)
	if !exposesInner(chosen) || exposesInner(outputLayers(layers)) {
		t.Fatalf("inner layers exposed: all per-stimulus %v, outputs only %v; want true, false", exposesInner(chosen), exposesInner(outputLayers(layers)))
	}
	rows := make([]map[string][][]float32, 2)
	for i, pattern := range []bool{true, false} {
		e, err := r.NewExtractor(c, models.MobileNetV2Float, chosen, Options{PoolTo: 4096, Overlap: true, MemPattern: pattern})
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = rowsOf(t, e, files)
		e.Close()
	}
	sameRows(t, "without the memory pattern", rows[1], rows[0])
}
