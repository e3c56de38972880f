package rsa

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
	"github.com/cortexbench/cortexbench/storage/npy"
)

type compareRef struct {
	Pearson      float64   `json:"pearson"`
	Spearman     float64   `json:"spearman"`
	KendallTauA  float64   `json:"kendall-tau-a"`
	KendallBrute float64   `json:"kendall-tau-a-bruteforce"`
	Rankdata     []float64 `json:"rankdata"`
}

func loadRef(t testing.TB) (ref struct {
	Compare map[string]compareRef `json:"compare"`
	Real    map[string]struct {
		Pair *compareRef `json:"subject0_vs_1"`
	} `json:"real_ceilings"`
}) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func vec(t testing.TB, name string) []float64 {
	a, err := npy.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return a.Float64()
}

const tol = 1e-10

// TestAgainstScipy: reference values from scipy.stats.pearsonr, spearmanr,
// rankdata and kendalltau(variant="b") converted to τa (scipy 1.10.1; see
// testdata/gen_reference.py), on continuous data and data with many ties.
func TestAgainstScipy(t *testing.T) {
	ref := loadRef(t)
	for name, files := range map[string][2]string{"continuous": {"vec_a.npy", "vec_b.npy"}, "ties": {"vec_ta.npy", "vec_tb.npy"}} {
		a, b := vec(t, files[0]), vec(t, files[1])
		r := ref.Compare[name]
		if math.Abs(r.KendallTauA-r.KendallBrute) > 1e-12 {
			t.Fatalf("reference τa inconsistent: %v vs brute force %v", r.KendallTauA, r.KendallBrute)
		}
		for m, want := range map[Method]float64{Pearson: r.Pearson, Spearman: r.Spearman, KendallTauA: r.KendallTauA} {
			got, err := Compare(a, b, m)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want) > tol {
				t.Errorf("%s %s: got %.15g, want %.15g", name, m, got, want)
			}
		}
		rk := make([]float64, len(a))
		Rank(rk, a)
		for i, w := range r.Rankdata {
			if rk[i] != w {
				t.Errorf("%s: rank[%d] = %v, scipy.stats.rankdata %v", name, i, rk[i], w)
			}
		}
	}
}

// TestRealRDMs compares Algonauts 92 EVC subjects 0 and 1 (upper triangles,
// 4186 entries) with scipy (values in reference.json).
func TestRealRDMs(t *testing.T) {
	dir := reftest.DataDir(t)
	ref := loadRef(t)
	a, err := npy.ReadFile(filepath.Join(dir, "algonauts2019-92", "rdms", "EVC.npy"))
	if err != nil {
		t.Fatal(err)
	}
	n := a.Shape[1]
	d := a.Float64()
	up := func(s int) []float64 {
		var out []float64
		for i := 0; i < n; i++ {
			out = append(out, d[s*n*n+i*n+i+1:s*n*n+i*n+n]...)
		}
		return out
	}
	u, v := up(0), up(1)
	want := ref.Real["algonauts2019-92/EVC"].Pair
	for m, w := range map[Method]float64{Pearson: want.Pearson, Spearman: want.Spearman, KendallTauA: want.KendallTauA} {
		got, err := Compare(u, v, m)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-w) > tol {
			t.Errorf("%s: got %.15g, scipy %.15g", m, got, w)
		}
	}
}

