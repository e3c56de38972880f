package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// Issue 17, finding 5: 'submit' without --preprocess is answered with the
// default it got (on stderr), the default 'score' and 'models add' use; a
// spec with a syntax error is refused before the upload (exit 2); a spec's
// warnings reach stderr.
func TestSubmitPreprocessDefaultAndWarnings(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, store := filepath.Join(dir, "registry.db"), filepath.Join(dir, "store")
	if _, stderr, err := runWith(ctx, t, nil, "users", "add", "ada", "--role", "submitter", "--db", db); err != nil {
		t.Fatal(err, stderr)
	}
	out, stderr, err := runWith(ctx, t, nil, "tokens", "create", "--user", "ada", "--json", "--db", db)
	var tok struct{ Token string }
	if err != nil || json.Unmarshal([]byte(out), &tok) != nil {
		t.Fatal(err, stderr, out)
	}
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
	if err := p.db.PutBenchmark(ctx, registry.Benchmark{ID: "b1", Version: "b1-v1"}); err != nil {
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
	vars := map[string]string{"CORTEXBENCH_SERVER": srv.URL, "CORTEXBENCH_TOKEN": tok.Token}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	data := submissionstest.TinyCNN(31)
	out, stderr, err = runWith(ctx, t, vars, "submit", write("a.onnx", data), "--name", "a", "--json")
	if err != nil {
		t.Fatal(err, stderr)
	}
	var acc wire.Accepted
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		t.Fatal(err, out)
	}
	spec, _ := models.ParseSpec("imagenet,size=8")
	sum := sha256.Sum256(data)
	if !strings.Contains(stderr, "preprocessing: imagenet,size=8 (default;") || acc.ModelHash != models.EntryID(hex.EncodeToString(sum[:]), spec) {
		t.Errorf("submit without --preprocess: entry %s, stderr %q; want the imagenet,size=8 entry, named", acc.ModelHash, stderr)
	}

	_, stderr, err = runWith(ctx, t, vars, "submit", write("b.onnx", submissionstest.TinyCNN(32)), "--name", "b", "--preprocess", "imagenet,size=8,maen=0.5")
	if exitCode(err) != 2 || !strings.Contains(stderr, `--preprocess: preprocessing spec: unknown key "maen"`) {
		t.Errorf("syntax error: exit %d (%v), stderr %q", exitCode(err), err, stderr)
	}
	if subs, _ := p.db.ListSubmissions(ctx, "ada", 0); len(subs) != 1 {
		t.Errorf("%d submissions, want 1: the bad spec was uploaded", len(subs))
	}

	_, stderr, err = runWith(ctx, t, vars, "submit", write("c.onnx", submissionstest.TinyCNN(33)), "--name", "c",
		"--preprocess", "size=8,mean=123.675:116.28:103.53,std=58.395:57.12:57.375,layout=NCHW")
	if err != nil || !strings.Contains(stderr, "warning: mean/std above 1") || !strings.Contains(stderr, "range=255") {
		t.Errorf("0–255 mean/std: %v, stderr %q; want a warning offering range=255", err, stderr)
	}
}
