package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestBenchOneRun: 'bench' scores its benchmarks in one Run, as the main
// job does (issue 18), so work they share is done once and its report
// says where: two benchmarks on the same 92 images and distance share the
// layer RDMs, so the second line has no extraction or RDMs of its own; the
// lines' stages add up to the run's, and their times to no more than the
// scoring total.
func TestBenchOneRun(t *testing.T) {
	ortAvailable(t)
	sh := shared(t)
	ctx := t.Context()
	store := filepath.Join(t.TempDir(), "objects")
	env, _, _ := modelsEnv(t)
	vars := map[string]string{"CORTEXBENCH_ONNXRUNTIME_LIB": env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")}
	if _, e, err := runWith(ctx, t, vars, "benchmarks", "import-builtin", "--store", store, "--data", filepath.Join(sh, "datasets"), "kriegeskorte2008.hIT", "kriegeskorte2008.mIT"); err != nil {
		t.Fatal(err, e)
	}
	modelsDir := filepath.Join(sh, "models")
	model := filepath.Join(modelsDir, "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	out, e, err := runWith(ctx, t, vars, "bench", "--model", model, "--preprocess", "mobilenet_v2_float,size=128",
		"--benchmark", "kriegeskorte2008.hIT,kriegeskorte2008.mIT", "--bootstrap", "50", "--store", store, "--models", modelsDir, "--json")
	if err != nil {
		t.Fatal(err, e)
	}
	type stages struct {
		IO         float64 `json:"io_s"`
		Extraction float64 `json:"extraction_s"`
		LayerMath  float64 `json:"layer_math_s"`
		Selection  float64 `json:"selection_s"`
		Ceilings   float64 `json:"ceilings_s"`
		Bootstrap  float64 `json:"bootstrap_s"`
	}
	var res struct {
		Images       int      `json:"images"`
		Forward      float64  `json:"forward_s"`
		Before       float64  `json:"forward_before_s"`
		After        float64  `json:"forward_after_s"`
		Total        float64  `json:"score_total_s"`
		Extraction   float64  `json:"score_extraction_s"`
		Ratio        float64  `json:"ratio_to_forward"`
		Graph        string   `json:"forward_graph"`
		Folded       float64  `json:"forward_folded_s"`
		RatioFolded  float64  `json:"ratio_to_forward_folded"`
		Peak         int64    `json:"peak_rss_bytes"`
		ForwardPeak  int64    `json:"forward_peak_rss_bytes"`
		Stages       stages   `json:"stages"`
		CPU          benchCPU `json:"cpu"`
		PerBenchmark []struct {
			Benchmark string  `json:"benchmark"`
			Seconds   float64 `json:"seconds"`
			Stages    stages  `json:"stages"`
		} `json:"per_benchmark"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if res.Images != 92 || res.Forward <= 0 || res.Total <= 0 || len(res.PerBenchmark) != 2 {
		t.Fatalf("bench --json: %+v", res)
	}
	if res.ForwardPeak <= 0 || res.ForwardPeak > res.Peak {
		t.Errorf("peak RSS %d, by the end of the bare passes %d", res.Peak, res.ForwardPeak)
	}
	// the reference: the mean of the bare passes before and after scoring
	if res.Before <= 0 || res.After <= 0 || math.Abs(res.Forward-(res.Before+res.After)/2) > 1e-6 {
		t.Errorf("forward_s %g: not the mean of the bare passes before (%g s) and after (%g s) scoring", res.Forward, res.Before, res.After)
	}
	if math.Abs(res.Ratio-res.Total/res.Forward) > 1e-9 {
		t.Errorf("ratio_to_forward %g, total/forward %g", res.Ratio, res.Total/res.Forward)
	}
	// the reference runs the graph as given; the graph scoring runs is
	// timed beside it (--folded, the default)
	if res.Graph != "as given" || res.Folded <= 0 || math.Abs(res.RatioFolded-res.Total/res.Folded) > 1e-9 {
		t.Errorf("forward_graph %q, forward_folded_s %g, ratio_to_forward_folded %g (total %g s)", res.Graph, res.Folded, res.RatioFolded, res.Total)
	}
	// CPU time: the work of each part, spread over the cores at best,
	// cannot take less than its wall time divided by the cores.
	c := res.CPU
	if c.Cores < 1 || c.ForwardCPU <= 0 || c.ScoreCPU <= 0 {
		t.Errorf("cpu: %+v", c)
	}
	if c.ForwardBusy > float64(c.Cores)*1.05 || c.ScoreBusy > float64(c.Cores)*1.05 {
		t.Errorf("cpu: more cores busy than the machine has: %+v", c)
	}
	if math.Abs(c.ScoreBusy-c.ScoreCPU/res.Total) > 1e-9 || math.Abs(c.FloorRatio-c.ScoreCPU/(float64(c.Cores)*res.Forward)) > 1e-9 {
		t.Errorf("cpu: busy cores or floor do not follow from the times: %+v (forward %g s, total %g s)", c, res.Forward, res.Total)
	}
	if math.Abs(c.WorkRatio-c.ScoreCPU/c.ForwardCPU) > 1e-9 || math.Abs(c.WorkRatio*c.ForwardBusy/c.ScoreBusy-res.Ratio) > 1e-6*res.Ratio {
		t.Errorf("cpu: the work ratio %g does not follow from the CPU times, or times the utilisations is not the ratio %g: %+v", c.WorkRatio, res.Ratio, c)
	}
	if c.FloorRatio > res.Ratio*1.05 {
		t.Errorf("cpu: the floor %g is above the ratio reached %g", c.FloorRatio, res.Ratio)
	}
	hIT, mIT := res.PerBenchmark[0], res.PerBenchmark[1]
	if hIT.Benchmark != "kriegeskorte2008.hIT" || mIT.Benchmark != "kriegeskorte2008.mIT" {
		t.Fatalf("lines %s, %s", hIT.Benchmark, mIT.Benchmark)
	}
	if hIT.Stages.Extraction <= 0 || hIT.Stages.LayerMath <= 0 || hIT.Stages.Bootstrap <= 0 {
		t.Errorf("hIT's line lacks its own work: %+v", hIT)
	}
	if mIT.Stages.Extraction != 0 || mIT.Stages.LayerMath != 0 || mIT.Stages.Selection <= 0 {
		t.Errorf("mIT's line: want the layer RDMs of hIT reused (no extraction, no RDMs) and its own selection: %+v", mIT)
	}
	sum := hIT.Stages.Extraction + mIT.Stages.Extraction
	if math.Abs(sum-res.Stages.Extraction) > 1e-6 || math.Abs(hIT.Stages.Bootstrap+mIT.Stages.Bootstrap-res.Stages.Bootstrap) > 1e-6 {
		t.Errorf("lines do not add up to the run: %+v", res)
	}
	if hIT.Seconds+mIT.Seconds > res.Total+1e-6 {
		t.Errorf("lines take %.3f s of a %.3f s run", hIT.Seconds+mIT.Seconds, res.Total)
	}
}

// TestKernelsNote: bench points out an $OPENBLAS_CORETYPE that holds
// OpenBLAS to AVX2 kernels on an AVX-512 CPU, and nothing otherwise.
func TestKernelsNote(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	note := kernelsNote("Haswell")
	if cpu.X86.HasAVX512F != (note != "") {
		t.Errorf("AVX-512 %v, note %q", cpu.X86.HasAVX512F, note)
	}
	if note != "" && !strings.Contains(note, "OPENBLAS_CORETYPE=Haswell") {
		t.Errorf("note %q does not name the variable", note)
	}
	if note := kernelsNote("Cooperlake"); note != "" {
		t.Errorf("AVX-512 kernels noted: %q", note)
	}
	t.Setenv("OPENBLAS_CORETYPE", "")
	if note := kernelsNote("Haswell"); note != "" {
		t.Errorf("OpenBLAS's own choice noted: %q", note)
	}
}
