package reweight

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// synthetic returns nl layer RDM vectors and ns subject RDM vectors on n
// stimuli: layers are smooth mixtures of 6 random base RDMs plus noise (so
// neighbouring layers are strongly correlated, as in a real network), and
// subjects mix a few of the same bases with more noise.
func synthetic(n, nl, ns int, seed uint64) (layers, subjects [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	m := n * (n - 1) / 2
	base := make([][]float64, 6)
	for b := range base {
		base[b] = make([]float64, m)
		for i := range base[b] {
			base[b][i] = math.Abs(rng.NormFloat64())
		}
	}
	mix := func(c []float64, noise float64) []float64 {
		v := make([]float64, m)
		for i := range v {
			for b, cb := range c {
				v[i] += cb * base[b][i]
			}
			v[i] += noise * math.Abs(rng.NormFloat64())
		}
		return v
	}
	for l := 0; l < nl; l++ {
		t := float64(l) / float64(nl)
		c := make([]float64, len(base))
		for b := range c {
			c[b] = math.Exp(-math.Pow((t-float64(b)/5)*4, 2))
		}
		layers = append(layers, mix(c, 0.3))
	}
	for s := 0; s < ns; s++ {
		subjects = append(subjects, mix([]float64{0.2, 0.5, 1, 0.3, 0, 0}, 1.5))
	}
	return layers, subjects
}

// BenchmarkPlainRSA is the yardstick: every layer against every subject,
// the work of the basic RSA benchmark.
func BenchmarkPlainRSA(b *testing.B) {
	layers, subjects := synthetic(92, 245, 15, 1)
	for b.Loop() {
		for _, l := range layers {
			for _, s := range subjects {
				if _, err := rsa.Compare(l, s, rsa.Spearman); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkCV: 245 layers, 15 subjects (leave one out), 4 stimulus folds,
// 92 stimuli: 60 NNLS fits over 245 columns.
func BenchmarkCV(b *testing.B) {
	layers, subjects := synthetic(92, 245, 15, 1)
	folds := KFold(92, 4, 1)
	for b.Loop() {
		if _, err := CV(layers, subjects, Config{StimulusFolds: folds}); err != nil {
			b.Fatal(err)
		}
	}
}
