package rsa

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPreparedIsCompare: a prepared vector compared with many gives
// rsa.Compare's value bit for bit (issue 18: the bootstrap ranks the model
// RDM once for all subjects), ties and every method included, and the same
// errors.
func TestPreparedIsCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 18))
	for _, n := range []int{3, 50, 199, 200, 201, 1035, 4186} {
		a := make([]float64, n)
		for i := range a {
			a[i] = math.Round(r.NormFloat64()*8) / 8 // ties
		}
		for _, m := range []Method{Spearman, Pearson, KendallTauA} {
			p := Prepare(a, m)
			for k := 0; k < 3; k++ {
				b := make([]float64, n)
				for i := range b {
					b[i] = r.NormFloat64()
					if k == 1 {
						b[i] = math.Round(b[i] * 4)
					}
				}
				want, werr := Compare(a, b, m)
				got, gerr := p.Compare(b)
				if math.Float64bits(got) != math.Float64bits(want) || (werr == nil) != (gerr == nil) {
					t.Fatalf("n %d, %s, vector %d: prepared %v (%v), Compare %v (%v)", n, m, k, got, gerr, want, werr)
				}
			}
		}
	}
	a := []float64{1, 2, 3, 4}
	for _, c := range []struct {
		a, b []float64
		m    Method
		want error
	}{
		{a, []float64{1, 2, 3}, Spearman, ErrLength},
		{a, []float64{1, math.NaN(), 3, 4}, Spearman, ErrNonFinite},
		{a, []float64{2, 2, 2, 2}, Spearman, ErrConstant},
		{[]float64{5, 5, 5, 5}, a, Spearman, ErrConstant},
		{[]float64{1, math.Inf(1), 3, 4}, a, Spearman, ErrNonFinite},
		{[]float64{1, 2}, []float64{1, 2}, Spearman, ErrTooShort},
		{a, a, "cosine", ErrUnknownMethod},
	} {
		_, want := Compare(c.a, c.b, c.m)
		_, got := Prepare(c.a, c.m).Compare(c.b)
		if !errors.Is(got, c.want) || !errors.Is(want, c.want) || got.Error() != want.Error() {
			t.Errorf("Prepare(%v, %s).Compare(%v) = %v, Compare gives %v, want %v", c.a, c.m, c.b, got, want, c.want)
		}
	}
}
