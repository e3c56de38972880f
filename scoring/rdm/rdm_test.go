package rdm

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/internal/reftest"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/storage/npy"
)

func readNPY(t testing.TB, name string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func maxDiff(a, b []float64) (float64, int) {
	var m float64
	at := -1
	for i := range a {
		if d := math.Abs(a[i] - b[i]); d > m || math.IsNaN(d) {
			m, at = d, i
		}
	}
	return m, at
}

// TestAgainstScipy compares with scipy.spatial.distance.pdist (scipy 1.10.1,
// numpy 1.24.2; files written by testdata/gen_reference.py).
func TestAgainstScipy(t *testing.T) {
	for _, c := range []struct {
		name string
		tol  float64
	}{
		{"f64", 1e-10},
		// ReLU-like activations offset by 1000: the row shift must remove
		// the common magnitude or the centred Gram matrix cancels badly.
		{"relu", 1e-10},
		// ReLU without the offset, 400 columns: the zero-copy DSYRK path.
		{"wide", 1e-10},
		// float32 features: converted exactly to float64, then as above,
		// so the float64 tolerance holds against pdist on the same values.
		{"f32", 1e-10},
	} {
		x := readNPY(t, "features_"+c.name+".npy")
		for _, m := range []Metric{Correlation, Euclidean, Cosine} {
			want := readNPY(t, "rdm_"+c.name+"_"+string(m)+".npy").Float64()
			var got []float64
			var err error
			switch d := x.Data.(type) {
			case []float64:
				got, err = Compute(linalg.View(x.Shape[0], x.Shape[1], d), m)
			case []float32:
				got, err = Compute(linalg.View(x.Shape[0], x.Shape[1], d), m)
			}
			if err != nil {
				t.Fatalf("%s %s: %v", c.name, m, err)
			}
			tol := c.tol
			if m == Euclidean {
				tol *= max(1, maxAbs(want)) // distances are not bounded by 2
			}
			if d, at := maxDiff(got, want); d > tol {
				t.Errorf("%s %s: max |diff| %g at %d (got %v want %v), tol %g", c.name, m, d, at, got[at], want[at], tol)
			}
			if err := Check(x.Shape[0], got); err != nil {
				t.Errorf("%s %s: result fails Check: %v", c.name, m, err)
			}
		}
	}
}

func maxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// TestChunkedEqualsWhole streams features in uneven chunks and compares
// with the one-shot result.
func TestChunkedEqualsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, q = 9, 103
	x := linalg.NewMatrix[float64](n, q)
	for i := range x.Data {
		x.Data[i] = r.NormFloat64() + 5
	}
	for _, m := range []Metric{Correlation, Euclidean, Cosine} {
		whole, err := Compute(x, m)
		if err != nil {
			t.Fatal(err)
		}
		acc := NewAccumulator(n, m)
		for c0, w := 0, 1; c0 < q; c0, w = c0+w, w*2 {
			c1 := min(q, c0+w)
			if err := Add(acc, x.Slice(0, n, c0, c1)); err != nil {
				t.Fatal(err)
			}
		}
		if acc.Features() != q {
			t.Fatalf("Features() = %d", acc.Features())
		}
		got, err := acc.RDM()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := maxDiff(got, whole); d > 1e-12 {
			t.Errorf("%s: chunked differs by %g", m, d)
		}
	}
}

// TestDirectAndCopyPathsAgree: a wide float64 matrix takes the zero-copy
// path in Compute; streamed in 100-column chunks it takes the copying path;
// a chunk far from its offset forces the fallback mid-stream.
func TestDirectAndCopyPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n, q = 30, 1000
	x := linalg.NewMatrix[float64](n, q)
	for i := range x.Data {
		x.Data[i] = max(0, r.NormFloat64())
		if i%q >= 700 {
			x.Data[i] += 1e4 // columns 700.. far from the offsets
		}
	}
	for _, m := range []Metric{Correlation, Cosine} {
		acc := NewAccumulator(n, m)
		if err := Add(acc, x.Slice(0, n, 0, 400)); err != nil { // direct
			t.Fatal(err)
		}
		if err := Add(acc, x.Slice(0, n, 400, 1000)); err != nil { // falls back
			t.Fatal(err)
		}
		mixed, err := acc.RDM()
		if err != nil {
			t.Fatal(err)
		}
		acc = NewAccumulator(n, m)
		for c0 := 0; c0 < q; c0 += 100 {
			if err := Add(acc, x.Slice(0, n, c0, c0+100)); err != nil {
				t.Fatal(err)
			}
		}
		copied, err := acc.RDM()
		if err != nil {
			t.Fatal(err)
		}
		if d, at := maxDiff(mixed, copied); d > 1e-12 {
			t.Errorf("%s: paths differ by %g at %d", m, d, at)
		}
	}
}

