package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

// 'cortexbench worker' checks the submissions at start-up (issue 15,
// finding 1): one recorded without its queue job, as earlier versions
// could leave it, is queued again and scored; one whose model entry was
// never stored fails with a reason and gives its quota back.
func TestWorkerReconcilesOrphans(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db := filepath.Join(dir, "registry.db")
	store := filepath.Join(dir, "store")
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
	data := submissionstest.TinyCNN(4)
	sum := sha256.Sum256(data)
	file := hex.EncodeToString(sum[:])
	spec, err := models.ParseSpec(submissionstest.Spec)
	if err != nil {
		t.Fatal(err)
	}
	entry := models.EntryID(file, spec)
	if _, _, err := (&models.Registry{Store: p.bucket}).Add(ctx, models.Metadata{ID: entry, File: file, Name: "stored", Spec: spec}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	stored := registry.Model{Hash: entry, File: file, Name: "stored", Owner: "ada", Preprocessing: []byte("{}")}
	lost := registry.Model{Hash: strings.Repeat("7", 64), File: strings.Repeat("8", 64), Name: "lost", Owner: "ada", Preprocessing: []byte("{}")}
	for _, s := range []struct {
		id string
		m  registry.Model
	}{{"sub_stored", stored}, {"sub_lost", lost}} {
		sub := registry.Submission{ID: s.id, Owner: "ada", ModelHash: s.m.Hash, ModelName: s.m.Name, CreatedAt: now,
			Jobs: []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "b1-v1"}}}
		if err := reg.CreateSubmission(ctx, sub, s.m, 0); err != nil {
			t.Fatal(err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	var wout syncBuffer
	done := make(chan error)
	go func() {
		env := &Env{Stdout: &wout, Stderr: &wout, Getenv: func(k string) string { return map[string]string{fakeScorerEnv: "50ms"}[k] }}
		done <- runWorker(wctx, env, []string{"--db", db, "--store", store, "--poll", "100ms"})
	}()
	deadline := time.Now().Add(20 * time.Second)
	var st submissions.Status
	for {
		sub, err := reg.GetSubmission(ctx, "sub_stored")
		if err != nil {
			t.Fatal(err)
		}
		if st = submissions.StatusOf(sub); st.State == submissions.StageDone || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("worker: %v\n%s", err, wout.String())
	}
	if st.State != submissions.StageDone {
		t.Fatalf("the re-queued orphan: %+v\n%s", st, wout.String())
	}
	sub, err := reg.GetSubmission(ctx, "sub_lost")
	if err != nil {
		t.Fatal(err)
	}
	if st := submissions.StatusOf(sub); st.State != submissions.StageFailed || !strings.Contains(st.Message, "never stored") {
		t.Errorf("the orphan without its file: %+v", st)
	}
	if n, _ := reg.CountSubmissions(ctx, "ada", registry.Day(now)); n != 1 {
		t.Errorf("daily count %d, want 1 (the failed orphan refunded)", n)
	}
	if !strings.Contains(wout.String(), "1 re-queued") || !strings.Contains(wout.String(), "1 submission(s) failed") {
		t.Errorf("the worker did not say what it repaired:\n%s", wout.String())
	}
}
