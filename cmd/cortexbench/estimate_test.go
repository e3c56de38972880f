package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
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
	if !(cal.ForwardFLOPS > 1e8 && cal.GemmFLOPS > 1e8 && cal.RankSeconds > 0 && cal.DrawnRankSeconds > 0 && cal.Machine.Cores > 0 && cal.Machine.ORT != "") {
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

	// A server on this store estimates submissions with it.
	var errb bytes.Buffer
	useCalibration(ctx, &Env{Stderr: &errb, Stdout: &errb, Getenv: env.Getenv}, &platform{storeDir: store}, rt)
	t.Cleanup(func() { submissions.UseCalibration(nil, nil) })
	if cals, c := submissions.CurrentCalibration(); cals == nil || c == nil || !c.MeasuredAt.Equal(cal.MeasuredAt) || errb.Len() != 0 {
		t.Fatalf("server start-up did not take the kept calibration: %+v\n%s", c, errb.String())
	}
	if est := submissions.EstimateCost(submissions.EstimateInput{Params: 1e6, Stimuli: []int{92}}); !est.Calibrated {
		t.Errorf("submission estimate not calibrated: %+v", est)
	}
	submissions.UseCalibration(nil, nil)

	model := filepath.Join(modelsDir, "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	out, e, err = runWith(ctx, t, vars, "score", "--model", model, "--preprocess", "mobilenet_v2_float,size=128",
		"--benchmark", ids, "--store", store, "--json")
	if err != nil {
		t.Fatal(err, e)
	}
	t.Logf("calibration %+v\n%s", cal, e)
	if !strings.Contains(e, "plan: mobilenet_v1_0.5_128_float32 on 2 benchmark(s), estimate ~") || !strings.Contains(e, "0 of 2 benchmark(s) corrected by finished jobs") {
		t.Errorf("score printed no estimate before scoring:\n%s", e)
	}
	var scores []struct {
		Benchmark string  `json:"benchmark"`
		Seconds   float64 `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(out), &scores); err != nil || len(scores) != 2 {
		t.Fatalf("score --json: %v\n%s", err, out)
	}
	// The times kept are each score's, beside what was predicted for it.
	var kept struct{ Jobs []submissions.JobRecord }
	data, err := os.ReadFile(filepath.Join(store, submissions.CalibrationFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &kept); err != nil || len(kept.Jobs) != 2 {
		t.Fatalf("jobs kept: %v\n%s", err, data)
	}
	for i, j := range kept.Jobs {
		t.Logf("%s: %.3f s, estimated %.3f s", j.Benchmark, j.Seconds, j.Predicted)
		if j.Benchmark != scores[i].Benchmark || math.Abs(j.Seconds-scores[i].Seconds) > 0.01 {
			t.Errorf("kept %+v for the score %+v", j, scores[i])
		}
	}
	if bad := outside2x(kept.Jobs); bad != "" {
		// Another process's burst during the calibration or the scoring
		// (CI runs test packages side by side on 2 cores) moves one side
		// only: measure both once more on a fresh store, and judge that.
		t.Logf("first attempt not within 2× (%s); calibrating and scoring again on a fresh store", bad)
		retry := filepath.Join(t.TempDir(), "objects")
		if _, e, err := runWith(ctx, t, vars, "benchmarks", "import-builtin", "--store", retry, "--data", filepath.Join(sh, "datasets"), "kriegeskorte2008.hIT", "kriegeskorte2008.mIT"); err != nil {
			t.Fatal(err, e)
		}
		if _, e, err := runWith(ctx, t, vars, "bench", "--calibrate", "--json", "--store", retry, "--models", modelsDir); err != nil {
			t.Fatal(err, e)
		}
		if _, e, err := runWith(ctx, t, vars, "score", "--model", model, "--preprocess", "mobilenet_v2_float,size=128", "--benchmark", ids, "--store", retry); err != nil {
			t.Fatal(err, e)
		}
		var again struct{ Jobs []submissions.JobRecord }
		if d, err := os.ReadFile(filepath.Join(retry, submissions.CalibrationFile)); err != nil || json.Unmarshal(d, &again) != nil || len(again.Jobs) != 2 {
			t.Fatalf("second attempt's jobs: %v\n%s", err, d)
		}
		if bad := outside2x(again.Jobs); bad != "" {
			t.Errorf("estimates not within 2× of the actual times, twice: %s", bad)
		}
	}

	// The next estimate on these benchmarks is corrected by them; scores
	// read back from the store are not timings.
	_, e, err = runWith(ctx, t, vars, "score", "--model", model, "--preprocess", "mobilenet_v2_float,size=128",
		"--benchmark", ids, "--store", store)
	if err != nil {
		t.Fatal(err, e)
	}
	if !strings.Contains(e, "2 of 2 benchmark(s) corrected by finished jobs") {
		t.Errorf("second estimate not corrected by the first run:\n%s", e)
	}
	if data2, _ := os.ReadFile(filepath.Join(store, submissions.CalibrationFile)); !bytes.Equal(data, data2) {
		t.Errorf("stored scores read back were kept as timings:\n%s", data2)
	}
}

// outside2x names the jobs whose estimate is not within 2× of their time.
func outside2x(jobs []submissions.JobRecord) string {
	var bad []string
	for _, j := range jobs {
		if !(j.Predicted <= 2*j.Seconds && j.Seconds <= 2*j.Predicted) {
			bad = append(bad, fmt.Sprintf("%s: estimated %.1f s, took %.1f s", j.Benchmark, j.Predicted, j.Seconds))
		}
	}
	return strings.Join(bad, "; ")
}
