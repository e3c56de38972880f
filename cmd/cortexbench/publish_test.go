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
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
)

// TestServePublishesNewScores (issue 15, finding 8): a real 'serve'
// process publishes the public snapshot at start, and again, within its
// --publish-every, after a score is committed by another process (the
// 'score' command) — read anonymously from the public bucket.
func TestServePublishesNewScores(t *testing.T) {
	ortAvailable(t)
	state, data := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "pub2026.IT", "Pub 2026 IT", "", "pub2026"), names, 3, benchMaintainerRDM)
	if _, e, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err, e)
	}

	argv, _ := json.Marshal([]string{"serve", "--no-workers", "--addr", "127.0.0.1:0", "--store", store, "--db", db,
		"--refresh", "200ms", "--publish-every", "1s"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), asCLIEnv+"="+string(argv))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	urls := make(chan string, 1)
	var log syncBuffer
	go func() {
		re := regexp.MustCompile(`public snapshot (\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&log, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not announce its public snapshot URL:\n%s", log.String())
	}
	type doc struct {
		Total    int
		Snapshot struct {
			Generation int64 `json:"scores_generation"`
		}
	}
	wait := func(what string, ok func(doc) bool) doc {
		t.Helper()
		var d doc
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if resp, err := http.Get(url); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &d) == nil && ok(d) {
					return d
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the public snapshot at %s never showed %s (last %+v)\nserve:\n%s", url, what, d, log.String())
			}
		}
	}
	wait("the empty board", func(d doc) bool { return d.Total == 0 })

	model := filepath.Join(data, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	env, _, _ := modelsEnv(t)
	if _, e, err := scoreRun(t, "score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
		"--benchmark", "pub2026.IT", "--store", store, "--db", db, "--bootstrap", "50", "--onnxruntime-lib", env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")); err != nil {
		t.Fatal(err, e)
	}
	start := time.Now()
	d := wait("the new score", func(d doc) bool { return d.Total == 1 })
	t.Logf("published %v after the score was committed (generation %d)", time.Since(start), d.Snapshot.Generation)
	if d.Snapshot.Generation != 1 {
		t.Errorf("generation %d, want 1 (one score)", d.Snapshot.Generation)
	}
}
