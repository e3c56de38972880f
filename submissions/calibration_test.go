package submissions_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/submissions"
)

var testMachine = submissions.Machine{CPU: "Test CPU", Cores: 2, ORT: "1.30.0", BLAS: "openblas", BLASKernels: "Haswell"}

func testCalibration(at time.Time) submissions.Calibration {
	return submissions.Calibration{Machine: testMachine, ForwardFLOPS: 10e9, GemmFLOPS: 20e9, RankSeconds: 100e-9, DrawnRankSeconds: 40e-9, ModelSeconds: 0.2, MeasuredAt: at}
}

func TestCalibrationStale(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	var none *submissions.Calibration
	if none.Stale(testMachine, now) == "" {
		t.Error("no calibration is not stale")
	}
	c := testCalibration(now.Add(-time.Hour))
	if why := c.Stale(testMachine, now); why != "" {
		t.Errorf("fresh calibration stale: %s", why)
	}
	other := testMachine
	other.ORT = "1.31.0"
	if c.Stale(other, now) == "" {
		t.Error("a calibration of another ONNX Runtime version is not stale")
	}
	other = testMachine
	other.BLASKernels = "Cooperlake" // $OPENBLAS_CORETYPE unset on an AVX-512 CPU where it said Haswell
	if c.Stale(other, now) == "" {
		t.Error("a calibration under other OpenBLAS kernels is not stale")
	}
	if c.Stale(testMachine, now.Add(submissions.CalibrationMaxAge+time.Hour)) == "" {
		t.Error("an old calibration is not stale")
	}
	c.RankSeconds = 0
	if c.Stale(testMachine, now) == "" {
		t.Error("an incomplete calibration is not stale")
	}
	// one kept before the bootstrap's own rate was measured
	c = testCalibration(now.Add(-time.Hour))
	c.DrawnRankSeconds = 0
	if c.Stale(testMachine, now) == "" {
		t.Error("a calibration without the bootstrap's rate is not stale")
	}
}

