package ridge

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/cortexbench/cortexbench/internal/memstat"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// benchDir is where testdata/bench_reference.py writes the arrays it times
// sklearn on, so both sides run on the same data:
//
//	/usr/bin/python3 testdata/bench_reference.py   # writes x.npy, y.npy, prints sklearn's time
//	go test -run '^$' -bench CV ./scoring/ridge/
var benchDir = filepath.Join(os.TempDir(), "cortexbench-ridge-bench")

func benchData(b *testing.B, n, q, p int) (x, y linalg.Matrix[float64]) {
	xa, err1 := npy.ReadFile(filepath.Join(benchDir, "x.npy"))
	ya, err2 := npy.ReadFile(filepath.Join(benchDir, "y.npy"))
	if err1 == nil && err2 == nil && xa.Shape[0] == n && xa.Shape[1] == q && ya.Shape[1] == p {
		b.Logf("using sklearn's arrays from %s", benchDir)
		return linalg.View(n, q, xa.Float64()), linalg.View(n, p, ya.Float64())
	}
	b.Logf("no arrays in %s (run testdata/bench_reference.py); using random data", benchDir)
	r := rand.New(rand.NewPCG(1, 2))
	return randMat(r, n, q), randMat(r, n, p)
}

// BenchmarkCV is issue 2's ridge case: X 1000×20000, Y 1000×2000, 20 alphas,
// 5 outer folds, alpha per target by exact leave-one-out on each training
// part. sklearn's RidgeCV(alphas, alpha_per_target=True) on the same arrays
// is timed by testdata/bench_reference.py.
func BenchmarkCV(b *testing.B) {
	x, y := benchData(b, 1000, 20000, 2000)
	alphas := make([]float64, 20)
	for i := range alphas {
		alphas[i] = 1e-2 * float64(int64(1)<<i) // spans 1e-2 … 5e3
	}
	cfg := Config{Folds: 5, Seed: 1, Alphas: alphas}
	debug.FreeOSMemory()
	memstat.ResetPeak()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		if _, err := CV(x, y, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time of all threads (OpenBLAS's included): less sensitive than
	// wall time to other processes on a shared machine.
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	runtime.ReadMemStats(&after)
	in := float64(8 * (len(x.Data) + len(y.Data)))
	out := float64(8 * len(y.Data))
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(in+out), "alloc/(in+out)")
	// The whole process's peak resident memory while CV ran (its inputs,
	// the Go runtime, OpenBLAS's buffers, garbage not yet collected) over
	// the bytes of its inputs and outputs.
	if hwm := memstat.Peak(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(in+out), "peakRSS/(in+out)")
	}
}

// BenchmarkCVPowerLaw is the same problem with feature scales falling as a
// power law (k^-0.75, like network activations): the kernel spectrum is wide,
// alpha compression finds no gain, and all 20 alphas go through the batched
// product.
func BenchmarkCVPowerLaw(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := randMat(r, 1000, 20000), randMat(r, 1000, 2000)
	for i := range x.Rows {
		row := x.Row(i)
		for k := range row {
			row[k] *= math.Pow(float64(k+1), -0.75)
		}
	}
	alphas := make([]float64, 20)
	for i := range alphas {
		alphas[i] = 1e-2 * float64(int64(1)<<i)
	}
	cfg := Config{Folds: 5, Seed: 1, Alphas: alphas}
	for b.Loop() {
		if _, err := CV(x, y, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkLOOErrors times the alpha selection of one fold of BenchmarkCV
// (800 training stimuli, 2000 targets, 20 alphas, compressed float32) with
// each way of summing the squared errors.
func BenchmarkLOOErrors(b *testing.B) {
	x, y := benchData(b, 1000, 20000, 2000)
	train, test := []int{}, []int{}
	for i := range x.Rows {
		if i%5 == 0 {
			test = append(test, i)
		} else {
			train = append(train, i)
		}
	}
	g, _ := directGram(x, 1)
	kc, kt := fromGram(g, train, test, nil, nil)
	d, err := kernelDecomp(kc, kt, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	yc, _ := centred(rows[float64]{m: y, idx: train}, nil)
	d.setCoef(yc, nil)
	alphas := make([]float64, 20)
	for i := range alphas {
		alphas[i] = 1e-2 * float64(int64(1)<<i)
	}
	errs := make([][]float64, len(alphas))
	for a := range errs {
		errs[a] = make([]float64, y.Cols)
	}
	for _, c := range []struct {
		name  string
		force int
	}{{"elementwise", -1}, {"quadratic", 1}} {
		b.Run(c.name, func(b *testing.B) {
			defer func(v int) { forceQuadratic = v }(forceQuadratic)
			forceQuadratic = c.force
			wk := newWork()
			for b.Loop() {
				d.looErrors(alphas, yc, false, errs, wk)
			}
		})
	}
}

// BenchmarkCVFewTargets is one cowley2023.V4.public layer (issue 18): 1,200
// stimuli of one session, 89 neurons, 5 folds (960 training stimuli each),
// the benchmark's 9 alphas, features with a power-law spectrum like a
// network layer's (here 4,000 of them, so the fold kernels come from one
// Gram matrix as for the layer's). It runs the eigen route and the
// tridiagonal route side by side; both choose the same alphas.
func BenchmarkCVFewTargets(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y := powerX(r, 1200, 4000, 0.75), randMat(r, 1200, 89)
	cfg := Config{Folds: 5, Seed: 1, Alphas: []float64{0.01, 0.1, 1, 10, 100, 1000, 1e4, 1e5, 1e6}}
	defer func(v int) { forceTridiag = v }(forceTridiag)
	for _, c := range []struct {
		name  string
		force int
	}{{"eigen", -1}, {"tridiagonal", 1}} {
		b.Run(c.name, func(b *testing.B) {
			forceTridiag = c.force
			cpu0 := cpuSeconds()
			for b.Loop() {
				if _, err := CV(x, y, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}