func TestInputNotModified(t *testing.T) {
	x := linalg.NewMatrix[float32](4, 3)
	for i := range x.Data {
		x.Data[i] = float32(i * i)
	}
	orig := append([]float32(nil), x.Data...)
	for _, m := range []Metric{Correlation, Euclidean, Cosine} {
		if _, err := Compute(x, m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range orig {
		if x.Data[i] != orig[i] {
			t.Fatal("Compute modified its input")
		}
	}
}

func TestBadInput(t *testing.T) {
	good := func() linalg.Matrix[float64] {
		x := linalg.NewMatrix[float64](4, 3)
		for i := range x.Data {
			x.Data[i] = float64(i%5) + float64(i/3)
		}
		return x
	}
	nan := good()
	nan.Data[2*3+1] = math.NaN()
	inf := good()
	inf.Data[3*3+2] = math.Inf(1)
	flat := good()
	copy(flat.Row(1), []float64{0.1, 0.1, 0.1})
	zero := good()
	clear(zero.Row(2))
	cases := []struct {
		name string
		x    linalg.Matrix[float64]
		m    Metric
		want error
		msg  string
	}{
		{"nan", nan, Correlation, ErrNonFinite, "stimulus 2, feature 1"},
		{"inf", inf, Euclidean, ErrNonFinite, "stimulus 3, feature 2"},
		{"flat", flat, Correlation, ErrZeroVariance, "stimulus 1"},
		{"zero", zero, Cosine, ErrZeroNorm, "stimulus 2"},
		{"two", good().Slice(0, 2, 0, 3), Correlation, ErrTooFewStimuli, "got 2"},
		{"nofeatures", good().Slice(0, 4, 0, 0), Correlation, ErrNoFeatures, ""},
		{"metric", good(), Metric("manhattan"), ErrUnknownMetric, "manhattan"},
	}
	for _, c := range cases {
		_, err := Compute(c.x, c.m)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
	acc := NewAccumulator(4, Correlation)
	if err := Add(acc, good().Slice(0, 3, 0, 3)); !errors.Is(err, ErrShape) {
		t.Errorf("short chunk: %v", err)
	}
	// Errors are sticky.
	acc = NewAccumulator(4, Correlation)
	if err := Add(acc, nan); !errors.Is(err, ErrNonFinite) {
		t.Fatal(err)
	}
	if err := Add(acc, good()); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Add after a failure: %v", err)
	}
	if _, err := acc.RDM(); !errors.Is(err, ErrNonFinite) {
		t.Errorf("RDM after a failure: %v", err)
	}
	// Overflowing sums are reported, not turned into Inf distances.
	big := good()
	big.Data[0], big.Data[1] = 1e308, 1e308
	if _, err := Compute(big, Euclidean); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("overflow: %v", err)
	}
	big.Data[0], big.Data[1] = 1e200, -1e200
	if _, err := Compute(big, Cosine); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("overflow of squares: %v", err)
	}
}

