package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/httpapi"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/scoring/compare"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
)

// otherTinyCNN is TinyCNN with other deterministic weights, so that its
// RDMs differ.
func otherTinyCNN() []byte {
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 3, 8, 8).Output("pool")
	w := make([]float32, 2*3*3*3)
	for i := range w {
		w[i] = float32((i*7)%11-5) / 10
	}
	b.Initializer("w", []int64{2, 3, 3, 3}, w)
	b.Node("Conv", []string{"image", "w"}, []string{"conv"}, onnxmodel.AttrInts("kernel_shape", 3, 3))
	b.Node("Relu", []string{"conv"}, []string{"relu"})
	b.Node("MaxPool", []string{"relu"}, []string{"pool"}, onnxmodel.AttrInts("kernel_shape", 2, 2), onnxmodel.AttrInts("strides", 2, 2))
	return b.Bytes()
}

// TestCompareCLI scores two tiny models on a generated RSA benchmark, then
// compares them: one pair with its difference, interval, p and q, the
// same output for the same seed, and a clear refusal of an unknown
// benchmark.
func TestCompareCLI(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	for name, onnx := range map[string][]byte{"tiny-a": onnxtest.TinyCNN().Bytes(), "tiny-b": otherTinyCNN()} {
		file := filepath.Join(state, name+".onnx")
		if err := os.WriteFile(file, onnx, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, errOut, err := scoreRun(t, "score", "--model", file, "--name", name, "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
			"--benchmark", "lab2026.IT", "--store", store, "--db", db, "--bootstrap", "20"); err != nil {
			t.Fatalf("score %s: %v\n%s", name, err, errOut)
		}
	}
	// A private partner: scored on the layer committed on lab2026.IT.
	priv := t.TempDir()
	writeBenchDataset(t, priv, fmt.Sprintf(benchMaintainerManifest, "lab2026.priv", "Lab 2026 private", "private: true\npartner: lab2026.IT\n", "lab2026p"), names, 3, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(priv, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tiny-a", "tiny-b"} {
		if _, errOut, err := scoreRun(t, "score", "--model", filepath.Join(state, name+".onnx"), "--name", name, "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
			"--benchmark", "lab2026.priv", "--store", store, "--db", db, "--bootstrap", "20"); err != nil {
			t.Fatalf("score %s on the private benchmark: %v\n%s", name, err, errOut)
		}
	}
	args := []string{"compare", "--benchmark", "lab2026.IT", "--resamples", "200", "--seed", "7", "--store", store, "--db", db}
	out, errOut, err := scoreRun(t, append(args, "--json")...)
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, errOut)
	}
	var doc struct {
		Resamples int
		Seed      uint64
		Models    []struct {
			Model struct{ Name string }
			Score *float64
		}
		Skipped []json.RawMessage
		Pairs   []struct {
			A, B        string
			Diff        *float64
			CI          [2]*float64
			P, Q        *float64
			Significant bool
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("compare --json: %v\n%s", err, out)
	}
	if doc.Resamples != 200 || doc.Seed != 7 || len(doc.Models) != 2 || len(doc.Skipped) != 0 || len(doc.Pairs) != 1 {
		t.Fatalf("compare --json: want 2 models, 1 pair, 200 resamples, seed 7:\n%s", out)
	}
	p := doc.Pairs[0]
	if p.Diff == nil || p.CI[0] == nil || p.CI[1] == nil || p.P == nil || p.Q == nil {
		t.Fatalf("pair lacks numbers: %s", out)
	}
	if *p.P <= 0 || *p.P > 1 || *p.Q <= 0 || *p.Q > 1 || *p.CI[0] > *p.CI[1] {
		t.Errorf("pair: p %g, q %g (want in (0, 1]), CI [%g, %g]", *p.P, *p.Q, *p.CI[0], *p.CI[1])
	}
	// With one pair BH leaves p alone.
	if *p.Q != *p.P {
		t.Errorf("one pair: q %g, want p %g", *p.Q, *p.P)
	}
	// The JSON rounds to 6 significant digits, hence the tolerance.
	if s0, s1 := doc.Models[0].Score, doc.Models[1].Score; s0 == nil || s1 == nil || math.Abs(*p.Diff-(*s0-*s1)) > 1e-5 {
		t.Errorf("diff %g is not score(a) − score(b) = %v − %v", *p.Diff, s0, s1)
	}
	again, _, err := scoreRun(t, append(args, "--json")...)
	if err != nil || again != out {
		t.Errorf("same seed, different output (%v):\n%s\n%s", err, out, again)
	}
	table, _, err := scoreRun(t, args...)
	if err != nil || !strings.Contains(table, "tiny-a") || !strings.Contains(table, "Q (BH)") {
		t.Errorf("compare table (%v):\n%s", err, table)
	}
	if _, _, err := scoreRun(t, "compare", "--benchmark", "nosuch.IT", "--store", store, "--db", db); err == nil || !strings.Contains(err.Error(), "no benchmark") {
		t.Errorf("unknown benchmark: %v", err)
	}

	// A private benchmark is compared too: only differences, intervals and
	// p/q values are published, and its model RDMs are never served.
	out, errOut, err = scoreRun(t, "compare", "--benchmark", "lab2026.priv", "--json", "--store", store, "--db", db)
	if err != nil {
		t.Fatalf("compare private: %v\n%s", err, errOut)
	}
	var privDoc struct {
		Skipped []struct{ Reason string }
		Pairs   []json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &privDoc); err != nil || len(privDoc.Skipped) != 0 || len(privDoc.Pairs) != 1 {
		t.Errorf("compare private: %v\n%s", err, out)
	}
	bucket, esrv, err := embedded.Open(context.Background(), embedded.Config{Dir: store})
	if err != nil {
		t.Fatal(err)
	}
	// Model RDMs are keyed by the model entry: the file with its spec.
	tinySpec, err := models.ParseSpec("size=8,crop=1,scale=0.0039,offset=0,layout=NCHW")
	if err != nil {
		t.Fatal(err)
	}
	privHash := models.EntryID(fmt.Sprintf("%x", sha256.Sum256(onnxtest.TinyCNN().Bytes())), tinySpec)
	if _, v, err := (rdmstore.Store{Bucket: bucket}).ModelRDM(context.Background(), privHash, "lab2026.priv"); err != nil || len(v) == 0 {
		t.Errorf("the runner did not keep the private benchmark's model RDM for comparisons: %v", err)
	}
	_, _, err = stores.RDMs{Models: rdmstore.Store{Bucket: bucket}, Bench: benchmarks.NewRegistry(bucket)}.ModelRDM(context.Background(), privHash, "lab2026.priv")
	esrv.Close(context.Background())
	if leaderboard.ErrorCode(err) != leaderboard.EFORBIDDEN {
		t.Errorf("the model RDM of a private benchmark was not refused: %v", err)
	}

	// An encoding benchmark is refused with a message that says why.
	resp := make([]float64, 3*len(names))
	for i := range resp {
		resp[i] = float64((i*5)%7) / 7
	}
	if err := npy.WriteFile(filepath.Join(data, "resp.npy"), []int{3, len(names)}, resp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "ridge.yaml"), []byte(ridgeManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "ridge.yaml")); err != nil {
		t.Fatal(err, e)
	}
	_, _, err = scoreRun(t, "compare", "--benchmark", "lab2026.ridge", "--store", store, "--db", db)
	if !errors.Is(err, errInput) || !strings.Contains(err.Error(), "RSA benchmarks only") {
		t.Errorf("encoding benchmark: %v, want a refusal naming RSA", err)
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
	for path, want := range map[string]int{
		"/api/v1/benchmarks/lab2026.IT/comparisons":    http.StatusOK,
		"/api/v1/benchmarks/lab2026.ridge/comparisons": http.StatusUnprocessableEntity,
		"/api/v1/benchmarks/nosuch.IT/comparisons":     http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d %s, want %d", path, rec.Code, rec.Body, want)
			continue
		}
		if want == http.StatusOK {
			var api struct {
				Resamples int
				Pairs     []struct{ P, Q float64 }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &api); err != nil || api.Resamples != compare.DefaultResamples || len(api.Pairs) != 1 || api.Pairs[0].Q <= 0 || api.Pairs[0].Q > 1 {
				t.Errorf("GET %s: %v\n%s", path, err, rec.Body)
			}
		}
	}
}

