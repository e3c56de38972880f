package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/httpapi"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
)

// TestCompareModelsCLI scores two tiny models on a generated RSA
// benchmark and a generated encoding (ridge) benchmark, and one of them
// on a second RSA benchmark, then runs 'compare --models A,B' (issue 17,
// finding 7): the RSA row by the paired bootstrap over stimuli, the
// encoding row paired over splits, the one-sided benchmark listed as not
// compared, the same JSON for the same seed, a text table, models named
// by name or id prefix, and clear refusals. The older single-benchmark
// form keeps working beside it, and the server's /api/v1/compare answers
// the same document.
func TestCompareModelsCLI(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	other := t.TempDir()
	writeBenchDataset(t, other, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT2", "Lab 2026 IT, second", smallHeldOut, "lab2026b"), names, 3, benchMaintainerRDM)
	addRidgeBench(t, store, func(i int) float64 { return float64((i*5)%7)/7 + float64(i%3)/5 })
	for _, m := range []string{filepath.Join(data, "manifest.yaml"), filepath.Join(other, "manifest.yaml")} {
		if _, e, err := benchRun(t, "benchmarks", "add", "--store", store, m); err != nil {
			t.Fatal(err, e)
		}
	}
	const spec = "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW"
	score := func(name string, onnx []byte, benchmarks ...string) {
		file := filepath.Join(state, name+".onnx")
		if err := os.WriteFile(file, onnx, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, b := range benchmarks {
			if _, errOut, err := scoreRun(t, "score", "--model", file, "--name", name, "--preprocess", spec,
				"--benchmark", b, "--store", store, "--db", db, "--bootstrap", "20"); err != nil {
				t.Fatalf("score %s on %s: %v\n%s", name, b, err, errOut)
			}
		}
	}
	score("tiny-a", onnxtest.TinyCNN().Bytes(), "lab2026.IT", "lab2026.ridge", "lab2026.IT2")
	score("tiny-b", otherTinyCNN(), "lab2026.IT", "lab2026.ridge")

	base := []string{"compare", "--store", store, "--db", db, "--resamples", "200", "--seed", "3"}
	out, errOut, err := scoreRun(t, append(base, "--models", "tiny-a,tiny-b", "--json")...)
	if err != nil {
		t.Fatalf("compare --models: %v\n%s", err, errOut)
	}
	var doc struct {
		A, B       struct{ Hash, Name string }
		Resamples  int
		Seed       uint64
		Benchmarks []struct {
			Benchmark struct{ ID string }
			A, B      struct {
				Score *float64
				CI    [2]*float64
				Layer string
			}
			Units    string
			Diff     *float64
			CI       [2]*float64
			P, Q     *float64
			Test     string
			Note     string
			Reliable bool
		}
		NotCompared []struct {
			Benchmark struct{ ID string }
			Has       string
		} `json:"not_compared"`
		Summary struct {
			Compared int
			AWins    int `json:"a_wins"`
			BWins    int `json:"b_wins"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("compare --models --json: %v\n%s", err, out)
	}
	if doc.A.Name != "tiny-a" || doc.B.Name != "tiny-b" || doc.Resamples != 200 || doc.Seed != 3 || len(doc.Benchmarks) != 2 || doc.Summary.Compared != 2 {
		t.Fatalf("want tiny-a vs tiny-b on 2 benchmarks, 200 resamples, seed 3:\n%s", out)
	}
	tests := map[string]string{}
	for _, r := range doc.Benchmarks {
		tests[r.Benchmark.ID] = r.Test
		if r.Diff == nil || r.CI[0] == nil || r.CI[1] == nil || r.P == nil || r.Q == nil || *r.CI[0] > *r.CI[1] || *r.P <= 0 || *r.P > 1 || *r.Q < *r.P {
			t.Errorf("%s: diff %v CI %v p %v q %v", r.Benchmark.ID, r.Diff, r.CI, r.P, r.Q)
		}
		if r.A.Score == nil || r.B.Score == nil || r.A.Layer == "" || r.B.Layer == "" {
			t.Errorf("%s: scores %v %v layers %q %q", r.Benchmark.ID, r.A.Score, r.B.Score, r.A.Layer, r.B.Layer)
		}
	}
	if tests["lab2026.IT"] != leaderboard.TestPairedStimuli || tests["lab2026.ridge"] != leaderboard.TestPairedSplits {
		t.Errorf("tests %v: want the bootstrap over stimuli on lab2026.IT and paired over splits on lab2026.ridge\n%s", tests, out)
	}
	if len(doc.NotCompared) != 1 || doc.NotCompared[0].Benchmark.ID != "lab2026.IT2" || doc.NotCompared[0].Has != "a" {
		t.Errorf("not compared %+v, want lab2026.IT2 (only A)", doc.NotCompared)
	}
	// The same seed gives the same document; the models may be named by
	// id prefix (8 hex digits or more).
	again, _, err := scoreRun(t, append(base, "--models", "tiny-a,"+doc.B.Hash[:8], "--json")...)
	if err != nil || again != out {
		t.Errorf("same seed, B by id prefix: different output (%v):\n%s\n%s", err, out, again)
	}
	table, _, err := scoreRun(t, append(base, "--models", "tiny-a,tiny-b")...)
	t.Logf("compare --models tiny-a,tiny-b:\n%s", table)
	for _, want := range []string{"B−A [95% CI]", "lab2026.IT", "paired bootstrap over stimuli", "lab2026.ridge", "paired over splits",
		"not compared: lab2026.IT2: only tiny-a (A) has a score", "summary: 2 benchmark(s) compared"} {
		if err != nil || !strings.Contains(table, want) {
			t.Errorf("compare --models table lacks %q (%v):\n%s", want, err, table)
		}
	}
	// --benchmark limits the rows.
	one, _, err := scoreRun(t, append(base, "--models", "tiny-a,tiny-b", "--benchmark", "lab2026.ridge", "--json")...)
	if err != nil || strings.Contains(one, `"id":"lab2026.IT"`) || !strings.Contains(one, `"id":"lab2026.ridge"`) {
		t.Errorf("--benchmark lab2026.ridge (%v): %s", err, one)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--models", "tiny-a,tiny-c"}, "closest names: tiny-a"},
		{[]string{"--models", "tiny-a"}, "give exactly two models"},
		{[]string{"--models", "tiny-a,tiny-a"}, "two different models"},
		{[]string{"--models", "tiny-a,tiny-b", "--benchmark", "nosuch.IT"}, "no benchmark"},
		{[]string{"--benchmark", "lab2026.IT", "--benchmark", "lab2026.ridge"}, "give --models A,B"},
	} {
		_, _, err := scoreRun(t, append(base, c.args...)...)
		if !errors.Is(err, errInput) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("compare %v: %v, want a refusal saying %q", c.args, err, c.says)
		}
	}
	// The older form still compares every pair on one RSA benchmark.
	old, _, err := scoreRun(t, append(base, "--benchmark", "lab2026.IT")...)
	if err != nil || !strings.Contains(old, "Q (BH)") || !strings.Contains(old, "tiny-b") {
		t.Errorf("compare --benchmark (%v):\n%s", err, old)
	}

	// The server's route, wired as 'serve' wires it.
	env, _, _ := modelsEnv(t)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	pf := addPlatformFlags(env, fs)
	if err := fs.Parse([]string{"--store", store, "--db", db}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	plat, err := pf.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer plat.close(ctx)
	gin.SetMode(gin.ReleaseMode)
	srv, err := httpapi.NewServer(httpapi.Config{Comparer: plat.comparer()}, plat.board(), plat.rdms())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/compare?models=tiny-a,tiny-b", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"test":"paired bootstrap over stimuli"`) || !strings.Contains(rec.Body.String(), `"test":"paired over splits"`) {
		t.Errorf("GET /api/v1/compare: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/compare?models=tiny-a,tiny-z", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "closest names") {
		t.Errorf("GET /api/v1/compare unknown model: %d %s", rec.Code, rec.Body)
	}
}
