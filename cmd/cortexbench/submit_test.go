package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// syncBuffer is a bytes.Buffer safe for a command running in a goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runWith(ctx context.Context, t *testing.T, vars map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb syncBuffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	err := Run(ctx, env, args)
	return out.String(), errb.String(), err
}

// The CLI end to end on the embedded default: add users, make a token,
// submit through an API server, run 'cortexbench worker' (with the delay
// scorer), and follow the submission with 'cortexbench status' to done.
func TestSubmitWorkerStatusCLI(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db := filepath.Join(dir, "registry.db")
	store := filepath.Join(dir, "store")
	dbFlags := []string{"--db", db}

	if _, stderr, err := runWith(ctx, t, nil, append([]string{"users", "add", "ada", "--role", "submitter"}, dbFlags...)...); err != nil {
		t.Fatal(err, stderr)
	}
	if _, _, err := runWith(ctx, t, nil, append([]string{"users", "add", "ada"}, dbFlags...)...); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate user: %v", err)
	}
	out, stderr, err := runWith(ctx, t, nil, append([]string{"tokens", "create", "--user", "ada", "--json"}, dbFlags...)...)
	if err != nil {
		t.Fatal(err, stderr)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil || !strings.HasPrefix(tok.Token, "cbt_") {
		t.Fatalf("token output %q: %v", out, err)
	}

	// The API server, wired as 'serve' will: openSubmissions on the
	// platform, an insert-only queue on the same SQLite file.
	fs := newFlagSet(&Env{Stderr: os.Stderr, Getenv: func(string) string { return "" }}, "serve", "serve")
	pf := addPlatformFlags(&Env{Getenv: func(string) string { return "" }}, fs)
	if err := fs.Parse([]string{"--db", db, "--store", store}); err != nil {
		t.Fatal(err)
	}
	p, err := pf.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close(context.WithoutCancel(ctx))
	reg := p.db
	if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: "b1", Version: "b1-v1"}); err != nil {
		t.Fatal(err)
	}
	svc, _, closeQueue, err := openSubmissions(ctx, p, "", submissions.Config{}, riverqueue.Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQueue()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	httpapi.Register(r, svc, nil)
	srv := httptest.NewServer(r)
	defer srv.Close()

	file := filepath.Join(dir, "tiny.onnx")
	if err := os.WriteFile(file, submissionstest.TinyCNN(1), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"CORTEXBENCH_SERVER": srv.URL, "CORTEXBENCH_TOKEN": tok.Token, fakeScorerEnv: "50ms"}
	if _, _, err := runWith(ctx, t, map[string]string{"CORTEXBENCH_SERVER": srv.URL}, "submit", file, "--name", "tiny", "--preprocess", submissionstest.Spec); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("submit without a token: %v", err)
	}
	out, stderr, err = runWith(ctx, t, vars, "submit", file, "--name", "tiny", "--preprocess", submissionstest.Spec, "--json")
	if err != nil {
		t.Fatal(err, stderr)
	}
	var acc wire.Accepted
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc.ID == "" {
		t.Fatalf("submit output %q: %v", out, err)
	}

	wctx, stop := context.WithCancel(ctx)
	var werr error
	var wout syncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		env := &Env{Stdout: &wout, Stderr: &wout, Getenv: func(k string) string { return vars[k] }}
		// runWorker, not Run: Run's one-time set-up must not run twice at once.
		werr = runWorker(wctx, env, []string{"--db", db, "--store", store, "--poll", "100ms"})
	}()
	deadline := time.Now().Add(30 * time.Second)
	var st wire.Status
	for {
		out, stderr, err := runWith(ctx, t, vars, "status", acc.ID, "--json")
		if err != nil {
			t.Fatal(err, stderr)
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		if st.State == "done" || st.State == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	<-done
	if werr != nil {
		t.Errorf("worker: %v\n%s", werr, wout.String())
	}
	if st.State != "done" {
		t.Fatalf("status %+v\nworker: %s", st, wout.String())
	}
	if scores, _ := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: acc.ModelHash}); len(scores) != 1 {
		t.Errorf("%d scores, want 1", len(scores))
	}
	md, err := (&models.Registry{Store: p.bucket}).Get(ctx, acc.ModelHash)
	if err != nil || md.ID != models.EntryID(md.File, md.Spec) {
		t.Fatalf("model entry %s: %+v %v", acc.ModelHash, md, err)
	}
	if ok, err := p.bucket.Exists(ctx, models.FileKey(md.File)); !ok || err != nil {
		t.Errorf("model file not in the bucket: %v", err)
	}
	out, _, err = runWith(ctx, t, vars, "status")
	if err != nil || !strings.Contains(out, acc.ID) || !strings.Contains(out, "done") {
		t.Errorf("status list: %q, %v", out, err)
	}
	out, _, err = runWith(ctx, t, vars, "status", acc.ID)
	if err != nil || !strings.Contains(out, "done (1 benchmarks)") {
		t.Errorf("status text: %q, %v", out, err)
	}
	// The same file and spec again, under another name (issue 17, finding
	// 3): answered with the existing entry; nothing is queued or renamed.
	_, stderr, err = runWith(ctx, t, vars, "submit", file, "--name", "tiny-again", "--preprocess", submissionstest.Spec)
	if err == nil || !strings.Contains(err.Error(), `already registered as "tiny"`) || !strings.Contains(err.Error(), acc.ModelHash) ||
		!strings.Contains(err.Error(), "409") {
		t.Errorf("duplicate submit: %v\n%s", err, stderr)
	}
	if subs, _ := reg.ListSubmissions(ctx, "", 0); len(subs) != 1 {
		t.Errorf("%d submissions after a duplicate, want 1", len(subs))
	}
}
