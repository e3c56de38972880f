package ort

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
)

// foldSets are layer sets the runner asks for: the model's output (the
// bare passes), one committed inner layer (cowley2023.V4's L167.Clip in
// the main job), and 20 layers evenly spaced in depth (as an encoding
// benchmark's candidates), each pooled to 4096 values as the runner does.
func foldSets(layers []models.Layer) map[string][]models.Layer {
	per := perStimulus(layers)
	var spaced []models.Layer
	for k := range 20 {
		spaced = append(spaced, per[(2*k+1)*len(per)/40])
	}
	var committed []models.Layer
	for _, l := range layers {
		if l.ID == "L167.Clip" {
			committed = append(committed, l)
		}
	}
	return map[string][]models.Layer{"output": outputLayers(layers), "L167.Clip": committed, "spaced20": spaced}
}

// layerHashes runs e over z and returns an FNV-1a hash of each layer's
// values in order. A zero counts as +0: the fused clamp and a separate
// node may give a zero either sign, which no score can tell apart.
func layerHashes(t testing.TB, e *Extractor, z models.Stimuli) map[string]uint64 {
	t.Helper()
	h := map[string]uint64{}
	keep := models.ConsumerFunc(func(_ context.Context, l models.Layer, _ int, rows [][]float32) error {
		s, ok := h[l.ID]
		if !ok {
			s = 14695981039346656037
		}
		for _, row := range rows {
			for _, v := range row {
				if v == 0 {
					v = 0
				}
				s = (s ^ uint64(math.Float32bits(v))) * 1099511628211
			}
		}
		h[l.ID] = s
		return nil
	})
	if err := e.Run(context.Background(), z, keep, nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// Extraction folds chains of clamping nodes (onnxmodel.SetOutputs) and
// must hand out the same values as the graph as given, for every layer
// set the runner uses. Without the rule that a folded chain must end in a
// convolution, MobileNetV2's output differed here: the folded graph ran
// its last GlobalAveragePool in ONNX Runtime's blocked layout, which sums
// in another order.
func TestFoldedClampsSameValues(t *testing.T) {
	shared := sharedDir(t)
	c, layers := mobileNetV2(t, shared)
	z := cowley(t)
	defer z.Close()
	z.Limit(12)
	r := runtime(t)
	for name, set := range foldSets(layers) {
		if len(set) == 0 {
			t.Fatalf("%s: no layers", name)
		}
		var got [2]map[string]uint64
		for i, asGiven := range []bool{true, false} {
			e, err := r.NewExtractor(c, models.MobileNetV2Float, set, Options{PoolTo: 4096, AsGiven: asGiven})
			if err != nil {
				t.Fatal(err)
			}
			got[i] = layerHashes(t, e, z)
			e.Close()
		}
		if len(got[0]) != len(set) {
			t.Fatalf("%s: %d layers handed out, want %d", name, len(got[0]), len(set))
		}
		for _, l := range set {
			if got[0][l.ID] != got[1][l.ID] {
				t.Errorf("%s: layer %s differs with the clamping chains folded", name, l.ID)
			}
		}
	}
}

// BenchmarkFoldedClamps times MobileNetV2 on the Cowley session's images
// (CORTEXBENCH_BENCH_IMAGES limits them) with the graph as given and with
// its clamping chains folded, in turn, for the layer sets of foldSets
// (CORTEXBENCH_BENCH_SET picks one). It reports ms/image of both and
// their ratio, and fails when any layer's values differ.
func BenchmarkFoldedClamps(b *testing.B) {
	z, r, c, layers := benchSetup(b)
	for name, set := range foldSets(layers) {
		if s := os.Getenv("CORTEXBENCH_BENCH_SET"); s != "" && !strings.EqualFold(s, name) {
			continue
		}
		b.Run(name, func(b *testing.B) {
			var ex [2]*Extractor
			for i := range ex {
				var err error
				if ex[i], err = r.NewExtractor(c, models.MobileNetV2Float, set, Options{PoolTo: 4096, Overlap: true, AsGiven: i == 0}); err != nil {
					b.Fatal(err)
				}
				defer ex[i].Close()
			}
			layerHashes(b, ex[0], z) // warm both sessions up
			layerHashes(b, ex[1], z)
			var took [2]time.Duration
			var sums [2]map[string]uint64
			b.ResetTimer()
			for range b.N {
				for i, e := range ex {
					t0 := time.Now()
					sums[i] = layerHashes(b, e, z)
					took[i] += time.Since(t0)
				}
			}
			for _, l := range set {
				if sums[0][l.ID] != sums[1][l.ID] {
					b.Fatalf("layer %s differs with the clamping chains folded", l.ID)
				}
			}
			per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) / float64(z.Len()) * 1000 }
			b.ReportMetric(float64(z.Len()), "images")
			b.ReportMetric(per(took[0]), "asgiven-ms/image")
			b.ReportMetric(per(took[1]), "folded-ms/image")
			b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "folded/asgiven")
		})
	}
}