// TestKendallBruteForce checks Knight's algorithm against the O(n²)
// definition on random data with ties, signed zeros included.
func TestKendallBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 50; trial++ {
		n := 3 + r.IntN(60)
		a, b := make([]float64, n), make([]float64, n)
		for i := range a {
			a[i] = float64(r.IntN(5)) - 2
			b[i] = float64(r.IntN(4)) - 1.5
			if a[i] == 0 && r.IntN(2) == 0 {
				a[i] = math.Copysign(0, -1)
			}
		}
		var s float64
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				s += sign(a[i]-a[j]) * sign(b[i]-b[j])
			}
		}
		want := s / float64(n*(n-1)/2)
		got, err := Compare(a, b, KendallTauA)
		if errors.Is(err, ErrConstant) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-14 {
			t.Fatalf("trial %d: τa %v, brute force %v (a=%v b=%v)", trial, got, want, a, b)
		}
	}
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func TestRankSignedZeroAndOrder(t *testing.T) {
	x := []float64{3, math.Copysign(0, -1), 0, -1e300, 1e-300, 3, math.Inf(1)}
	got := make([]float64, len(x))
	Rank(got, x)
	want := []float64{5.5, 2.5, 2.5, 1, 4, 5.5, 7}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Rank(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestBadInput(t *testing.T) {
	ok := []float64{1, 2, 3, 4}
	cases := []struct {
		name string
		a, b []float64
		m    Method
		want error
		msg  string
	}{
		{"length", ok, ok[:3], Spearman, ErrLength, "4 and 3"},
		{"short", ok[:2], ok[:2], Pearson, ErrTooShort, "got 2"},
		{"nan", ok, []float64{1, math.NaN(), 3, 4}, Pearson, ErrNonFinite, "b[1]"},
		{"inf", []float64{1, 2, math.Inf(-1), 4}, ok, Spearman, ErrNonFinite, "a[2]"},
		{"constant", []float64{2, 2, 2, 2}, ok, Spearman, ErrConstant, "a"},
		{"constant-tau", ok, []float64{2, 2, 2, 2}, KendallTauA, ErrConstant, "b"},
		{"method", ok, ok, Method("cosine"), ErrUnknownMethod, "cosine"},
	}
	for _, c := range cases {
		_, err := Compare(c.a, c.b, c.m)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
}

func benchVectors() (a, b []float64) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 499500 // upper triangle of a 1000×1000 RDM
	a, b = make([]float64, n), make([]float64, n)
	for i := range a {
		a[i] = r.Float64()
		b[i] = 0.3*a[i] + r.Float64()
	}
	return a, b
}

// BenchmarkSpearman499500 is the speed case; compare with
// scipy.stats.spearmanr in testdata/bench_reference.py.
func BenchmarkSpearman499500(b *testing.B) {
	x, y := benchVectors()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compare(x, y, Spearman); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKendallTauA499500(b *testing.B) {
	x, y := benchVectors()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compare(x, y, KendallTauA); err != nil {
			b.Fatal(err)
		}
	}
}

// bruteRanks is the definition of average ranks, computed independently
// of Rank: rank = 1 + #smaller + (#equal − 1)/2, by binary search in a
// sorted copy.
func bruteRanks(x []float64) []float64 {
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	out := make([]float64, len(x))
	for i, v := range x {
		lo, _ := slices.BinarySearch(sorted, v)
		hi := lo + sort.Search(len(sorted)-lo, func(k int) bool { return sorted[lo+k] > v })
		out[i] = float64(lo+1+hi) / 2
	}
	return out
}

// TestRankPathsAgree checks the comparison sort used for short vectors,
// the single-class radix path and the 8-class low-memory path used for
// long ones against bruteRanks, on data built to stress each part: many
// ties, negatives and signed zeros; one value filling most of the vector
// (a class of its own); values a few ulps apart beside huge ones (32-bit
// key collisions resolved by value); and continuous data.
func TestRankPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	gens := map[string]func(i, n int) float64{
		"ties": func(i, n int) float64 { return float64((i*7919)%(n/3+1)) - float64(n/6) },
		"signed zeros": func(i, n int) float64 {
			switch i % 3 {
			case 0:
				return math.Copysign(0, -1)
			case 1:
				return 0
			}
			return r.NormFloat64()
		},
		"dominant": func(i, n int) float64 {
			if i%10 != 0 {
				return 0.25
			}
			return r.Float64()
		},
		"ulps apart": func(i, n int) float64 {
			if i%1000 == 0 {
				return math.Ldexp(r.Float64(), 900)
			}
			return math.Nextafter(1, 2) + float64(r.IntN(n/4))*0x1p-52
		},
		"continuous": func(i, n int) float64 { return r.Float64() },
	}
	for _, n := range []int{7, smallSort, smallSort + 1, 3 * smallSort, 1<<16 - 1, 1<<16 + 3, 300001} {
		for name, gen := range gens {
			x := make([]float64, n)
			for i := range x {
				x[i] = gen(i, n)
			}
			got := make([]float64, n)
			Rank(got, x)
			want := bruteRanks(x)
			for i := range x {
				if got[i] != want[i] {
					t.Fatalf("n=%d %s: rank of x[%d]=%v is %v, want %v", n, name, i, x[i], got[i], want[i])
				}
			}
			// Spearman through the streaming path equals Pearson on the
			// brute-force ranks.
			y := make([]float64, n)
			for i := range y {
				y[i] = x[(i*31)%n] + float64(i%5)
			}
			rs, err := Compare(x, y, Spearman)
			if err != nil {
				t.Fatal(err)
			}
			rp, err := pearson(want, bruteRanks(y))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(rs-rp) > 1e-12 {
				t.Errorf("n=%d %s: Spearman %.15g, Pearson on ranks %.15g", n, name, rs, rp)
			}
		}
	}
}
