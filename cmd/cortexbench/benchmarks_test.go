package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// benchRun runs the CLI and returns stdout and stderr.
func benchRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	err := Run(context.Background(), env, args)
	return out.String(), errb.String(), err
}

// benchDataDir locates the shared datasets: $CORTEXBENCH_DATA or
// ../shared/datasets beside the repository.
func benchDataDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("CORTEXBENCH_DATA")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "datasets")
	}
	if _, err := os.Stat(filepath.Join(d, "algonauts2019-78")); err != nil {
		t.Skipf("datasets folder %s absent (set CORTEXBENCH_DATA): %v", d, err)
	}
	return d
}

// writeBenchDataset writes a small RDM benchmark the way a maintainer
// would: n generated PNG images, a subjects × n × n .npy and a manifest.
// vals maps (subject, i, j) to a dissimilarity; names are the image names.
func writeBenchDataset(t *testing.T, dir, manifest string, names []string, subjects int, val func(s, i, j int) float64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := len(names)
	for k, name := range names {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for p := 0; p < 256; p++ {
			img.Set(p%16, p/16, color.RGBA{uint8(50 * k), uint8(p), uint8(255 - 30*k), 255})
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "images", name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rdms := make([]float64, subjects*n*n)
	for s := 0; s < subjects; s++ {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				v := val(s, i, j)
				rdms[s*n*n+i*n+j], rdms[s*n*n+j*n+i] = v, v
			}
		}
	}
	if err := npy.WriteFile(filepath.Join(dir, "rdms.npy"), []int{subjects, n, n}, rdms); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// smallHeldOut opts a test benchmark of a few stimuli out of region
// commitment, the default under 50 stimuli (issue 16).
const smallHeldOut = "scoring: {selection: held-out}\n"

const benchMaintainerManifest = `id: %s
title: %s
parent: test
%smetadata:
  species: human
  region: IT
  method: fMRI
  licence: CC0-1.0
  citation: "@misc{%s, title = {Generated}, year = {2026}}"
stimuli: {dir: images}
rdms: {file: rdms.npy}
metric: {rsa: {comparison: spearman}}
ceiling: {method: rsa-nili}
`

func benchMaintainerRDM(s, i, j int) float64 {
	return 0.5 + 0.05*float64(i+j) + 0.02*float64((s*5+i*7+j*3)%5)
}

// TestBenchmarksMaintainerPath adds a new dataset with the CLI exactly as a
// maintainer would, then lists and shows it, and opens it as the runner
// will.
func TestBenchmarksMaintainerPath(t *testing.T) {
	data, store := t.TempDir(), t.TempDir()
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	manifest := filepath.Join(data, "manifest.yaml")

	out, _, err := benchRun(t, "benchmarks", "add", "--store", store, manifest)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	for _, want := range []string{"added lab2026.IT", "ceiling:", "(Nili upper bound, Spearman r; R² ", "scores are raw / ceiling", "also computed:", "4 subjects, 6 stimuli"} {
		if !strings.Contains(out, want) {
			t.Errorf("add output lacks %q:\n%s", want, out)
		}
	}
	// Flags after the manifest work too; the same data again is a no-op.
	out, _, err = benchRun(t, "benchmarks", "add", manifest, "--store", store, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		Status    string
		Benchmark struct {
			ID, Version string
			Stimuli     int
			Ceiling     struct {
				Method string
				Upper  *float64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Status != "unchanged" || added.Benchmark.Stimuli != 6 || added.Benchmark.Ceiling.Upper == nil {
		t.Fatalf("add again: %v %+v\n%s", err, added, out)
	}

	out, _, err = benchRun(t, "benchmarks", "list", "--store", store)
	if err != nil || !strings.Contains(out, "lab2026.IT") || !strings.Contains(out, added.Benchmark.Version) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = benchRun(t, "benchmarks", "show", "--store", store, "--json", "lab2026.IT")
	var shown map[string]any
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown["id"] != "lab2026.IT" || shown["stimuli"] != 6.0 {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if out, _, err := benchRun(t, "benchmarks", "show", "--store", store, "nope"); err == nil || exitCode(err) != 1 {
		t.Errorf("show of a missing id: %v\n%s", err, out)
	}

	// Hook for the runner (issue 5): the benchmark opens for scoring.
	// Scoring a model on it belongs here once the runner lands, e.g.
	// runner.Score(ctx, model, loaded).
	ctx := context.Background()
	bucket, srv, err := embedded.Open(ctx, embedded.Config{Dir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	loaded, err := benchmarks.NewRegistry(bucket).Open(ctx, "lab2026.IT")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.RDMs) != 4 || len(loaded.RDMs[0]) != 15 || loaded.Stimuli.Len() != 6 || loaded.Stimuli.Name(0) != "car.png" {
		t.Fatalf("loaded: %d subjects, %d stimuli", len(loaded.RDMs), loaded.Stimuli.Len())
	}
	if img, err := loaded.Stimuli.Image(ctx, 5); err != nil || img.Bounds().Dx() != 16 {
		t.Fatalf("image 5: %v", err)
	}
}

// TestBenchmarksBrokenInput checks the CLI's report of a refused import.
func TestBenchmarksBrokenInput(t *testing.T) {
	store := t.TempDir()
	manifest := filepath.Join("..", "..", "benchmarks", "testdata", "corpus", "asymmetric-rdm", "manifest.yaml")
	_, _, err := benchRun(t, "benchmarks", "add", "--store", store, manifest)
	if err == nil || !strings.Contains(err.Error(), "rdms.npy: subject 1: not symmetric") || exitCode(err) != 1 {
		t.Fatalf("err %v", err)
	}
	out, _, err := benchRun(t, "benchmarks", "list", "--store", store, "--json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("after a refused add, list = %q, %v", out, err)
	}
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store); exitCode(err) != 2 {
		t.Errorf("add without a manifest: %v, want a usage error", err)
	}
}

// benchNumberForms are the ways a value could appear in output.
func benchNumberForms(v float64) []string {
	return []string{strconv.FormatFloat(v, 'g', -1, 64), fmt.Sprint(v), fmt.Sprintf("%.8f", v)}
}

// benchNumberToken matches a number as it could be printed (text or JSON).
var benchNumberToken = regexp.MustCompile(`[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?`)

// benchLeaked returns the first secret found in the outputs, or "": numbers
// are compared with every number printed, other strings by substring.
func benchLeaked(outputs []string, secrets []string) string {
	printed := map[string]bool{}
	for _, o := range outputs {
		for _, tok := range benchNumberToken.FindAllString(o, -1) {
			printed[tok] = true
		}
	}
	joined := strings.Join(outputs, "\n")
	for _, s := range secrets {
		if benchNumberToken.FindString(s) == s {
			if printed[s] {
				return s
			}
		} else if strings.Contains(joined, s) {
			return s
		}
	}
	return ""
}

func assertNoBenchLeak(t *testing.T, outputs []string, secrets []string) {
	t.Helper()
	if s := benchLeaked(outputs, secrets); s != "" {
		t.Fatalf("output contains private datum %q:\n%s", s, strings.Join(outputs, "\n"))
	}
}

func TestBenchmarksLeakedCatches(t *testing.T) {
	for _, c := range []struct {
		out, secret string
		want        bool
	}{
		{`{"x":[0.73131234]}`, "0.73131234", true},
		{"value 0.73131234,", "0.73131234", true},
		{"ceiling 0.731312345", "0.73131234", false},
		{"stimulus secret-okapi.png", "secret-okapi", true},
	} {
		if got := benchLeaked([]string{c.out}, []string{c.secret}) != ""; got != c.want {
			t.Errorf("benchLeaked(%q, %q) = %v, want %v", c.out, c.secret, got, c.want)
		}
	}
}

// TestBenchmarksPrivateNeverPrinted adds a public benchmark and a private
// one that selects on it, runs every command in every output format, and
// checks that no value, stimulus name or file hash of the private data
// appears.
func TestBenchmarksPrivateNeverPrinted(t *testing.T) {
	store := t.TempDir()
	pub, priv := t.TempDir(), t.TempDir()
	writeBenchDataset(t, pub, fmt.Sprintf(benchMaintainerManifest, "lab.public", "Public", smallHeldOut, "pub"), []string{"a.png", "b.png", "c.png", "d.png", "e.png"}, 3, benchMaintainerRDM)
	secretNames := []string{"secret-okapi.png", "secret-narwhal.png", "secret-axolotl.png", "secret-quokka.png", "secret-pangolin.png"}
	secretVal := func(s, i, j int) float64 {
		return 0.7313 + 0.0123457*float64(i+2*j) + 0.00173*float64((s*3+i*5+j)%7) + 1e-9*float64(s)
	}
	writeBenchDataset(t, priv, fmt.Sprintf(benchMaintainerManifest, "lab.private", "Private", "private: true\npartner: lab.public\n", "priv"), secretNames, 3, secretVal)

	var outputs []string
	collect := func(args ...string) {
		t.Helper()
		out, errOut, err := benchRun(t, args...)
		if err != nil {
			outputs = append(outputs, err.Error())
		}
		outputs = append(outputs, out, errOut)
	}
	collect("benchmarks", "add", "--store", store, filepath.Join(pub, "manifest.yaml"))
	for _, js := range []string{"--json=false", "--json"} {
		collect("benchmarks", "add", "--store", store, js, filepath.Join(priv, "manifest.yaml"))
		collect("benchmarks", "list", "--store", store, js)
		collect("benchmarks", "show", "--store", store, js, "lab.private")
	}
	if !strings.Contains(strings.Join(outputs, ""), "lab.private") {
		t.Fatal("the private benchmark was not added")
	}
	// A refused re-import with different data must not echo data either.
	a, err := npy.ReadFile(filepath.Join(priv, "rdms.npy"))
	if err != nil {
		t.Fatal(err)
	}
	vals := a.Float64()
	changed := append([]float64(nil), vals...)
	changed[1], changed[5] = 5.5, 5.5
	if err := npy.WriteFile(filepath.Join(priv, "rdms.npy"), a.Shape, changed); err != nil {
		t.Fatal(err)
	}
	collect("benchmarks", "add", "--store", store, filepath.Join(priv, "manifest.yaml"))
	changed[1] = 4.4 // now asymmetric
	if err := npy.WriteFile(filepath.Join(priv, "rdms.npy"), a.Shape, changed); err != nil {
		t.Fatal(err)
	}
	collect("benchmarks", "add", "--store", store, "--new-version", filepath.Join(priv, "manifest.yaml"))

	joined := strings.Join(outputs, "\n")
	if !strings.Contains(joined, "already exists with different data") || !strings.Contains(joined, "not symmetric") {
		t.Fatalf("the refused re-imports did not report their errors:\n%s", joined)
	}
	var secrets []string
	for i, v := range vals {
		if v != 0 && i%7 != 3 { // every off-diagonal value, some skipped for speed
			secrets = append(secrets, benchNumberForms(v)...)
		}
	}
	secrets = append(secrets, "4.4", "5.5")
	for _, n := range secretNames {
		secrets = append(secrets, strings.TrimSuffix(n, ".png"))
	}
	assertNoBenchLeak(t, outputs, secrets)
}

// TestBenchmarksBuiltin imports every built-in benchmark with the CLI,
// checks that each shows its ceiling, and that no value of the private
// ones (Algonauts 78, Cowley test sessions) appears in any output.
func TestBenchmarksBuiltin(t *testing.T) {
	data := benchDataDir(t)
	store := t.TempDir()
	ids := []string{
		"algonauts2019-92.EVC", "algonauts2019-92.IT", "algonauts2019-78.EVC", "algonauts2019-78.IT",
		"kriegeskorte2008.hIT", "kriegeskorte2008.mIT", "kriegeskorte2008.behaviour",
		"cowley2023.V4.public", "cowley2023.V4",
	}
	var outputs []string
	runOK := func(args ...string) string {
		t.Helper()
		out, errOut, err := benchRun(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut)
		}
		outputs = append(outputs, out, errOut)
		return out
	}
	out := runOK("benchmarks", "import-builtin", "--store", store, "--data", data)
	for _, id := range ids {
		if !strings.Contains(out, "added        "+id+" ") {
			t.Errorf("import-builtin output lacks %s:\n%s", id, out)
		}
	}
	out = runOK("benchmarks", "import-builtin", "--store", store, "--data", data, "--json", "algonauts2019-92.IT", "algonauts2019-92.EVC")
	var again []struct {
		Status    string
		Benchmark struct {
			ID      string
			Ceiling struct {
				UpperR2 float64 `json:"upper_r2"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &again); err != nil || len(again) != 2 {
		t.Fatalf("import-builtin --json: %v\n%s", err, out)
	}
	// Published Algonauts 2019 upper noise ceilings, R² (Cichy et al. 2019;
	// datasets README): IT 0.3075, EVC 0.1589.
	published := map[string]float64{"algonauts2019-92.IT": 0.3075, "algonauts2019-92.EVC": 0.1589}
	for _, a := range again {
		if b := a.Benchmark; a.Status != "unchanged" || math.Abs(b.Ceiling.UpperR2-published[b.ID]) > 0.5e-4 {
			t.Errorf("%s: %s, upper R² %.6f, want unchanged and %.4f", b.ID, a.Status, b.Ceiling.UpperR2, published[b.ID])
		}
	}
	list := runOK("benchmarks", "list", "--store", store)
	// The list's ceiling column says which bound, in r and R² (issue 16).
	if !strings.Contains(list, "CEILING (BOUND r, R²") || !strings.Contains(list, "upper r 0.5346 (R² 0.3075)") {
		t.Errorf("list's ceiling column is not labelled:\n%s", list)
	}
	runOK("benchmarks", "list", "--store", store, "--json")
	for _, id := range ids {
		if !strings.Contains(list, id) {
			t.Errorf("list lacks %s", id)
		}
		show := runOK("benchmarks", "show", "--store", store, id)
		if !strings.Contains(show, "\nceiling:") || !(strings.Contains(show, "Nili upper bound, Spearman r") || strings.Contains(show, "split-half reliability of the repeats") || strings.Contains(show, "none: ")) {
			t.Errorf("show %s has no ceiling line:\n%s", id, show)
		}
		runOK("benchmarks", "show", "--store", store, "--json", id)
	}

	var secrets []string
	for _, f := range []string{
		"algonauts2019-78/rdms/IT.npy", "algonauts2019-78/rdms/EVC.npy",
		"cowley2023-v4/responses_repeat_averaged/responses_190923.npy",
		"cowley2023-v4/responses_repeat_averaged/responses_210325.npy",
	} {
		a, err := npy.ReadFile(filepath.Join(data, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range a.Float64() {
			// Short forms ("0.5", "2") occur in any text; long ones
			// identify a datum.
			if s := strconv.FormatFloat(v, 'g', -1, 64); len(s) >= 8 {
				secrets = append(secrets, s)
			}
		}
	}
	if len(secrets) < 10000 {
		t.Fatalf("only %d distinctive private values", len(secrets))
	}
	assertNoBenchLeak(t, outputs, secrets)
}

// TestBenchmarksShowConventions adds a split-half similarity benchmark
// (benchmarks/testdata/conventions) through the CLI and checks that show,
// show --json and list label its ceiling and conventions (issue 16).
func TestBenchmarksShowConventions(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	names := []string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png", "h.png"}
	const m = `id: lab.halves
title: Split-half test
parent: test
metadata: {species: human, region: IT, method: fMRI, licence: CC0-1.0, citation: "@misc{halves}"}
stimuli: {dir: images, degrees: 8}
rdms: {file: rdms.npy, form: split-half-similarity}
metric: {rsa: {comparison: spearman}}
ceiling: {method: rsa-nili, bound: halves}
scoring: {selection: held-out, transform: squared-clipped, features: zscore}
`
	writeBenchDataset(t, dir, m, names, 3, func(s, i, j int) float64 { return float64(i + j) })
	fixture, err := os.ReadFile(filepath.Join("..", "..", "benchmarks", "testdata", "conventions", "splithalf.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rdms.npy"), fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(dir, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	show, _, err := benchRun(t, "benchmarks", "show", "--store", store, "lab.halves")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("show:\n%s", show)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ceiling: +0\.3735 \(split-half reliability of the two triangles, Spearman–Brown corrected, Spearman r; R² 0\.\d{4}; scores are \(raw / ceiling\)², the ratio clipped to \[0, 1\] first\)$`),
		regexp.MustCompile(`(?m)^also computed: +upper -?0\.\d{4} \(R² 0\.\d{4}\); lower -?0\.\d{4} \(R² 0\.\d{4}\); leave-one-subject-out -?0\.\d{4} \(R² 0\.\d{4}\)$`),
		regexp.MustCompile(`(?m)^form: +split-half-similarity matrices \(asymmetric; symmetrised for scoring, diagonal excluded\); mean diagonal -?\d\.\d{4}`),
		regexp.MustCompile(`(?m)^features: +zscore$`),
		regexp.MustCompile(`(?m)^stimulus size: +8° of visual angle$`),
	} {
		if !want.MatchString(show) {
			t.Errorf("show lacks %s:\n%s", want, show)
		}
	}
	out, _, err := benchRun(t, "benchmarks", "show", "--store", store, "--json", "lab.halves")
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Ceiling struct {
			Bound, Units, Transform string
			Value                   *float64
			ValueR2                 *float64 `json:"value_r2"`
			Halves                  *float64
		}
		Scoring struct {
			Transform, Features, Selection, Form string
			Degrees                              float64
			Diagonal                             *float64
		}
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c, sc := js.Ceiling, js.Scoring
	if c.Bound != "halves" || c.Units != "r" || c.Value == nil || c.Halves == nil || *c.Value != *c.Halves || math.Abs(*c.Value-0.3734865161562661) > 1e-10 || c.ValueR2 == nil {
		t.Errorf("ceiling JSON %s", out)
	}
	if sc.Transform != "squared-clipped" || sc.Features != "zscore" || sc.Selection != "held-out" || sc.Form != "split-half-similarity" || sc.Degrees != 8 || sc.Diagonal == nil {
		t.Errorf("scoring JSON %+v", sc)
	}
	list, _, err := benchRun(t, "benchmarks", "list", "--store", store)
	if err != nil || !strings.Contains(list, "halves r 0.3735 (R² ") {
		t.Errorf("list (%v):\n%s", err, list)
	}
}
