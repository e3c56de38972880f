package decode

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/storage/npy"
)

type refTargets struct {
	R         []float64
	FoldR     [][]float64 `json:"fold_r"`
	FoldAlpha [][]float64 `json:"fold_alpha"`
	Pred      [][]float64 `json:"pred_first_rows"`
}

// Reference: sklearn 1.2.1 RidgeCV(alpha_per_target=True) on each outer
// fold (the same fold array), Cowley 2023 V4 session 210305 responses →
// 8×8 grey pixel features of its images, and their 10 sklearn PCA
// components (testdata/gen_advanced_reference.py). Pixel targets (float64
// throughout): penalties equal, r and predictions to 1e-8 relative. PC
// targets go through reduce.PCA's float32 scores: r to 1e-5 (float32
// rounding of the targets), compared as |r| is sign-free anyway since a
// component's sign is arbitrary and r is invariant to it.
func TestCowleySklearn(t *testing.T) {
	dir := reftest.DataDir(t)
	b, err := os.ReadFile(filepath.Join("..", "testdata", "advanced", "decode.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Folds  []int
		Pixels refTargets
		PCs    refTargets `json:"pcs"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	ra, err := npy.ReadFile(filepath.Join(dir, "cowley2023-v4", "responses_repeat_averaged", "responses_210305.npy"))
	if err != nil {
		t.Fatal(err)
	}
	nn, ni := ra.Shape[0], ra.Shape[1]
	brain := linalg.NewMatrix[float64](ni, nn)
	for i, v := range ra.Float64() {
		brain.Data[(i%ni)*nn+i/ni] = v
	}
	fa, err := npy.ReadFile(filepath.Join("..", "testdata", "advanced", "decode_pixels_210305.npy"))
	if err != nil {
		t.Fatal(err)
	}
	feat := linalg.View(fa.Shape[0], fa.Shape[1], fa.Float64())
	rc := ridge.Config{FoldOf: ref.Folds, Float64Selection: true}

	res, err := CV(brain, feat, Config{Ridge: rc})
	if err != nil {
		t.Fatal(err)
	}
	for j, w := range ref.Pixels.R {
		if math.Abs(res.Ridge.R[j]-w) > 1e-8*max(1, math.Abs(w)) {
			t.Errorf("pixel %d r = %.12g, sklearn %.12g", j, res.Ridge.R[j], w)
		}
		for f := range ref.Pixels.FoldAlpha {
			if res.Ridge.FoldAlpha[f][j] != ref.Pixels.FoldAlpha[f][j] {
				t.Errorf("pixel %d fold %d alpha %g, sklearn %g", j, f, res.Ridge.FoldAlpha[f][j], ref.Pixels.FoldAlpha[f][j])
			}
			if math.Abs(res.Ridge.FoldR[f][j]-ref.Pixels.FoldR[f][j]) > 1e-8 {
				t.Errorf("pixel %d fold %d r %.12g, sklearn %.12g", j, f, res.Ridge.FoldR[f][j], ref.Pixels.FoldR[f][j])
			}
		}
	}
	for i, row := range ref.Pixels.Pred {
		for j, w := range row {
			if g := res.Ridge.Predictions.At(i, j); math.Abs(g-w) > 1e-8*max(1, math.Abs(w)) {
				t.Errorf("prediction (%d,%d) = %.12g, sklearn %.12g", i, j, g, w)
			}
		}
	}

	pc, err := CV(brain, feat, Config{Components: 10, Ridge: rc})
	if err != nil {
		t.Fatal(err)
	}
	for j, w := range ref.PCs.R {
		if math.Abs(pc.Ridge.R[j]-w) > 1e-5 {
			t.Errorf("PC %d r = %.9g, sklearn %.9g", j, pc.Ridge.R[j], w)
		}
	}
	t.Logf("pixels median r %.4f; PCs r %.3f", res.Ridge.Median, pc.Ridge.R)
}

func TestShapeError(t *testing.T) {
	x := linalg.NewMatrix[float64](10, 3)
	y := linalg.NewMatrix[float64](9, 3)
	if _, err := CV(x, y, Config{Ridge: ridge.Config{Folds: 2}}); err == nil {
		t.Error("mismatched stimuli accepted")
	}
}

// BenchmarkLayers: decoding the first 20 PCs of each of 245 layers
// (92 stimuli × 2000 features each, float32) from 92 × 300 brain
// responses, 5 folds, the default 19 penalties.
func BenchmarkLayers(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 0))
	brain := linalg.NewMatrix[float64](92, 300)
	for i := range brain.Data {
		brain.Data[i] = rng.NormFloat64()
	}
	feat := linalg.NewMatrix[float32](92, 2000)
	for i := range feat.Data {
		feat.Data[i] = float32(rng.NormFloat64())
	}
	for b.Loop() {
		for range 245 {
			if _, err := CV(brain, feat, Config{Components: 20, Ridge: ridge.Config{Folds: 5, Seed: 1}}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLayersStacked: the same work with the 245 layers' PC scores
// stacked into one 92 × 4900 target matrix and one CV call.
func BenchmarkLayersStacked(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 0))
	brain := linalg.NewMatrix[float64](92, 300)
	for i := range brain.Data {
		brain.Data[i] = rng.NormFloat64()
	}
	feat := linalg.NewMatrix[float32](92, 2000)
	for i := range feat.Data {
		feat.Data[i] = float32(rng.NormFloat64())
	}
	for b.Loop() {
		stacked := linalg.NewMatrix[float64](92, 245*20)
		for l := range 245 {
			pcs, _, err := PCScores(feat, 20)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 92; i++ {
				copy(stacked.Row(i)[l*20:(l+1)*20], pcs.Row(i))
			}
		}
		if _, err := CV(brain, stacked, Config{Ridge: ridge.Config{Folds: 5, Seed: 1}}); err != nil {
			b.Fatal(err)
		}
	}
}
