package main

import (
	"bufio"
	"context"
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

	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/storage/embedded"
)

// publishState is a store with one small benchmark and a registry file.
type publishState struct {
	data, store, db string
}

func newPublishState(t *testing.T) publishState {
	t.Helper()
	state, data := t.TempDir(), t.TempDir()
	s := publishState{data: data, store: filepath.Join(state, "objects"), db: filepath.Join(state, "registry.db")}
	names := []string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "pub2026.IT", "Pub 2026 IT", smallHeldOut, "pub2026"), names, 3, benchMaintainerRDM)
	if _, e, err := benchRun(t, "benchmarks", "add", "--store", s.store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err, e)
	}
	return s
}

// score commits one score with the 'score' command.
func (s publishState) score(t *testing.T) {
	t.Helper()
	model := filepath.Join(s.data, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	env, _, _ := modelsEnv(t)
	if _, e, err := scoreRun(t, "score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
		"--benchmark", "pub2026.IT", "--store", s.store, "--db", s.db, "--bootstrap", "50", "--onnxruntime-lib", env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")); err != nil {
		t.Fatal(err, e)
	}
}

// startCLI runs the command line in a child process until the test ends;
// its stderr lines go to the returned log and, when one matches re, its
// first group to the channel.
func startCLI(t *testing.T, re *regexp.Regexp, args ...string) (*syncBuffer, <-chan string) {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), asCLIEnv+"="+string(argv))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var log syncBuffer
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&log, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	return &log, found
}

type publicDoc struct {
	Total    int
	Snapshot struct {
		Generation int64 `json:"scores_generation"`
	}
}

// waitPublic reads the snapshot at url anonymously until ok, for up to 15 s.
func waitPublic(t *testing.T, url, what string, log *syncBuffer, ok func(publicDoc) bool) publicDoc {
	t.Helper()
	var d publicDoc
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &d) == nil && ok(d) {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the public snapshot at %s never showed %s (last %+v)\nprocess log:\n%s", url, what, d, log.String())
		}
	}
}

// TestServePublishesNewScores (issue 15, finding 8): a real 'serve'
// process publishes the public snapshot at start, and again, within its
// --publish-every, after a score is committed by another process (the
// 'score' command) — read anonymously from the public bucket.
func TestServePublishesNewScores(t *testing.T) {
	ortAvailable(t)
	s := newPublishState(t)
	log, urls := startCLI(t, regexp.MustCompile(`public snapshot (\S+)`), "serve", "--no-workers", "--addr", "127.0.0.1:0",
		"--store", s.store, "--db", s.db, "--refresh", "200ms", "--publish-every", "1s")
	var url string
	select {
	case url = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not announce its public snapshot URL:\n%s", log.String())
	}
	waitPublic(t, url, "the empty board", log, func(d publicDoc) bool { return d.Total == 0 })
	s.score(t)
	start := time.Now()
	d := waitPublic(t, url, "the new score", log, func(d publicDoc) bool { return d.Total == 1 })
	t.Logf("published %v after the score was committed (generation %d)", time.Since(start), d.Snapshot.Generation)
	if d.Snapshot.Generation != 1 {
		t.Errorf("generation %d, want 1 (one score)", d.Snapshot.Generation)
	}
}

// TestWorkerPublishesNewScores: a real 'worker' process publishes too.
func TestWorkerPublishesNewScores(t *testing.T) {
	ortAvailable(t)
	s := newPublishState(t)
	// The test reads the public bucket through its own endpoint over the
	// same folder, started first.
	srv, err := embedded.Start(embedded.Config{Dir: s.store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	url := srv.PublicURL(snapshot.LatestJSON)
	t.Setenv(fakeScorerEnv, "10ms") // the worker runs no job here: no runtime needed
	log, running := startCLI(t, regexp.MustCompile(`(running) \d+ worker`), "worker", "--store", s.store, "--db", s.db, "--publish-every", "1s")
	select {
	case <-running:
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not start:\n%s", log.String())
	}
	waitPublic(t, url, "the empty board", log, func(d publicDoc) bool { return d.Total == 0 })
	s.score(t)
	start := time.Now()
	waitPublic(t, url, "the new score", log, func(d publicDoc) bool { return d.Total == 1 && d.Snapshot.Generation == 1 })
	t.Logf("published %v after the score was committed", time.Since(start))
}

// --publish-every must be a positive duration, with a message saying so.
func TestPublishEveryFlagChecked(t *testing.T) {
	for _, c := range []struct{ value, want string }{{"0", "is not positive"}, {"-5s", "is not positive"}, {"soon", "is not a duration"}} {
		_, stderr, err := runWith(t.Context(), t, nil, "worker", "--publish-every", c.value, "--db", filepath.Join(t.TempDir(), "r.db"))
		if err == nil || !strings.Contains(stderr+err.Error(), c.want) {
			t.Errorf("--publish-every %s: %v\n%s", c.value, err, stderr)
		}
	}
}
