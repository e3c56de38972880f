package rsa

import (
	"math"
	"math/rand/v2"
	"testing"
)

type visited struct {
	i int32
	r float64
}

// TestRankDrawnIsRankEach: ranking a vector drawn from a set by counting
// over the set's order (rankDrawn, issue 18's bootstrap) visits the very
// ranks, in the very order, that rankEach does on the vector itself, so
// Spearman's sums are the same bit for bit. The cases: resampled RDMs
// (pairs of a stimulus drawn several times repeat a value up to ~25
// times), values a few ulps apart beside a far one (runs of equal 32-bit
// keys longer than 12, holding several values: rankEach gives them to
// slices.SortFunc's pdqsort), signed zeros, ties, and short vectors.
func TestRankDrawnIsRankEach(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 4))
	sets := map[string]func() []float64{
		"rdm": func() []float64 {
			v := make([]float64, 1035)
			for i := range v {
				v[i] = 0.2 + r.Float64()
			}
			return v
		},
		"ulps apart, one far": func() []float64 {
			v := make([]float64, 60)
			for i := range v {
				v[i] = math.Nextafter(1, 2) + float64(r.IntN(20))*0x1p-52
			}
			v[0] = 1e300
			return v
		},
		"signed zeros and ties": func() []float64 {
			v := make([]float64, 40)
			for i := range v {
				switch i % 4 {
				case 0:
					v[i] = math.Copysign(0, -1)
				case 1:
					v[i] = 0
				default:
					v[i] = float64(r.IntN(5)) - 2
				}
			}
			return v
		},
	}
	var sc rankScratch
	var ds DrawnScratch
	cases := 0
	for name, gen := range sets {
		for trial := range 300 {
			vals := gen()
			set := NewDrawnSet(vals)
			n := 3 + r.IntN(2000)
			if trial%3 == 0 {
				n = 3 + r.IntN(30)
			}
			codes := make([]int32, n)
			// as a resample draws them: a few codes many times
			hot := int32(r.IntN(len(vals)))
			for i := range codes {
				if r.IntN(4) == 0 {
					codes[i] = hot
				} else {
					codes[i] = int32(r.IntN(len(vals)))
				}
			}
			x := set.Values(nil, codes)
			var want, got []visited
			rankEach(x, &sc, func(i int32, r float64) { want = append(want, visited{i, r}) })
			rankDrawn(set, codes, &ds, func(i int32, r float64) { got = append(got, visited{i, r}) })
			if len(got) != len(want) {
				t.Fatalf("%s, trial %d: %d visits, rankEach %d", name, trial, len(got), len(want))
			}
			for q := range want {
				if got[q] != want[q] {
					t.Fatalf("%s, trial %d (n %d): visit %d is %+v, rankEach %+v", name, trial, n, q, got[q], want[q])
				}
			}
			// and Compare through a Prepared a
			a := make([]float64, n)
			for i := range a {
				a[i] = r.NormFloat64()
			}
			p := Prepare(a, Spearman)
			w, errW := p.Compare(x)
			g, errG := p.CompareDrawn(set, codes, &ds)
			if math.Float64bits(w) != math.Float64bits(g) || (errW == nil) != (errG == nil) {
				t.Fatalf("%s, trial %d: CompareDrawn %v (%v), Compare %v (%v)", name, trial, g, errG, w, errW)
			}
			// and the ranks PrepareDrawn gives a drawn vector
			pd, pv := PrepareDrawn(set, codes, Spearman), Prepare(x, Spearman)
			for i := range pv.ra {
				if pd.ra[i] != pv.ra[i] {
					t.Fatalf("%s, trial %d: PrepareDrawn rank %d is %v, Prepare %v", name, trial, i, pd.ra[i], pv.ra[i])
				}
			}
			cases++
		}
	}
	t.Logf("%d drawn vectors ranked as rankEach ranks them", cases)
}

// TestCompareDrawnOtherMethods: Pearson and Kendall, and a set with a
// non-finite value, go through Compare on the drawn values.
func TestCompareDrawnOtherMethods(t *testing.T) {
	vals := []float64{0.5, 0.1, 0.9, 0.3, math.NaN()}
	set := NewDrawnSet(vals)
	codes := []int32{0, 1, 2, 3, 1, 2}
	x := set.Values(nil, codes)
	a := []float64{1, 2, 3, 4, 5, 7}
	var ds DrawnScratch
	for _, m := range []Method{Pearson, KendallTauA, Spearman} {
		p := Prepare(a, m)
		w, errW := p.Compare(x)
		g, errG := p.CompareDrawn(set, codes, &ds)
		if math.Float64bits(w) != math.Float64bits(g) || (errW == nil) != (errG == nil) {
			t.Errorf("%s: CompareDrawn %v (%v), Compare %v (%v)", m, g, errG, w, errW)
		}
	}
	// the NaN drawn: the error Compare gives
	codes = append(codes, 4)
	p := Prepare(append(a, 8), Spearman)
	if _, err := p.CompareDrawn(set, codes, &ds); err == nil {
		t.Error("a drawn NaN compared without an error")
	}
}