const ridgeManifest = `id: lab2026.ridge
title: generated encoding
metadata: {species: human, region: IT, method: fMRI, licence: CC0-1.0, citation: "@misc{lab2026r}"}
stimuli: {dir: images}
responses: {file: resp.npy}
metric: {ridge: {folds: 2, alphas: [1], seed: 1}}
ceiling: {method: none, reason: generated}
scoring: {selection: held-out}
`

// addRidgeBench adds lab2026.ridge (ridgeManifest) to store: 16 generated
// images, so that each held-out part's ridge folds keep enough training
// stimuli, and 3 targets whose response i (target-major) is resp(i).
func addRidgeBench(t *testing.T, store string, resp func(i int) float64) {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for i := range 16 {
		names = append(names, fmt.Sprintf("s%02d.png", i))
	}
	writeBenchDataset(t, dir, fmt.Sprintf(benchMaintainerManifest, "unused", "unused", smallHeldOut, "unused"), names, 2, benchMaintainerRDM)
	r := make([]float64, 3*len(names))
	for i := range r {
		r[i] = resp(i)
	}
	if err := npy.WriteFile(filepath.Join(dir, "resp.npy"), []int{3, len(names)}, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ridge.yaml"), []byte(ridgeManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(dir, "ridge.yaml")); err != nil {
		t.Fatal(err, e)
	}
}
