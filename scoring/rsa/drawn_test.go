package rsa

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRankDrawnIsRankEach: ranking a vector drawn from a set by counting
// over the set's order (rankDrawn, issue 18's bootstrap) gives every entry
// the very rank rankEach gives it on the vector itself (visited in
// position order, not sorted order), and Spearman through it, or through
// the drawn vector's distinct codes weighted by their counts
// (DrawnPrepared), is the same bit for bit as Compare on the vectors. The
// cases: resampled RDMs (pairs of a stimulus drawn several times repeat a
// value up to ~25 times), values a few ulps apart beside a far one (runs
// of equal 32-bit keys longer than 12, holding several values: rankEach
// gives them to slices.SortFunc's pdqsort), signed zeros, ties, and short
// vectors.
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
			want, got := make([]float64, n), make([]float64, n)
			seen := make([]bool, n)
			rankEach(x, &sc, func(i int32, r float64) { want[i] = r })
			rankDrawn(set, codes, &ds, func(i int32, r float64) {
				if seen[i] {
					t.Fatalf("%s, trial %d: entry %d visited twice", name, trial, i)
				}
				seen[i], got[i] = true, r
			})
			for i := range want {
				if !seen[i] || got[i] != want[i] {
					t.Fatalf("%s, trial %d (n %d): entry %d ranked %v (visited %t), rankEach %v", name, trial, n, i, got[i], seen[i], want[i])
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
			// and two vectors drawn with the same codes, through their
			// distinct codes: the model's set (a second set of the same
			// size) prepared, the subject's compared
			other := gen()
			aset := NewDrawnSet(other)
			var d Drawn
			d.Set(codes, len(vals))
			xa := aset.Values(nil, codes)
			w, errW = Prepare(xa, Spearman).Compare(x)
			g, errG = PrepareDrawnVector(aset, &d, Spearman).Compare(set, &ds)
			if math.Float64bits(w) != math.Float64bits(g) || (errW == nil) != (errG == nil) {
				t.Fatalf("%s, trial %d: DrawnPrepared %v (%v), Compare %v (%v)", name, trial, g, errG, w, errW)
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

// TestSpearmanSumsExact: the claim both drawn paths rest on. Spearman's
// sums over ranks (multiples of 1/2 below 2^16) are exact in float64, so
// the r they give does not depend on the order of the terms: here the
// longest vector the drawn paths take (2^16 − 1 entries, mostly distinct,
// where the sums are largest), ranked by rankEach and summed in its
// sorted order, in position order and in a shuffled order.
func TestSpearmanSumsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 33))
	n := 1<<16 - 1
	a, b := make([]float64, n), make([]float64, n)
	for i := range a {
		a[i] = r.NormFloat64()
		b[i] = a[i] + r.NormFloat64()
		if i%7 == 0 {
			b[i] = float64(r.IntN(50)) // ties
		}
	}
	p := Prepare(a, Spearman)
	type term struct {
		i int32
		r float64
	}
	var terms []term
	rankEach(b, nil, func(i int32, rk float64) { terms = append(terms, term{i, rk}) })
	sums := func() float64 {
		v, err := p.spearman(n, func(visit func(int32, float64)) {
			for _, x := range terms {
				visit(x.i, x.r)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sorted := sums()
	slices.SortFunc(terms, func(x, y term) int { return cmp.Compare(x.i, y.i) })
	byPosition := sums()
	r.Shuffle(len(terms), func(i, j int) { terms[i], terms[j] = terms[j], terms[i] })
	shuffled := sums()
	if math.Float64bits(sorted) != math.Float64bits(byPosition) || math.Float64bits(sorted) != math.Float64bits(shuffled) {
		t.Fatalf("Spearman depends on the order of its terms: %.17g sorted, %.17g by position, %.17g shuffled", sorted, byPosition, shuffled)
	}
}
