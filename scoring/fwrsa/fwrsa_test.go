package fwrsa

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reweight"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/npy"
)

type refCell struct {
	Weights []float64
	Score   float64
}

// Reference: scipy pdist(sqeuclidean) per group and per sklearn PCA
// component, scipy.optimize.nnls and spearmanr (scipy 1.10.1, sklearn
// 1.2.1) on 6×6 mean-RGB features of the Kriegeskorte 2008 stimuli against
// its hIT subject RDMs (testdata/gen_advanced_reference.py).
// Groups (float64 throughout): components to 1e-12 relative, weights to
// 1e-7 relative, scores to 1e-9. Principal components: Go's PC scores are
// float32 (reduce.PCA), so components agree to 1e-4 relative, weights to
// 1e-3 relative and scores to 1e-3.
func TestKriegeskorteReference(t *testing.T) {
	dir := reftest.DataDir(t)
	b, err := os.ReadFile(filepath.Join("..", "testdata", "advanced", "fwrsa.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Groups        []int
		StimulusFolds []int       `json:"stimulus_folds"`
		CompFirst     [][]float64 `json:"components_first"`
		PCCompFirst   [][]float64 `json:"pc_components_first"`
		GroupsCV      []refCell   `json:"groups_cv"`
		PCsCV         []refCell   `json:"pcs_cv"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	fa, err := npy.ReadFile(filepath.Join("..", "testdata", "advanced", "fwrsa_features_kriegeskorte92.npy"))
	if err != nil {
		t.Fatal(err)
	}
	x := linalg.View(fa.Shape[0], fa.Shape[1], fa.Float64())
	hit := reftest.Uppers(t, filepath.Join(dir, "kriegeskorte2008-92", "rdms", "hIT_subject_rdms_sessionmean.npy"))
	cfg := reweight.Config{StimulusFolds: ref.StimulusFolds, Method: rsa.Spearman}

	check := func(name string, comps, first [][]float64, want []refCell, ctol, wtol, stol float64) {
		for g := range first {
			for p, w := range first[g] {
				if math.Abs(comps[g][p]-w) > ctol*max(math.Abs(w), 1e-3) {
					t.Fatalf("%s component %d pair %d = %.12g, scipy %.12g", name, g, p, comps[g][p], w)
				}
			}
		}
		res, err := CV(comps, hit, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var wmax float64
		for _, c := range want {
			for _, v := range c.Weights {
				wmax = max(wmax, v)
			}
		}
		for i, c := range res.Cells {
			for l, v := range c.Weights {
				if math.Abs(v-want[i].Weights[l]) > wtol*wmax {
					t.Errorf("%s cell %d weight %d = %.10g, scipy %.10g", name, i, l, v, want[i].Weights[l])
				}
			}
			if math.Abs(c.Score-want[i].Score) > stol {
				t.Errorf("%s cell %d score = %.12g, scipy %.12g", name, i, c.Score, want[i].Score)
			}
		}
		t.Logf("%s: %.4f ± %.4f (lower ceiling %.4f)", name, res.Mean, res.SE, res.CeilingLower)
	}
	comps, err := Components(x, ref.Groups)
	if err != nil {
		t.Fatal(err)
	}
	check("groups", comps, ref.CompFirst, ref.GroupsCV, 1e-12, 1e-7, 1e-9)
	pcs, err := PCComponents(x, 8)
	if err != nil {
		t.Fatal(err)
	}
	check("PCs", pcs, ref.PCCompFirst, ref.PCsCV, 1e-4, 1e-3, 1e-3)
}

func TestComponentsErrors(t *testing.T) {
	x := linalg.NewMatrix[float64](4, 3)
	if _, err := Components(x, []int{0, 1}); !errors.Is(err, ErrShape) {
		t.Errorf("short groups: %v", err)
	}
	if _, err := Components(x, []int{0, 2, 2}); !errors.Is(err, ErrShape) {
		t.Errorf("empty group 1: %v", err)
	}
	x.Data[5] = math.NaN()
	if _, err := Components(x, []int{0, 0, 1}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
}

// The weighted sum of group components is the squared Euclidean distance
// of features scaled by √w (by hand on a small case).
func TestComponentsAreWeightedDistances(t *testing.T) {
	x := linalg.View(3, 3, []float64{0, 1, 2, 1, 1, 0, 3, -1, 2})
	c, err := Components(x, []int{0, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	// pair (0,1): group 0 (0−1)² = 1; group 1 (1−1)² + (2−0)² = 4.
	if c[0][0] != 1 || c[1][0] != 4 {
		t.Errorf("pair (0,1) components %g %g, want 1 4", c[0][0], c[1][0])
	}
}

// BenchmarkPerLayer: for each of 245 layers (92 stimuli × 2000 float32
// features), 20 PC components and their cross-validated weighting (4
// stimulus folds × 15 held-out subjects).
func BenchmarkPerLayer(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 0))
	feat := linalg.NewMatrix[float32](92, 2000)
	for i := range feat.Data {
		feat.Data[i] = float32(rng.NormFloat64())
	}
	var subjects [][]float64
	for range 15 {
		v := make([]float64, 92*91/2)
		for i := range v {
			v[i] = rng.Float64()
		}
		subjects = append(subjects, v)
	}
	cfg := reweight.Config{StimulusFolds: reweight.KFold(92, 4, 1)}
	for b.Loop() {
		for range 245 {
			comps, err := PCComponents(feat, 20)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := CV(comps, subjects, cfg); err != nil {
				b.Fatal(err)
			}
		}
	}
}
