package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// scoreEnv runs the CLI with the ONNX Runtime library the models tests use.
func scoreRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	env, out, errb := modelsEnv(t)
	err := Run(context.Background(), env, args)
	return out.String(), errb.String(), err
}

func ortAvailable(t *testing.T) {
	t.Helper()
	env, _, _ := modelsEnv(t)
	if _, err := os.Stat(env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")); err != nil {
		t.Skipf("ONNX Runtime not installed (run ./scripts/setup.sh): %v", err)
	}
}

// TestMaintainerPathScoresAModel is the maintainer's path end to end: a
// new dataset (generated images, a .npy of RDMs and a manifest) is added
// with the CLI, and a model (a tiny CNN built here) is scored on it.
func TestMaintainerPathScoresAModel(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(state, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := scoreRun(t, "score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
		"--benchmark", "lab2026.IT", "--store", store, "--db", db, "--bootstrap", "50", "--json")
	if err != nil {
		t.Fatalf("score: %v\n%s", err, errOut)
	}
	var scores []struct {
		Model, Benchmark, Layer string
		Raw, Ceiling            *float64
		CI                      [2]*float64
	}
	if err := json.Unmarshal([]byte(out), &scores); err != nil || len(scores) != 1 {
		t.Fatalf("score --json: %v\n%s", err, out)
	}
	s := scores[0]
	if s.Benchmark != "lab2026.IT" || s.Raw == nil || s.Ceiling == nil || s.CI[0] == nil {
		t.Fatalf("score lacks numbers: %s", out)
	}
	// The tiny CNN is conv → relu → maxpool; the pool is its output, so
	// the layer reported is the conv or the relu.
	if !strings.Contains(s.Layer, "Conv") && !strings.Contains(s.Layer, "Relu") {
		t.Errorf("reported layer %s, want the conv or the relu (the output does not compete)", s.Layer)
	}
	if !strings.Contains(errOut, "done") || !strings.Contains(errOut, "extracting") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}

	// A second benchmark on the same images: the activations come from the
	// cache, nothing is extracted again.
	data2 := t.TempDir()
	writeBenchDataset(t, data2, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT2", "Lab 2026 IT, other subjects", smallHeldOut, "lab2026b"), names, 3,
		func(s, i, j int) float64 { return benchMaintainerRDM(s+5, j, i) })
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data2, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = scoreRun(t, "score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
		"--benchmark", "lab2026.IT2", "--store", store, "--db", db, "--bootstrap", "50")
	if err != nil {
		t.Fatalf("score on the second benchmark: %v\n%s", err, errOut)
	}
	if strings.Contains(errOut, "extracting") || !strings.Contains(errOut, "done") {
		t.Errorf("the second benchmark on the same images extracted again:\n%s", errOut)
	}

	// Scoring again reads the stored score and says how to compute anew;
	// --fresh computes with the new settings and stores nothing.
	again := func(extra ...string) (string, string) {
		args := append([]string{"score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
			"--benchmark", "lab2026.IT", "--store", store, "--db", db, "--bootstrap", "50", "--json"}, extra...)
		out, errOut, err := scoreRun(t, args...)
		if err != nil {
			t.Fatalf("score %v: %v\n%s", extra, err, errOut)
		}
		return out, errOut
	}
	_, errOut = again("--layers", "all")
	if !strings.Contains(errOut, "cached") || !strings.Contains(errOut, "--fresh") {
		t.Errorf("a stored score was used without saying so:\n%s", errOut)
	}
	out, errOut = again("--layers", "all", "--fresh")
	if strings.Contains(errOut, "cached") || !strings.Contains(errOut, "not stored") || !strings.Contains(out, `"candidates":"all"`) {
		t.Errorf("--fresh did not compute with --layers all:\n%s\n%s", out, errOut)
	}
	out, _ = again()
	if !strings.Contains(out, `"candidates":"all-but-output"`) {
		t.Errorf("--fresh replaced the stored score:\n%s", out)
	}
}

