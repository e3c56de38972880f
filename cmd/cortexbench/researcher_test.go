package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
)

// The researcher's path of issue 17, end to end, on ONNX files made the way
// torch.onnx.export makes them (testdata/torchexport: NCHW, dynamic batch,
// height and width, node and tensor names from module paths, a tied weight
// exported as Identity nodes of an initialiser; gen.py made them, nothing is
// exported at test time):
//
//  1. add a model with a wrong preprocessing spec and score it;
//  2. score it again with the right spec: a second entry, both kept, the
//     first still recorded with the spec its scores were computed with;
//  3. withdraw the wrong one through a real 'serve' process: gone from the
//     leaderboard, the models list, the benchmark ranking and the next
//     published snapshot;
//  4. submit the right one again: answered with the existing entry's id,
//     nothing queued;
//  5. compare the corrected model with another export over every benchmark
//     (an RSA and an encoding one).
func TestResearcherPathTorchExport(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")

	// Two benchmarks of the maintainer's kind: RSA on 8 images, encoding on 16.
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, e, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err, e)
	}
	addRidgeBench(t, store, func(i int) float64 { return float64((i*5)%7) / 7 })

	resnet := filepath.Join("testdata", "torchexport", "tinyresnet.onnx")
	small := filepath.Join("testdata", "torchexport", "smallcnn.onnx")
	// The mistake: ImageNet's mean/std and a 7/8 crop for a network trained
	// on [-1, 1] inputs without cropping.
	const wrong = "size=32,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,layout=NCHW"
	const right = "size=32,crop=1,mean=0.5:0.5:0.5,std=0.5:0.5:0.5,layout=NCHW"
	const benches = "lab2026.IT,lab2026.ridge"

	// cli runs a command; run one that reads the store and the registry.
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := scoreRun(t, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	run := func(args ...string) string {
		t.Helper()
		return cli(append(args, "--store", store, "--db", db)...)
	}
	type jsonScore struct {
		Model, Benchmark string
		Raw              *float64
		LayerName        string `json:"layer_name"`
		Profile          []struct{ Layer, Name string }
	}
	score := func(file, name, spec string) []jsonScore {
		t.Helper()
		var s []jsonScore
		out := run("score", "--model", file, "--name", name, "--preprocess", spec, "--benchmark", benches, "--bootstrap", "20", "--json")
		if err := json.Unmarshal([]byte(out), &s); err != nil || len(s) != 2 {
			t.Fatalf("score --json of %s: %v\n%s", name, err, out)
		}
		for _, x := range s {
			if x.Model != name || x.Raw == nil {
				t.Fatalf("score of %s: %+v", name, s)
			}
			// Profiles carry the exporter's names (/layer1/layer1.0/conv1/Conv).
			if !strings.HasPrefix(x.LayerName, "/") || len(x.Profile) == 0 {
				t.Errorf("score of %s on %s: chosen layer name %q, %d profile entries", name, x.Benchmark, x.LayerName, len(x.Profile))
			}
			for _, l := range x.Profile {
				if l.Name == "" {
					t.Errorf("score of %s on %s: layer %s has no name", name, x.Benchmark, l.Layer)
				}
			}
		}
		return s
	}
	list := func() []models.Metadata {
		t.Helper()
		var all []models.Metadata
		if err := json.Unmarshal([]byte(run("models", "list", "--json")), &all); err != nil {
			t.Fatal(err)
		}
		return all
	}

	// 1. Added and scored with the wrong spec.
	run("models", "add", resnet, "--name", "tinyresnet-wrongspec", "--preprocess", wrong)
	first := score(resnet, "tinyresnet-wrongspec", wrong)
	entries := list()
	if len(entries) != 1 {
		t.Fatalf("after the first score: %+v", entries)
	}
	wrongEntry := entries[0]

	// 2. The right spec: a second entry; the first keeps its spec.
	second := score(resnet, "tinyresnet", right)
	score(small, "smallcnn", right)
	entries = list()
	byName := map[string]models.Metadata{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	rightEntry := byName["tinyresnet"]
	if len(entries) != 3 || byName["tinyresnet-wrongspec"].ID != wrongEntry.ID || byName["tinyresnet-wrongspec"].Spec.String() != wrongEntry.Spec.String() ||
		rightEntry.File != wrongEntry.File || rightEntry.ID == wrongEntry.ID {
		t.Fatalf("after the corrected spec: %+v", entries)
	}
	for _, e := range entries {
		if e.Layers == 0 {
			t.Errorf("models list: %s has 0 layers", e.Name)
		}
	}
	if ws, _ := models.ParseSpec(wrong); wrongEntry.Spec.String() != ws.String() {
		t.Errorf("the first entry's spec reads %q, want %q", wrongEntry.Spec.String(), ws.String())
	}
	if *first[0].Raw == *second[0].Raw && *first[1].Raw == *second[1].Raw {
		t.Errorf("both specs gave the same scores: was the second computed with the first spec?")
	}

	// 3. A maintainer withdraws the wrong entry through a real server.
	if _, e, err := scoreRun(t, "users", "add", "mia", "--role", "maintainer", "--db", db); err != nil {
		t.Fatal(err, e)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(cli("tokens", "create", "--user", "mia", "--json", "--db", db)), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %v", err)
	}
	env, _, _ := modelsEnv(t)
	lib, _ := filepath.Abs(env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB"))
	t.Setenv("CORTEXBENCH_ONNXRUNTIME_LIB", lib)
	srv := startServe(t, "serve", "--no-workers", "--addr", "127.0.0.1:0", "--store", store, "--db", db, "--refresh", "200ms", "--publish-every", "1s")
	api := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Every listing shows all three models first.
	listings := []string{"/api/v1/leaderboard", "/api/v1/models", "/api/v1/benchmarks/lab2026.IT", "/api/v1/leaderboard.csv"}
	for _, p := range listings {
		if code, body := api(p); code != http.StatusOK || !strings.Contains(body, wrongEntry.ID[:12]) {
			t.Fatalf("GET %s before the withdrawal: %d, lists the wrong entry: %v\n%s", p, code, strings.Contains(body, wrongEntry.ID[:12]), body)
		}
	}
	pub := waitPublic(t, srv.public, "three models", srv.log, func(d publicDoc) bool { return d.Total == 3 })

	out := cli("withdraw", "--server", srv.url, "--token", tok.Token, "--reason", "wrong preprocessing", "--json", wrongEntry.ID[:12])
	if !strings.Contains(out, wrongEntry.ID) {
		t.Errorf("withdraw --json does not name the full id %s:\n%s", wrongEntry.ID, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range listings {
		for {
			code, body := api(p)
			if code == http.StatusOK && !strings.Contains(body, wrongEntry.ID[:12]) && !strings.Contains(body, "tinyresnet-wrongspec") &&
				strings.Contains(body, rightEntry.ID[:12]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s still lists the withdrawn entry (or lost the others): %d\n%s\nserver log:\n%s", p, code, body, srv.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	after := waitPublic(t, srv.public, "two models after the withdrawal", srv.log, func(d publicDoc) bool {
		return d.Total == 2 && d.Snapshot.Generation > pub.Snapshot.Generation
	})
	if resp, err := http.Get(srv.public); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), wrongEntry.ID[:12]) || strings.Contains(string(b), "tinyresnet-wrongspec") {
			t.Errorf("the snapshot of generation %d still holds the withdrawn entry", after.Snapshot.Generation)
		}
	}

	// 4. The same file and right spec submitted again: the existing entry.
	_, errOut, err := scoreRun(t, "submit", resnet, "--name", "tinyresnet-again", "--preprocess", right, "--server", srv.url, "--token", tok.Token)
	if err == nil || !strings.Contains(err.Error()+errOut, rightEntry.ID[:12]) || !strings.Contains(err.Error()+errOut, `"tinyresnet"`) {
		t.Errorf("duplicate submit: want a refusal naming %s (tinyresnet): %v\n%s", rightEntry.ID[:12], err, errOut)
	}
	if code, body := api("/api/v1/models"); code != http.StatusOK || strings.Contains(body, "tinyresnet-again") {
		t.Errorf("the duplicate renamed or added a model: %d\n%s", code, body)
	}
	for _, e := range list() {
		if e.Name == "tinyresnet-again" || e.Layers == 0 {
			t.Errorf("after the duplicate, models list reads %+v", e)
		}
	}

	// 5. The corrected model against the other export, on every benchmark.
	var cmp map[string]any
	out = run("compare", "--models", "tinyresnet,smallcnn", "--json")
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatalf("compare --models --json: %v\n%s", err, out)
	}
	for _, want := range []string{"lab2026.IT", "lab2026.ridge", rightEntry.ID[:12]} {
		if !strings.Contains(out, want) {
			t.Errorf("compare --models --json lacks %s:\n%s", want, out)
		}
	}
	text := run("compare", "--models", rightEntry.ID[:12]+",smallcnn")
	for _, want := range []string{"lab2026.IT", "lab2026.ridge", "tinyresnet", "smallcnn"} {
		if !strings.Contains(text, want) {
			t.Errorf("compare --models table lacks %s:\n%s", want, text)
		}
	}
}

// servedCLI is a 'serve' child process of the test binary.
type servedCLI struct {
	url, public string // the HTTP server, the public snapshot
	log         *syncBuffer
}

// startServe runs 'cortexbench serve' in a child process until the test
// ends and waits for it to announce its address and public snapshot.
func startServe(t *testing.T, args ...string) servedCLI {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), asCLIEnv+"="+string(argv))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); pw.Close() })
	s := servedCLI{log: &syncBuffer{}}
	urls, publics := make(chan string, 1), make(chan string, 1)
	addr := regexp.MustCompile(`leaderboard: (http://\S+)/ `)
	snap := regexp.MustCompile(`public snapshot (\S+)`)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(s.log, sc.Text())
			if m := addr.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
			if m := snap.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case publics <- m[1]:
				default:
				}
			}
		}
	}()
	for s.url == "" || s.public == "" {
		select {
		case s.url = <-urls:
		case s.public = <-publics:
		case <-time.After(60 * time.Second):
			t.Fatalf("serve did not announce its address and public snapshot:\n%s", s.log.String())
		}
	}
	return s
}
