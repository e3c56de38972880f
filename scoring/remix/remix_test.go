package remix

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/storage/npy"
)

func rows(x linalg.Matrix[float64], idx []int) linalg.Matrix[float64] {
	out := linalg.NewMatrix[float64](len(idx), x.Cols)
	for i, r := range idx {
		copy(out.Row(i), x.Row(r))
	}
	return out
}

// Reference: sklearn 1.2.1 RidgeClassifier.decision_function and scipy
// pdist on the 6×6 mean-RGB features of the Kriegeskorte 2008 stimuli
// (written by testdata/gen_advanced_reference.py), trained on the
// odd-numbered images and applied to the even-numbered ones, with the six
// category labels of stimuli.csv and with animate vs inanimate.
// Tolerance 1e-8 relative: the same ridge solve in a different order.
func TestKriegeskorteSklearn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "advanced", "remix.json"))
	if err != nil {
		t.Fatal(err)
	}
	type refCase struct {
		Labels         []int
		Alpha          float64
		Decision       [][]float64
		RDMEuclidean   []float64 `json:"rdm_euclidean"`
		RDMCorrelation []float64 `json:"rdm_correlation"`
	}
	var ref struct {
		Train, Test []int
		Categories  refCase
		Animate     refCase
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	fa, err := npy.ReadFile(filepath.Join("..", "testdata", "advanced", "fwrsa_features_kriegeskorte92.npy"))
	if err != nil {
		t.Fatal(err)
	}
	x := linalg.View(fa.Shape[0], fa.Shape[1], fa.Float64())
	train, test := rows(x, ref.Train), rows(x, ref.Test)
	near := func(what string, got, want float64) {
		if math.Abs(got-want) > 1e-8*max(1, math.Abs(want)) {
			t.Errorf("%s = %.12g, sklearn %.12g", what, got, want)
		}
	}
	for name, c := range map[string]refCase{"categories": ref.Categories, "animate": ref.Animate} {
		labels := make([]int, len(ref.Train))
		for i, r := range ref.Train {
			labels[i] = c.Labels[r]
		}
		for _, m := range []rdm.Metric{rdm.Euclidean, rdm.Correlation} {
			want := c.RDMEuclidean
			if m == rdm.Correlation {
				if c.RDMCorrelation == nil {
					continue
				}
				want = c.RDMCorrelation
			}
			res, err := Remix(train, labels, test, Config{Alpha: c.Alpha, Metric: m})
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range c.Decision {
				for k, w := range row {
					near(name+" decision", res.Decision.At(i, k), w)
				}
			}
			for p, w := range want {
				near(name+" "+string(m)+" RDM", res.RDM[p], w)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	x := linalg.NewMatrix[float64](4, 2)
	if _, err := Remix(x, []int{0, 1, 0}, x, Config{}); !errors.Is(err, ErrLabels) {
		t.Errorf("label count: %v", err)
	}
	if _, err := Remix(x, []int{3, 3, 3, 3}, x, Config{}); !errors.Is(err, ErrLabels) {
		t.Errorf("one class: %v", err)
	}
}

// BenchmarkLayers: for each of 245 layers (2000 float32 features), a
// 6-class ridge classifier trained on 600 separate images and applied to
// the 92 benchmark stimuli, then the remixed RDM.
func BenchmarkLayers(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 0))
	train := linalg.NewMatrix[float32](600, 2000)
	for i := range train.Data {
		train.Data[i] = float32(rng.NormFloat64())
	}
	test := linalg.NewMatrix[float32](92, 2000)
	for i := range test.Data {
		test.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, 600)
	for i := range labels {
		labels[i] = i % 6
	}
	for b.Loop() {
		for range 245 {
			if _, err := Remix(train, labels, test, Config{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
