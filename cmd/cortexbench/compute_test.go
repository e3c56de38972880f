package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/storage/npy"
)

// dataDir locates the shared datasets folder: $CORTEXBENCH_DATA, else
// ../shared/datasets next to the repository.
func dataDir(t testing.TB) string {
	d := os.Getenv("CORTEXBENCH_DATA")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "datasets")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("datasets folder %s absent (set CORTEXBENCH_DATA): %v", d, err)
	}
	return d
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	err := Run(context.Background(), env, args)
	return out.String(), errb.String(), err
}

func writeNPY(t *testing.T, dir, name string, shape []int, data any) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := npy.WriteFile(p, shape, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, s)
	}
	return m
}

// TestComputeRDMAndCompare: the RDM of features_f64.npy must equal scipy's
// pdist (testdata/rdm_f64_correlation.npy, scipy 1.10.1), and comparing a
// full RDM with itself as a vector gives 1.
func TestComputeRDMAndCompare(t *testing.T) {
	dir := t.TempDir()
	td := filepath.Join("..", "..", "scoring", "testdata")
	out := filepath.Join(dir, "r.npy")
	stdout, stderr, err := run(t, "compute", "rdm", "--features", filepath.Join(td, "features_f64.npy"), "--out", out)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if m := decode(t, stdout); m["stimuli"] != 20.0 {
		t.Errorf("stdout %v", m)
	}
	got, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(td, "rdm_f64_correlation.npy"))
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Float64(), want.Float64()
	for i := range w {
		if math.Abs(g[i]-w[i]) > 1e-10 {
			t.Fatalf("entry %d: %v vs scipy %v", i, g[i], w[i])
		}
	}
	// Same RDM as a vector.
	n := 20
	var up []float64
	for i := 0; i < n; i++ {
		up = append(up, w[i*n+i+1:i*n+n]...)
	}
	vec := writeNPY(t, dir, "v.npy", []int{len(up)}, up)
	for _, m := range []string{"spearman", "pearson", "kendall-tau-a"} {
		stdout, stderr, err = run(t, "compute", "compare", "--a", out, "--b", vec, "--method", m)
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		if v := decode(t, stdout)["value"].(float64); math.Abs(v-1) > 1e-12 {
			t.Errorf("%s of an RDM with itself = %v", m, v)
		}
	}
}