func TestUpperAndCheck(t *testing.T) {
	full := []float64{0, 1, 2, 1, 0, 3, 2, 3, 0}
	got := Upper(3, full)
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("Upper = %v", got)
	}
	if err := Check(3, full); err != nil {
		t.Fatal(err)
	}
	asym := append([]float64(nil), full...)
	asym[5] = 3.5
	diag := append([]float64(nil), full...)
	diag[4] = 0.1
	nan := append([]float64(nil), full...)
	nan[7] = math.NaN()
	for _, c := range []struct {
		name string
		n    int
		m    []float64
		msg  string
	}{
		{"asym", 3, asym, "(1, 2)"},
		{"diag", 3, diag, "(1, 1)"},
		{"nan", 3, nan, "(2, 1)"},
		{"nonsquare", 3, full[:8], "8 values"},
		{"small", 2, full[:4], "n = 2"},
	} {
		err := Check(c.n, c.m)
		if !errors.Is(err, ErrNotRDM) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// BenchmarkCorrelation1000x100000 is the speed case: compare with
// `python3 scoring/testdata/bench_reference.py` (numpy.corrcoef).
func BenchmarkCorrelation1000x100000(b *testing.B) {
	if testing.Short() {
		b.Skip("large benchmark")
	}
	benchRDM(b, 1000, 100000)
}

func BenchmarkCorrelation92x4096(b *testing.B) { benchRDM(b, 92, 4096) }

func benchRDM(b *testing.B, n, q int) {
	r := rand.New(rand.NewPCG(1, 1))
	x := linalg.NewMatrix[float64](n, q)
	for i := range x.Data {
		x.Data[i] = max(0, r.NormFloat64())
	}
	b.ReportAllocs()
	b.SetBytes(int64(8 * n * q))
	for b.Loop() {
		if _, err := Compute(x, Correlation); err != nil {
			b.Fatal(err)
		}
	}
	// Extra memory beyond the input is the allocation per op (chunk buffer
	// and the n×n result); report it relative to input+output size.
	b.ReportMetric(float64(8*(n*q+n*n)), "io-bytes")
}

// TestRealFeatures: RDMs of real V4 responses (Cowley et al. 2023, session
// 190923, first 60 images × 33 neurons, spikes per 100 ms) against
// scipy.spatial.distance.pdist (scipy 1.10.1, gen_reference.py).
func TestRealFeatures(t *testing.T) {
	dir := reftest.DataDir(t)
	a, err := npy.ReadFile(filepath.Join(dir, "cowley2023-v4", "responses_repeat_averaged", "responses_190923.npy"))
	if err != nil {
		t.Fatal(err)
	}
	neurons, images := a.Shape[0], a.Shape[1]
	d := a.Float64()
	const n = 60
	x := linalg.NewMatrix[float64](n, neurons)
	for i := 0; i < n; i++ {
		for j := 0; j < neurons; j++ {
			x.Data[i*neurons+j] = d[j*images+i]
		}
	}
	for _, m := range []Metric{Correlation, Euclidean, Cosine} {
		want := readNPY(t, "rdm_cowley190923_"+string(m)+".npy").Float64()
		got, err := Compute(x, m)
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-10 * max(1, maxAbs(want))
		if diff, at := maxDiff(got, want); diff > tol {
			t.Errorf("%s: max |diff| %g at %d, tol %g", m, diff, at, tol)
		}
	}
}

// TestFloat32Tolerance: float32 features are rounded copies of float64 ones
// (relative error ≤ 2^-24 ≈ 6e-8 per value), so their RDM may differ from
// the float64 RDM (scipy pdist on the float64 originals) by ~1e-6; we
// state 1e-5 for correlation and cosine distances (bounded by 2).
func TestFloat32Tolerance(t *testing.T) {
	x := readNPY(t, "features_f32.npy")
	for _, m := range []Metric{Correlation, Cosine} {
		want := readNPY(t, "rdm_f64_"+string(m)+".npy").Float64()
		got, err := Compute(linalg.View(x.Shape[0], x.Shape[1], x.Data.([]float32)), m)
		if err != nil {
			t.Fatal(err)
		}
		if diff, at := maxDiff(got, want); diff > 1e-5 {
			t.Errorf("%s: float32 vs float64 reference differ by %g at %d", m, diff, at)
		} else {
			t.Logf("%s: float32 max |diff| %g", m, diff)
		}
	}
}

// TestStreamsAMillionFeatures streams 10^6 features through the
// accumulator in chunks that are never held together, and checks the
// correlation RDM against its closed form: with x_i = a_i·s + b_i·t + c_i,
// s and t a cosine and a sine of an integer number of periods over the
// features (zero mean, orthogonal, equal norms), corr(x_i, x_j) =
// (a_i·a_j + b_i·b_j) / √((a_i² + b_i²)(a_j² + b_j²)). Memory: the whole
// matrix would be 160 MB; the stream allocates a small fraction of that.
func TestStreamsAMillionFeatures(t *testing.T) {
	const n, q, chunk, periods = 20, 1_000_000, 8192, 37
	r := rand.New(rand.NewPCG(11, 12))
	a, b, c := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		a[i], b[i], c[i] = r.NormFloat64(), r.NormFloat64(), 10*r.Float64()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	acc := NewAccumulator(n, Correlation)
	buf := linalg.NewMatrix[float64](n, chunk)
	for c0 := 0; c0 < q; c0 += chunk {
		w := min(chunk, q-c0)
		x := buf.Slice(0, n, 0, w)
		for f := range w {
			ph := 2 * math.Pi * periods * float64(c0+f) / q
			s, co := math.Sincos(ph)
			for i := range n {
				x.Row(i)[f] = a[i]*co + b[i]*s + c[i]
			}
		}
		if err := Add(acc, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := acc.RDM()
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
		t.Errorf("streaming allocated %d MB; the whole matrix would be %d MB", alloc>>20, n*q*8>>20)
	}
	for i := range n {
		for j := range n {
			want := 1 - (a[i]*a[j]+b[i]*b[j])/math.Sqrt((a[i]*a[i]+b[i]*b[i])*(a[j]*a[j]+b[j]*b[j]))
			if i == j {
				want = 0
			}
			if d := math.Abs(got[i*n+j] - want); d > 1e-9 {
				t.Fatalf("(%d,%d): %v, closed form %v", i, j, got[i*n+j], want)
			}
		}
	}
}
