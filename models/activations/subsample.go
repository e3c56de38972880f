package activations

import (
	"math/rand/v2"
	"slices"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
)

// RowTransformer is an optional extra of a reduce.Reducer: it reduces rows
// that are not one contiguous matrix (the extractor's per-stimulus rows),
// so Reducing need not copy them first.
type RowTransformer interface {
	TransformRows(dst linalg.Matrix[float32], rows [][]float32)
}

// Subsample keeps a fixed, seeded random subset of k of a layer's units,
// in increasing order. It is the sparsest random projection (one unit per
// output) and costs O(k) per stimulus: it reads only the units it keeps,
// which is what makes all-layer extraction of a wide network affordable
// (MobileNetV2's 245 layers are ~33 M values per image; reading them all
// once costs as much as the forward pass itself).
type Subsample struct {
	in  int
	idx []int
}

// NewSubsample draws k of in units with a PCG seeded by seed.
func NewSubsample(in, k int, seed uint64) *Subsample {
	if k < 1 || k > in {
		panic("activations: NewSubsample needs 1 ≤ k ≤ in")
	}
	// Floyd's algorithm: O(k) draws whatever in is.
	rng := rand.New(rand.NewPCG(seed, 0x5ab5a3b1e))
	chosen := make(map[int]bool, k)
	idx := make([]int, 0, k)
	for j := in - k; j < in; j++ {
		t := rng.IntN(j + 1)
		if chosen[t] {
			t = j
		}
		chosen[t] = true
		idx = append(idx, t)
	}
	slices.Sort(idx)
	return &Subsample{in: in, idx: idx}
}

// OutDim is k.
func (s *Subsample) OutDim() int { return len(s.idx) }

// Units are the kept unit indices, increasing.
func (s *Subsample) Units() []int { return s.idx }

// Transform keeps the chosen columns of x.
func (s *Subsample) Transform(dst, x linalg.Matrix[float32]) {
	if x.Cols != s.in || dst.Rows != x.Rows || dst.Cols != len(s.idx) {
		panic("activations: Subsample.Transform shape mismatch")
	}
	for i := range x.Rows {
		gather(dst.Row(i), x.Row(i), s.idx)
	}
}

// TransformRows keeps the chosen units of each row.
func (s *Subsample) TransformRows(dst linalg.Matrix[float32], rows [][]float32) {
	if dst.Rows != len(rows) || dst.Cols != len(s.idx) {
		panic("activations: Subsample.TransformRows shape mismatch")
	}
	for i, r := range rows {
		if len(r) != s.in {
			panic("activations: Subsample.TransformRows row width mismatch")
		}
		gather(dst.Row(i), r, s.idx)
	}
}

func gather(dst, src []float32, idx []int) {
	for j, k := range idx {
		dst[j] = src[k]
	}
}

// Subsampled reduces every layer wider than units by Subsample (seeded by
// seed and the layer index), then, when k > 0 and k < units, projects the
// kept units to k with a Gaussian random projection (scoring/reduce).
// Layers no wider than units go straight to the projection (or through).
func Subsampled(units, k int, seed uint64) Factory {
	return func(l models.Layer, features int) (reduce.Reducer, error) {
		var chain Chain
		width := features
		if features > units {
			chain = append(chain, NewSubsample(features, units, subsampleSeed(seed, l)))
			width = units
		}
		if k > 0 && width > k {
			// Seeded by the layer, not by its width: the same projection
			// whether the units were kept here or by the extractor.
			chain = append(chain, reduce.NewRandomProjection(width, k, seed^uint64(l.Index)*0xbf58476d1ce4e5b9+1))
		}
		switch len(chain) {
		case 0:
			return nil, nil
		case 1:
			return chain[0], nil
		}
		return chain, nil
	}
}

func subsampleSeed(seed uint64, l models.Layer) uint64 {
	return seed ^ uint64(l.Index)*0x9e3779b97f4a7c15
}

// SubsampleUnits is, for ort.Options.Units, the units Subsampled(units, …,
// seed) keeps of every layer wider than units (nil for the others): with
// it the extractor hands out only those units, Subsampled then sees layers
// no wider than units and goes straight to the projection, and the result
// is the same as subsampling here. Layers of unknown size are left whole.
func SubsampleUnits(units int, seed uint64) func(l models.Layer) []int {
	return func(l models.Layer) []int {
		f := l.Features()
		if f <= int64(units) {
			return nil
		}
		return NewSubsample(int(f), units, subsampleSeed(seed, l)).Units()
	}
}