// TestComputeCeilingAlgonauts: the published Algonauts 2019 upper ceilings
// (R²: EVC 0.1589, IT 0.3075) through the command line.
func TestComputeCeilingAlgonauts(t *testing.T) {
	d := dataDir(t)
	for roi, want := range map[string]float64{"EVC": 0.1589, "IT": 0.3075} {
		stdout, stderr, err := run(t, "compute", "ceiling", "--rdms", filepath.Join(d, "algonauts2019-92", "rdms", roi+".npy"))
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		m := decode(t, stdout)
		if got := math.Round(m["upper_r2"].(float64)*1e4) / 1e4; got != want {
			t.Errorf("%s upper_r2 %v, published %v", roi, m["upper_r2"], want)
		}
		for _, k := range []string{"upper", "lower", "lower_r2"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s: missing %s", roi, k)
			}
		}
	}
	// subjects × sessions × n × n is averaged over sessions: equals the
	// session-mean file (to rounding of the mean).
	a, _, err := run(t, "compute", "ceiling", "--rdms", filepath.Join(d, "kriegeskorte2008-92", "rdms", "hIT_subject_session_rdms.npy"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := run(t, "compute", "ceiling", "--rdms", filepath.Join(d, "kriegeskorte2008-92", "rdms", "hIT_subject_rdms_sessionmean.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if x, y := decode(t, a)["upper"].(float64), decode(t, b)["upper"].(float64); math.Abs(x-y) > 1e-6 {
		t.Errorf("session-averaged ceiling %v differs from the session-mean file's %v", x, y)
	}
	// rsatoolbox's pooling (ranks averaged): EVC upper R² 0.163757 from
	// scoring/ceiling/testdata/gen_pooled.py (numpy 1.24.2, scipy 1.10.1).
	stdout, stderr, err := run(t, "compute", "ceiling", "--rdms", filepath.Join(d, "algonauts2019-92", "rdms", "EVC.npy"), "--pool", "standardized")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if m := decode(t, stdout); math.Abs(m["upper_r2"].(float64)-0.16375706848064878) > 1e-10 || m["pool"] != "standardized" {
		t.Errorf("--pool standardized: %v", m)
	}
}

func TestComputeReliability(t *testing.T) {
	dir := t.TempDir()
	// 2 targets × 4 stimuli × 2 repeats; target 1's stimulus 3 has one repeat.
	data := []float64{
		1, 1.1, 2, 2.2, 3, 2.9, 4, 4.1,
		1, 0.9, 3, 3.1, 2, 2.2, 5, math.NaN(),
	}
	p := writeNPY(t, dir, "r.npy", []int{2, 4, 2}, data)
	stdout, stderr, err := run(t, "compute", "reliability", "--responses", p, "--splits", "5", "--seed", "3")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	m := decode(t, stdout)
	pt := m["per_target"].([]any)
	if len(pt) != 2 || m["median"] == nil {
		t.Fatalf("stdout %v", m)
	}
	if v := pt[0].(float64); !(v > 0.9 && v <= 1) {
		t.Errorf("target 0 reliability %v", v)
	}
}

// TestComputeBadInput: every bad input exits non-zero with an error that
// says what is wrong, and nothing on stdout.
func TestComputeBadInput(t *testing.T) {
	dir := t.TempDir()
	feat := []float64{1, 2, 3, 4, 5, 6, 7, 8, math.NaN(), 1, 2, 4}
	nanFeat := writeNPY(t, dir, "nan.npy", []int{4, 3}, feat)
	two := writeNPY(t, dir, "two.npy", []int{2, 3}, feat[:6])
	flat := writeNPY(t, dir, "flat.npy", []int{3, 2}, []float64{1, 2, 5, 5, 3, 1})
	asym := writeNPY(t, dir, "asym.npy", []int{3, 3}, []float64{0, 1, 2, 1.5, 0, 3, 2, 3, 0})
	rect := writeNPY(t, dir, "rect.npy", []int{3, 4}, make([]float64, 12))
	vec := writeNPY(t, dir, "vec.npy", []int{4}, []float64{1, 2, 3, 4})
	vec3 := writeNPY(t, dir, "vec3.npy", []int{3}, []float64{1, 2, 3})
	one := writeNPY(t, dir, "one.npy", []int{1, 3, 3}, []float64{0, 1, 2, 1, 0, 3, 2, 3, 0})
	resp := writeNPY(t, dir, "resp.npy", []int{2, 3}, make([]float64, 6))
	garbage := filepath.Join(dir, "garbage.npy")
	os.WriteFile(garbage, []byte("not numpy"), 0o644)
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"compute", "rdm", "--features", nanFeat, "--out", filepath.Join(dir, "o.npy")}, "stimulus 2, feature 2 is NaN"},
		{[]string{"compute", "rdm", "--features", two, "--out", filepath.Join(dir, "o.npy")}, "fewer than 3 stimuli"},
		{[]string{"compute", "rdm", "--features", flat, "--out", filepath.Join(dir, "o.npy")}, "stimulus 1 has the same value"},
		{[]string{"compute", "rdm", "--features", vec, "--out", filepath.Join(dir, "o.npy")}, "want 2-D"},
		{[]string{"compute", "rdm", "--features", flat, "--metric", "l1", "--out", filepath.Join(dir, "o.npy")}, "unknown metric"},
		{[]string{"compute", "rdm", "--features", garbage, "--out", filepath.Join(dir, "o.npy")}, "bad magic"},
		{[]string{"compute", "compare", "--a", asym, "--b", asym}, "not symmetric"},
		{[]string{"compute", "compare", "--a", rect, "--b", rect}, "want a square"},
		{[]string{"compute", "compare", "--a", vec, "--b", vec3}, "differ in length"},
		{[]string{"compute", "compare", "--a", vec, "--b", vec, "--method", "cosine"}, "unknown method"},
		{[]string{"compute", "ceiling", "--rdms", one}, "fewer than 2 subjects"},
		{[]string{"compute", "ceiling", "--rdms", rect}, "want subjects × n × n"},
		{[]string{"compute", "ceiling", "--rdms", one, "--pool", "median"}, "unknown pooling"},
		{[]string{"compute", "reliability", "--responses", resp}, "targets × stimuli × repeats"},
		{[]string{"compute", "reliability", "--responses", filepath.Join(dir, "missing.npy")}, "no such file"},
	}
	for _, c := range cases {
		stdout, _, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want an error mentioning %q", c.args[1:], err, c.msg)
		}
		if stdout != "" {
			t.Errorf("%v: wrote %q to stdout", c.args[1:], stdout)
		}
		if exitCode(err) == 0 {
			t.Errorf("%v: exit code 0", c.args[1:])
		}
	}
	// Missing flags and unknown subcommands are usage errors (exit 2).
	for _, args := range [][]string{{"compute"}, {"compute", "nope"}, {"compute", "rdm"}, {"compute", "compare", "--a", vec}} {
		_, _, err := run(t, args...)
		if !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestRunTable runs the ceilings command on the shared datasets and checks the
// published Algonauts values appear.
func TestRunTable(t *testing.T) {
	d := dataDir(t)
	stdout, stderr, err := run(t, "ceilings", "--data", d, "--splits", "10")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	for _, want := range []string{"0.1589", "0.3075", "no ceiling: group RDM only", "cowley2023-v4"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = run(t, "ceilings", "--data", d, "--json", "--splits", "10")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Ceilings []struct {
			Dataset, Region string
			UpperR2         *float64 `json:"upper_r2"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Ceilings) < 10 || res.Ceilings[1].UpperR2 == nil || math.Round(*res.Ceilings[1].UpperR2*1e4) != 3075 {
		t.Errorf("JSON %s", stdout)
	}
	if _, _, err := run(t, "ceilings", "--data", filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("missing data dir: %v", err)
	}
}