func TestCalibrationsKeptAndLearned(t *testing.T) {
	dir := t.TempDir()
	cals := submissions.OpenCalibrations(dir)
	if c, err := cals.Get(testMachine); err != nil || c != nil {
		t.Fatalf("empty folder: %+v, %v", c, err)
	}
	cal := testCalibration(time.Now().UTC().Truncate(time.Second))
	if err := cals.Put(cal); err != nil {
		t.Fatal(err)
	}
	other := cal
	other.Machine.Cores = 64
	if err := cals.Put(other); err != nil {
		t.Fatal(err)
	}
	cal.GemmFLOPS = 30e9 // measured again: replaces this machine's
	if err := cals.Put(cal); err != nil {
		t.Fatal(err)
	}
	got, err := submissions.OpenCalibrations(dir).Get(testMachine)
	if err != nil || got == nil || got.GemmFLOPS != 30e9 || !got.MeasuredAt.Equal(cal.MeasuredAt) {
		t.Fatalf("kept calibration %+v, %v", got, err)
	}
	if err := cals.Record(
		submissions.JobRecord{Benchmark: "a", Seconds: 30, Predicted: 10},
		submissions.JobRecord{Benchmark: "a", Seconds: 10, Predicted: 10},
		submissions.JobRecord{Benchmark: "a", Seconds: 20, Predicted: 10},
		submissions.JobRecord{Benchmark: "b", Seconds: 5, Predicted: 10},
		submissions.JobRecord{Benchmark: "b", Seconds: 6, Predicted: 10},
		submissions.JobRecord{Benchmark: "c", Seconds: 5, Predicted: 0}, // no prediction: ignored
	); err != nil {
		t.Fatal(err)
	}
	learned, err := cals.Learned()
	if err != nil {
		t.Fatal(err)
	}
	if len(learned) != 2 || learned["a"] != 2 || math.Abs(learned["b"]-0.55) > 1e-12 {
		t.Errorf("learned %v, want a: 2 (median), b: 0.55", learned)
	}
	// A corrupt file is reported, and measured again over.
	if err := os.WriteFile(filepath.Join(dir, submissions.CalibrationFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cals.Get(testMachine); err == nil {
		t.Error("a corrupt calibration file read without error")
	}
	if err := cals.Put(cal); err != nil {
		t.Fatal(err)
	}
	if got, err := cals.Get(testMachine); err != nil || got == nil {
		t.Errorf("after a new calibration over a corrupt file: %+v, %v", got, err)
	}
}

func TestCalibratedEstimate(t *testing.T) {
	cal := testCalibration(time.Now())
	in := submissions.EstimateInput{Params: 4e6, Height: 224, Width: 224, LayerFeatures: []int64{4096, 2000, 500}}
	benches := []submissions.BenchmarkCost{{ID: "small", Stimuli: 92, Subjects: 4}, {ID: "more-subjects", Stimuli: 92, Subjects: 8}}
	p := submissions.CalibratedEstimate(&cal, in, benches, 1000, nil)
	fwd := 92 * submissions.ForwardFlops(4e6, 224, 224) / cal.ForwardFLOPS
	if math.Abs(p[0].Forward-fwd) > 1e-9 || p[0].Learned != 1 {
		t.Errorf("part %+v, want forward %.3f s", p[0], fwd)
	}
	// a job without an activation cache stores nothing
	if p[0].Fixed != cal.ModelSeconds {
		t.Errorf("no cache: fixed %.3f s, want %.3f s", p[0].Fixed, cal.ModelSeconds)
	}
	// with one, the first job on a set within its limit stores the set's
	// activations; one over the limit (10000·6596·4 B) does not
	cached := in
	cached.CacheLimit = 128 << 20
	cache := 4 * 92 * (4096 + 2000 + 500) / submissions.ActivationStoreRate
	if q := submissions.CalibratedEstimate(&cal, cached, benches, 1000, nil); math.Abs(q[0].Fixed-(cal.ModelSeconds+cache)) > 1e-12 {
		t.Errorf("cached: fixed %.3f s, want %.3f s", q[0].Fixed, cal.ModelSeconds+cache)
	}
	if q := submissions.CalibratedEstimate(&cal, cached, []submissions.BenchmarkCost{{ID: "big", Stimuli: 10000, Subjects: 4}}, 1000, nil); q[0].Fixed != cal.ModelSeconds {
		t.Errorf("a set over the cache limit: fixed %.3f s, want %.3f s", q[0].Fixed, cal.ModelSeconds)
	}
	// selection: K splits × S subjects × 3 layers × (92/2)²/2 pairs at the
	// rank-correlation rate; bootstrap: 1000 resamples × K × (S+1) rankings
	// (the chosen layer's, then each subject's) at the drawn rate, on 2 cores
	pairs := 46.0 * 46 / 2
	for i, s := range []float64{4, 8} {
		want := submissions.SelectionSplits*s*3*pairs*cal.RankSeconds + 1000*submissions.SelectionSplits*(s+1)*pairs*cal.DrawnRankSeconds/2
		if math.Abs(p[i].Bootstrap-want) > 1e-9 || p[i].Forward != p[0].Forward {
			t.Errorf("%v subjects: bootstrap %.4f, want %.4f", s, p[i].Bootstrap, want)
		}
	}
	big := in
	big.Params *= 2
	if q := submissions.CalibratedEstimate(&cal, big, benches, 1000, nil); math.Abs(q[0].Forward-2*p[0].Forward) > 1e-9 {
		t.Errorf("twice the parameters: forward %.3f, want %.3f", q[0].Forward, 2*p[0].Forward)
	}
	learned := submissions.CalibratedEstimate(&cal, in, benches, 1000, map[string]float64{"small": 3})
	if math.Abs(learned[0].Seconds-3*p[0].Seconds) > 1e-9 || learned[1].Seconds != p[1].Seconds {
		t.Errorf("learned factor 3 on small: %.3f (was %.3f); more-subjects %.3f (was %.3f)", learned[0].Seconds, p[0].Seconds, learned[1].Seconds, p[1].Seconds)
	}

	// EstimateCost uses the process's calibration and what finished jobs
	// taught.
	cals := submissions.OpenCalibrations(t.TempDir())
	if err := cals.Record(submissions.JobRecord{Benchmark: "small", Seconds: 30, Predicted: 10}); err != nil {
		t.Fatal(err)
	}
	in.Benchmarks = benches
	in.Stimuli = []int{92, 92}
	plain := submissions.EstimateCost(in)
	submissions.UseCalibration(cals, &cal)
	t.Cleanup(func() { submissions.UseCalibration(nil, nil) })
	est := submissions.EstimateCost(in)
	want := submissions.Sum(submissions.CalibratedEstimate(&cal, in, benches, 0, map[string]float64{"small": 3}))
	if !est.Calibrated || math.Abs(est.Seconds-want) > 1e-9 || est.Bytes != plain.Bytes || plain.Calibrated {
		t.Errorf("calibrated estimate %+v, want %.3f s and the formula's bytes %d (formula: %+v)", est, want, plain.Bytes, plain)
	}
}

// Benchmarks on the same stimuli in one run share the forward passes and
// layer math: only the first pays for them.
func TestCalibratedEstimateSharedStimuli(t *testing.T) {
	cal := testCalibration(time.Now())
	in := submissions.EstimateInput{Params: 4e6, Height: 224, Width: 224, LayerFeatures: []int64{4096, 2000}}
	p := submissions.CalibratedEstimate(&cal, in, []submissions.BenchmarkCost{
		{ID: "hIT", Stimuli: 92, Subjects: 4, StimulusKey: "k92"},
		{ID: "mIT", Stimuli: 92, Subjects: 1, StimulusKey: "k92"},
		{ID: "other", Stimuli: 92, Subjects: 1, StimulusKey: "k78"},
	}, 0, nil)
	if p[0].Shared || p[0].Forward == 0 || !p[1].Shared || p[1].Forward != 0 || p[1].Layers != 0 || p[1].Bootstrap == 0 || p[2].Shared || p[2].Forward != p[0].Forward {
		t.Errorf("parts %+v", p)
	}
}

// An encoding benchmark is fitted per session: its forward passes add up
// over the sessions, its ridge fits scale with each session's size, and
// the RSA bootstrap does not apply.
func TestCalibratedEstimateEncoding(t *testing.T) {
	cal := testCalibration(time.Now())
	in := submissions.EstimateInput{Params: 4e6, Height: 224, Width: 224, LayerFeatures: []int64{4096, 2000, 500}}
	one := submissions.CalibratedEstimate(&cal, in, []submissions.BenchmarkCost{{ID: "v4", Stimuli: 1200, Sessions: []int{1200}}}, 0, nil)[0]
	two := submissions.CalibratedEstimate(&cal, in, []submissions.BenchmarkCost{{ID: "v4", Stimuli: 2400, Sessions: []int{1200, 1200}}}, 0, nil)[0]
	if one.Bootstrap != 0 || one.Forward <= 0 || one.Layers <= 0 {
		t.Errorf("one session: %+v", one)
	}
	if math.Abs(two.Forward-2*one.Forward) > 1e-9 || math.Abs(two.Layers-2*one.Layers) > 1e-9 {
		t.Errorf("two sessions %+v, want twice one session's %+v", two, one)
	}
}

// A benchmark whose metadata does not declare its size is estimated with
// the size read from the benchmark itself.
func TestEstimateUsesBenchmarkShapes(t *testing.T) {
	cal := testCalibration(time.Now())
	submissions.UseCalibration(nil, &cal)
	t.Cleanup(func() { submissions.UseCalibration(nil, nil); submissions.UseBenchmarkShapes(nil) })
	in := submissions.EstimateInput{Params: 4e6, Height: 224, Width: 224, Stimuli: []int{0}, Benchmarks: []submissions.BenchmarkCost{{ID: "hIT"}}}
	unknown := submissions.EstimateCost(in)
	shape := submissions.BenchmarkCost{ID: "hIT", Stimuli: 92, Subjects: 4}
	submissions.UseBenchmarkShapes(map[string]submissions.BenchmarkCost{"hIT": shape})
	known := submissions.EstimateCost(in)
	want := submissions.Sum(submissions.CalibratedEstimate(&cal, in, []submissions.BenchmarkCost{shape}, 0, nil))
	if math.Abs(known.Seconds-want) > 1e-9 || known.Seconds >= unknown.Seconds {
		t.Errorf("with the shape: %.2f s, want %.2f s (without: %.2f s, 1000 stimuli assumed)", known.Seconds, want, unknown.Seconds)
	}
}