// TestMainJobEndToEnd runs the README's main job on three built-in
// benchmarks (one private, scored on the layer its public partner
// committed) with the real models, then again (nothing is recomputed), and
// reads the published snapshot back with the AWS CLI.
func TestMainJobEndToEnd(t *testing.T) {
	ortAvailable(t)
	sh := shared(t)
	state := t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	args := []string{"run", "--no-serve", "--json", "--data", filepath.Join(sh, "datasets"), "--models", filepath.Join(sh, "models"),
		"--benchmark", "algonauts2019-92.IT,kriegeskorte2008.hIT,algonauts2019-78.IT", "--bootstrap", "100", "--store", store, "--db", db}
	out, errOut, err := scoreRun(t, args...)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	type row struct {
		Model, Benchmark, Layer, Selection string
		Raw, Ceiled                        float64
	}
	parse := func(out string) map[string]row {
		var rows []row
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("run --json: %v\n%s", err, out)
		}
		m := map[string]row{}
		for _, r := range rows {
			m[r.Model+"|"+r.Benchmark] = r
		}
		return m
	}
	first := parse(out)
	if len(first) != 9 {
		t.Fatalf("%d scores, want 3 models × 3 benchmarks:\n%s", len(first), out)
	}
	for _, b := range []string{"algonauts2019-92.IT", "kriegeskorte2008.hIT"} {
		v2, ctl := first["MobileNetV2-1.0-224|"+b], first["MobileNetV2-shuffled (control)|"+b]
		t.Logf("%s: MobileNetV2 %.3f (layer %s), shuffled control %.3f (layer %s)", b, v2.Raw, v2.Layer, ctl.Raw, ctl.Layer)
		if !(v2.Raw > ctl.Raw) {
			t.Errorf("%s: trained MobileNetV2 %.3f does not beat its shuffled control %.3f", b, v2.Raw, ctl.Raw)
		}
	}
	for _, m := range []string{"MobileNetV2-1.0-224", "MobileNetV1-0.5-128", "MobileNetV2-shuffled (control)"} {
		pub, priv := first[m+"|algonauts2019-92.IT"], first[m+"|algonauts2019-78.IT"]
		if priv.Layer != pub.Layer || priv.Selection != "committed on algonauts2019-92.IT" {
			t.Errorf("%s: private 78-image IT used %s (%s), want the layer committed on the 92-image IT, %s", m, priv.Layer, priv.Selection, pub.Layer)
		}
	}

	// Again: every score comes from the store, identical.
	out, errOut, err = scoreRun(t, args...)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, errOut)
	}
	if strings.Contains(errOut, "extracting") || strings.Count(errOut, "cached") != 9 {
		t.Errorf("second run recomputed something:\n%s", errOut)
	}
	for k, r := range parse(out) {
		if r.Raw != first[k].Raw || r.Layer != first[k].Layer {
			t.Errorf("%s: second run %+v, first %+v", k, r, first[k])
		}
	}

	walkRoutesForPrivateData(t, store, db, filepath.Join(sh, "datasets"))

	// The snapshot is readable by any S3 client without the leaderboard
	// server, anonymously, in the public bucket.
	ctx := context.Background()
	_, srv, err := embedded.Open(ctx, embedded.Config{Dir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed: snapshot not read back (scripts/setup.sh installs it)")
	}
	cmd := exec.Command(aws, "--no-sign-request", "--endpoint-url", srv.Endpoint(), "--region", "us-east-1", "s3", "cp", "s3://"+srv.PublicBucket()+"/leaderboard/latest.json", "-")
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, stderr.String())
	}
	var snap struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &snap); err != nil || len(snap.Rows) != 3 {
		t.Fatalf("snapshot: %v, %d rows\n%.500s", err, len(snap.Rows), stdout.String())
	}
}

