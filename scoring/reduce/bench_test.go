package reduce

import (
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// A wide layer: 500 reference images × 50000 float32 features, 100
// components, then a mini-batch of 16 images transformed.
func BenchmarkPCA(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := linalg.NewMatrix[float32](500, 50000)
	for i := range x.Data {
		x.Data[i] = float32(max(r.NormFloat64(), 0)) // ReLU-like, offset
	}
	var p *PCA
	b.Run("fit", func(b *testing.B) {
		for b.Loop() {
			var err error
			if p, err = FitPCA(x, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transform16", func(b *testing.B) {
		dst := linalg.NewMatrix[float32](16, 100)
		for b.Loop() {
			p.Transform(dst, x.Slice(0, 16, 0, 50000))
		}
	})
	b.Run("randomprojection16", func(b *testing.B) {
		rp := NewRandomProjection(50000, 100, 1)
		dst := linalg.NewMatrix[float32](16, 100)
		for b.Loop() {
			rp.Transform(dst, x.Slice(0, 16, 0, 50000))
		}
	})
}
