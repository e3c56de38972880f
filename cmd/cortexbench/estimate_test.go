package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/submissions"
)

// Issue 17, finding 11: a submission estimated at ~103 s took ≥ 4.5 min.
// Estimates now come from a calibration measured on this machine and
// remembered. This test checks the estimate's accuracy on this machine
// (not speed): calibrate, estimate one small built-in model on two small
// built-in benchmarks, score them for real (ONNX Runtime), and require
// each benchmark's estimate within 2× of its actual time, both ways; the
// actual times are kept and correct the next estimate.
func TestEstimateWithinTwiceActual(t *testing.T) {
	ortAvailable(t)
	sh := shared(t)
	ctx := t.Context()
	store := filepath.Join(t.TempDir(), "objects")
	env, _, _ := modelsEnv(t)
	lib := env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	vars := map[string]string{"CORTEXBENCH_ONNXRUNTIME_LIB": lib}
	ids := "kriegeskorte2008.hIT,kriegeskorte2008.mIT"
	if _, e, err := runWith(ctx, t, vars, "benchmarks", "import-builtin", "--store", store, "--data", filepath.Join(sh, "datasets"), "kriegeskorte2008.hIT", "kriegeskorte2008.mIT"); err != nil {
		t.Fatal(err, e)
	}
	modelsDir := filepath.Join(sh, "models")

	out, e, err := runWith(ctx, t, vars, "bench", "--calibrate", "--json", "--store", store, "--models", modelsDir)
	if err != nil {
		t.Fatal(err, e)
	}
	var cal submissions.Calibration
	if err := json.Unmarshal([]byte(out), &cal); err != nil {
		t.Fatalf("bench --calibrate --json: %v\n%s", err, out)
	}
	if !(cal.ForwardFLOPS > 1e8 && cal.GemmFLOPS > 1e8 && cal.RankSeconds > 0 && cal.Machine.Cores > 0 && cal.Machine.ORT != "") {
		t.Fatalf("calibration implausible: %+v", cal)
	}
	if cal.Took > 30 {
		t.Errorf("calibration took %.1f s, want a short one (~5–10 s)", cal.Took)
	}
	// Remembered: asked again, it is not measured again.
	rt, err := onnxrun.OpenRuntime(lib)
	if err != nil {
		t.Fatal(err)
	}
	again, measured, err := calibration(ctx, rt, store, modelsDir, false)
	if err != nil || measured || !again.MeasuredAt.Equal(cal.MeasuredAt) {
		t.Fatalf("calibration not remembered: measured again %v (%v), %+v", measured, err, again)
	}

	model := filepath.Join(modelsDir, "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	bench := func() benchResult {
		t.Helper()
		out, e, err := runWith(ctx, t, vars, "bench", "--model", model, "--preprocess", "mobilenet_v2_float,size=128",
			"--benchmark", ids, "--store", store, "--models", modelsDir, "--json")
		if err != nil {
			t.Fatal(err, e)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.PerBenchmark) != 2 {
			t.Fatalf("bench --json: %v\n%s", err, out)
		}
		return r
	}
	r := bench()
	for _, b := range r.PerBenchmark {
		t.Logf("%s: %.1f s, estimated %.1f s (%+v)", b.Benchmark, b.Seconds, b.Estimate, b.Parts)
		if b.Parts.Learned != 1 {
			t.Errorf("%s: corrected by finished jobs before any ran: %+v", b.Benchmark, b.Parts)
		}
		if !(b.Estimate <= 2*b.Seconds && b.Seconds <= 2*b.Estimate) {
			t.Errorf("%s: estimated %.1f s, took %.1f s: not within 2×", b.Benchmark, b.Estimate, b.Seconds)
		}
	}

	// The actual times are kept; the next estimate on these benchmarks is
	// corrected by them.
	learned, err := submissions.OpenCalibrations(store).Learned()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range r.PerBenchmark {
		want := b.Seconds / (b.Estimate / b.Parts.Learned)
		if f, ok := learned[b.Benchmark]; !ok || f != want {
			t.Errorf("%s: learned factor %v (%v), want %v", b.Benchmark, f, ok, want)
		}
	}
	if _, err := os.Stat(filepath.Join(store, submissions.CalibrationFile)); err != nil {
		t.Error(err)
	}
}

type benchResult struct {
	Estimate     float64     `json:"estimate_s"`
	Total        float64     `json:"score_total_s"`
	PerBenchmark []benchTime `json:"per_benchmark"`
}