// TestSubmitMobileNetThroughAPI is issue 7's path on the embedded default:
// 'serve' with in-process workers, a user and token, MobileNetV2 uploaded
// with 'submit', followed with 'status' until done, then on the
// leaderboard API with its per-layer profile.
func TestSubmitMobileNetThroughAPI(t *testing.T) {
	ortAvailable(t)
	sh := shared(t)
	ctx := t.Context()
	state := t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	env, _, _ := modelsEnv(t)
	lib := env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	vars := map[string]string{"CORTEXBENCH_ONNXRUNTIME_LIB": lib}
	if _, e, err := runWith(ctx, t, vars, "benchmarks", "import-builtin", "--store", store, "--data", filepath.Join(sh, "datasets"), "algonauts2019-92.IT"); err != nil {
		t.Fatal(err, e)
	}
	if _, e, err := runWith(ctx, t, vars, "users", "add", "ada", "--db", db); err != nil {
		t.Fatal(err, e)
	}
	out, e, err := runWith(ctx, t, vars, "tokens", "create", "--user", "ada", "--db", db, "--json")
	if err != nil {
		t.Fatal(err, e)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sctx, stop := context.WithCancel(ctx)
	var sout syncBuffer
	done := make(chan error, 1)
	go func() {
		senv := &Env{Stdout: &sout, Stderr: &sout, Getenv: func(k string) string { return vars[k] }}
		done <- runServe(sctx, senv, []string{"--addr", addr, "--store", store, "--db", db, "--refresh", "500ms"})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, sout.String())
		}
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/api/v1/benchmarks"); err == nil {
			r.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("server did not start:\n%s", sout.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	vars["CORTEXBENCH_SERVER"], vars["CORTEXBENCH_TOKEN"] = base, tok.Token
	file := filepath.Join(sh, "models", "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx")
	out, e, err = runWith(ctx, t, vars, "submit", file, "--name", "MobileNetV2 (submitted)", "--family", "mobilenet", "--preprocess", "mobilenet_v2_float", "--json")
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, e)
	}
	var acc struct {
		ID        string `json:"id"`
		ModelHash string `json:"model_hash"`
	}
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc.ID == "" {
		t.Fatalf("submit answer %q: %v", out, err)
	}
	var st struct {
		State   string
		Message string
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, e, err := runWith(ctx, t, vars, "status", acc.ID, "--json")
		if err != nil {
			t.Fatal(err, e)
		}
		json.Unmarshal([]byte(out), &st)
		if st.State == "done" || st.State == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st.State != "done" {
		t.Fatalf("submission ended %q: %s\nserver:\n%s", st.State, st.Message, sout.String())
	}
	// On the leaderboard after the next refresh, with its per-layer profile.
	var model struct {
		Scores []struct {
			Benchmark struct {
				ID string `json:"id"`
			} `json:"benchmark"`
			Layers []json.RawMessage `json:"layers"`
		} `json:"scores"`
	}
	for i := 0; ; i++ {
		r, err := http.Get(base + "/api/v1/models/" + acc.ModelHash)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(r.Body).Decode(&model)
		r.Body.Close()
		if err == nil && r.StatusCode == 200 && len(model.Scores) == 1 {
			break
		}
		if i > 40 {
			t.Fatalf("model %s not on the leaderboard: status %d, %v", acc.ModelHash, r.StatusCode, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if model.Scores[0].Benchmark.ID != "algonauts2019-92.IT" || len(model.Scores[0].Layers) < 100 {
		t.Fatalf("model page: %+v", model.Scores)
	}
	// One OpenAPI document describes both APIs the server mounts.
	r, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var api struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	json.NewDecoder(r.Body).Decode(&api)
	r.Body.Close()
	for _, p := range []string{"/leaderboard", "/submissions", "/submissions/{id}", "/models/{hash}"} {
		if api.Paths[p] == nil {
			t.Errorf("the served OpenAPI document lacks %s", p)
		}
	}
	if api.Paths["/models/{hash}"]["get"] == nil || api.Paths["/models/{hash}"]["delete"] == nil {
		t.Errorf("/models/{hash} should have the leaderboard's GET and the submissions' DELETE: %v", api.Paths["/models/{hash}"])
	}
	// The submitter's page, and the list it reads with their token.
	r, err = http.Get(base + "/submissions")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("submissions page: %v %v", err, r)
	}
	r.Body.Close()
	req, _ := http.NewRequest("GET", base+"/api/v1/submissions?mine", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Submissions []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"submissions"`
	}
	json.NewDecoder(r.Body).Decode(&list)
	r.Body.Close()
	if len(list.Submissions) != 1 || list.Submissions[0].ID != acc.ID || list.Submissions[0].State != "done" {
		t.Fatalf("my submissions: %+v", list)
	}
}

// walkRoutesForPrivateData serves the state of a run that scored a private
// benchmark (algonauts2019-78.IT) and requests every route of the API and
// every page, for every model and benchmark, checking that no response
// carries the private benchmark's data: its subjects' RDM values, its mean
// RDM, or the model RDMs over its stimuli.
func walkRoutesForPrivateData(t *testing.T, store, db, data string) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env, _, _ := modelsEnv(t)
	var sout syncBuffer
	done := make(chan error, 1)
	go func() {
		senv := &Env{Stdout: &sout, Stderr: &sout, Getenv: env.Getenv}
		done <- runServe(ctx, senv, []string{"--addr", addr, "--store", store, "--db", db, "--no-workers"})
	}()
	defer func() {
		stop()
		<-done
	}()
	base := "http://" + addr
	get := func(path string) (int, string) {
		for i := 0; ; i++ {
			r, err := http.Get(base + path)
			if err != nil {
				if i > 100 {
					t.Fatalf("GET %s: %v\n%s", path, err, sout.String())
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			return r.StatusCode, string(b)
		}
	}
	// What must never appear: values of the private RDMs, printed as the
	// API prints numbers (6 significant digits, and 4 in tables).
	// markers returns, for a subjects × n × n RDM file, some entries of
	// subject 0 and of the subjects' mean (what an RDM route would serve),
	// formatted as the API formats numbers.
	markers := func(file string) []string {
		arr, err := npy.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		vals, sub, n := arr.Float64(), arr.Shape[0], arr.Shape[1]
		var out []string
		for _, k := range []int{1, 2, 3, n + 2, n + 3, 5*n + 9, 7*n + 40} { // off-diagonal entries
			mean := 0.0
			for s := 0; s < sub; s++ {
				mean += vals[s*n*n+k] / float64(sub)
			}
			for _, v := range []float64{vals[k], mean} {
				out = append(out, strconv.FormatFloat(v, 'g', 6, 64), strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		return out
	}
	secrets := markers(filepath.Join(data, "algonauts2019-78", "rdms", "IT.npy"))
	// The same markers of the public set do appear where its RDM is served:
	// the check can see a leak when there is one.
	public := markers(filepath.Join(data, "algonauts2019-92", "rdms", "IT.npy"))
	_, idx := get("/api/v1/models")
	var ms struct {
		Models []struct {
			Hash string `json:"hash"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(idx), &ms); err != nil || len(ms.Models) == 0 {
		t.Fatalf("models: %v\n%s", err, idx)
	}
	var paths []string
	bids := []string{"algonauts2019-92.IT", "kriegeskorte2008.hIT", "algonauts2019-78.IT"}
	paths = append(paths, "/", "/submissions", "/api/v1/leaderboard", "/api/v1/leaderboard?limit=5000", "/api/v1/leaderboard.csv",
		"/api/v1/models", "/api/v1/benchmarks", "/api/v1/openapi.json", "/api/v1/submissions", "/static/app.js")
	for _, b := range bids {
		paths = append(paths, "/benchmarks/"+b, "/api/v1/benchmarks/"+b, "/api/v1/benchmarks/"+b+"/comparisons")
	}
	for _, m := range ms.Models {
		paths = append(paths, "/models/"+m.Hash, "/api/v1/models/"+m.Hash)
		for _, b := range bids {
			paths = append(paths, "/api/v1/models/"+m.Hash+"/rdm/"+b)
		}
	}
	for _, p := range paths {
		code, body := get(p)
		// One 6-digit number may match by chance among thousands; a served
		// RDM would contain them all.
		var found []string
		for _, sct := range secrets {
			if strings.Contains(body, sct) {
				found = append(found, sct)
			}
		}
		if len(found) >= 3 {
			t.Errorf("GET %s (%d) contains the private RDM values %v", p, code, found)
		}
		if strings.Contains(p, "/rdm/algonauts2019-78") && code != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403 (a private benchmark's RDMs are never served)", p, code)
		}
		if strings.Contains(p, "/rdm/algonauts2019-92") {
			seen := 0
			for _, m := range public {
				if strings.Contains(body, m) {
					seen++
				}
			}
			if code != http.StatusOK || seen < 3 {
				t.Errorf("GET %s: %d with %d public RDM markers, want 200 with the public brain RDM in it", p, code, seen)
			}
		}
	}
}
