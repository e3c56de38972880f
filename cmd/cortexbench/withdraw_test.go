package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// Issue 17, findings 2, 3 and 10, through the CLI on the embedded default
// (SQLite registry, River on it, a real API server on loopback and a real
// 'cortexbench worker' whose scorer takes an hour):
//   - the same file submitted three times is one submission and one entry;
//     'models list' and the leaderboard's record read its name and layers;
//   - 'cortexbench withdraw' by a 12-digit prefix stops the running job
//     (River marks it cancelled, nothing is scored) and the submission
//     reads "cancelled (model withdrawn)"; the model leaves the board;
//   - 'cortexbench cancel' (owner, maintainer; not another user) and
//     'cortexbench edit' (one name in 'models list' and the board).
func TestWithdrawEditCancelCLI(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db := filepath.Join(dir, "registry.db")
	store := filepath.Join(dir, "store")
	plat := []string{"--db", db, "--store", store}
	tokens := map[string]string{}
	for user, role := range map[string]string{"ada": "submitter", "bob": "submitter", "max": "maintainer"} {
		if _, stderr, err := runWith(ctx, t, nil, "users", "add", user, "--role", role, "--db", db); err != nil {
			t.Fatal(err, stderr)
		}
		out, stderr, err := runWith(ctx, t, nil, "tokens", "create", "--user", user, "--json", "--db", db)
		if err != nil {
			t.Fatal(err, stderr)
		}
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(out), &tok); err != nil {
			t.Fatal(err)
		}
		tokens[user] = tok.Token
	}
	fs := newFlagSet(&Env{Stderr: os.Stderr, Getenv: func(string) string { return "" }}, "serve", "serve")
	pf := addPlatformFlags(&Env{Getenv: func(string) string { return "" }}, fs)
	if err := fs.Parse(plat); err != nil {
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
	as := func(user string) map[string]string {
		return map[string]string{"CORTEXBENCH_SERVER": srv.URL, "CORTEXBENCH_TOKEN": tokens[user], fakeScorerEnv: "1h"}
	}
	files := map[string]string{}
	for i, name := range []string{"one", "two", "three"} {
		files[name] = filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(files[name], submissionstest.TinyCNN(uint64(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	submit := func(user, file, name string) wire.Accepted {
		t.Helper()
		out, stderr, err := runWith(ctx, t, as(user), "submit", file, "--name", name, "--preprocess", submissionstest.Spec, "--json")
		if err != nil {
			t.Fatal(err, stderr)
		}
		var acc wire.Accepted
		if err := json.Unmarshal([]byte(out), &acc); err != nil {
			t.Fatal(err)
		}
		return acc
	}
	status := func(id string) wire.Status {
		t.Helper()
		out, stderr, err := runWith(ctx, t, as("max"), "status", id, "--json")
		if err != nil {
			t.Fatal(err, stderr)
		}
		var st wire.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	// Finding 3: the same file three times, under three names.
	first := submit("ada", files["one"], "tiny")
	for _, name := range []string{"tiny-again", "tiny-third"} {
		_, _, err := runWith(ctx, t, as("ada"), "submit", files["one"], "--name", name, "--preprocess", submissionstest.Spec)
		if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), `already registered as "tiny"`) ||
			!strings.Contains(err.Error(), first.ModelHash) || !strings.Contains(err.Error(), "1 queued or running") {
			t.Fatalf("duplicate submit as %s: %v, want 409 naming the entry and its state", name, err)
		}
	}
	if subs, _ := reg.ListSubmissions(ctx, "", 0); len(subs) != 1 {
		t.Fatalf("%d submissions of one file, want 1", len(subs))
	}
	listed := func() []models.Metadata {
		t.Helper()
		out, stderr, err := runWith(ctx, t, nil, append([]string{"models", "list", "--json"}, plat...)...)
		if err != nil {
			t.Fatal(err, stderr)
		}
		var ms []models.Metadata
		if err := json.Unmarshal([]byte(out), &ms); err != nil {
			t.Fatal(err, out)
		}
		return ms
	}
	boardName := func(hash string) (string, bool) {
		t.Helper()
		ms, err := stores.Board{DB: reg, Bench: p.bench}.Models(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Hash == hash {
				return m.Name, true
			}
		}
		return "", false
	}
	if ms := listed(); len(ms) != 1 || ms[0].ID != first.ModelHash || ms[0].Name != "tiny" || ms[0].Layers == 0 {
		t.Fatalf("models list after three submissions of one file: %+v, want one entry tiny with its layers", ms)
	}
	if name, ok := boardName(first.ModelHash); !ok || name != "tiny" {
		t.Fatalf("the board names the entry %q (%v), want tiny", name, ok)
	}

	// A worker whose jobs take an hour picks the job up.
	wctx, stopWorker := context.WithCancel(ctx)
	var wout syncBuffer
	workerDone := make(chan error, 1)
	go func() {
		env := &Env{Stdout: &wout, Stderr: &wout, Getenv: func(k string) string { return as("ada")[k] }}
		workerDone <- runWorker(wctx, env, append([]string{"--poll", "100ms"}, plat...))
	}()
	defer func() {
		stopWorker()
		select {
		case err := <-workerDone:
			if err != nil {
				t.Errorf("worker: %v\n%s", err, wout.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("the worker did not stop")
		}
	}()
	waitState := func(id string, ok func(wire.Status) bool, what string) wire.Status {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := status(id)
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("submission %s: %+v after 30 s, want %s\nworker: %s", id, st, what, wout.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	running := func(st wire.Status) bool { return len(st.Jobs) > 0 && st.Jobs[0].State == "running" }
	waitState(first.ID, running, "running")
	riverState := func(subID string) string {
		t.Helper()
		sdb, err := reg.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		var state string
		if err := sdb.QueryRowContext(ctx, `SELECT state FROM river_job WHERE json_extract(args, '$.submission_id') = ?`, subID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		return state
	}

	// Another user may not withdraw it.
	if _, _, err := runWith(ctx, t, as("bob"), "withdraw", first.ModelHash[:12]); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("bob withdrawing ada's model: %v, want 403", err)
	}
	if _, stderr, err := runWith(ctx, t, as("ada"), "withdraw"); err == nil || !strings.Contains(stderr, "give one MODEL_ID") {
		t.Errorf("withdraw without an id: %v %q", err, stderr)
	}
	out, stderr, err := runWith(ctx, t, as("ada"), "withdraw", first.ModelHash[:12], "--reason", "wrong preprocessing")
	if err != nil || !strings.Contains(out, "withdrew tiny (model "+first.ModelHash+")") || !strings.Contains(out, "1 job(s) of 1 submission(s) cancelled") {
		t.Fatalf("withdraw: %q %v %s", out, err, stderr)
	}
	at := time.Now()
	st := waitState(first.ID, func(st wire.Status) bool { return st.State == "cancelled" }, "cancelled")
	if st.Message != "cancelled (model withdrawn)" || st.Jobs[0].State != "cancelled" {
		t.Errorf("status after the withdrawal: %+v", st)
	}
	// The running job stops: River records it cancelled (its attempt
	// returned), well before its hour.
	for deadline := time.Now().Add(30 * time.Second); riverState(first.ID) != "cancelled"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the running job's queue state is %s 30 s after the withdrawal, want cancelled\nworker: %s", riverState(first.ID), wout.String())
		}
	}
	t.Logf("running job stopped %v after the withdrawal", time.Since(at).Round(time.Millisecond))
	if scores, _ := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: first.ModelHash}); len(scores) != 0 {
		t.Errorf("%d scores stored for a cancelled job", len(scores))
	}
	if out, _, err := runWith(ctx, t, as("ada"), "status", first.ID); err != nil || !strings.Contains(out, "cancelled (model withdrawn)") {
		t.Errorf("status text: %q %v", out, err)
	}
	if _, ok := boardName(first.ModelHash); ok {
		t.Error("the withdrawn model is still on the board")
	}
	if ms := listed(); len(ms) != 0 {
		t.Errorf("models list shows %+v after the withdrawal, want nothing", ms)
	}
	out, _, err = runWith(ctx, t, nil, append([]string{"models", "list", "--withdrawn"}, plat...)...)
	if err != nil || !strings.Contains(out, first.ModelHash[:12]) || !strings.Contains(out, "tiny (withdrawn)") {
		t.Errorf("models list --withdrawn: %q %v", out, err)
	}
	// Withdrawing again keeps the first record, with --json.
	out, _, err = runWith(ctx, t, as("max"), "withdraw", "--json", "--reason", "again", first.ModelHash)
	var w wire.Withdrawn
	if err != nil || json.Unmarshal([]byte(out), &w) != nil || w.By != "ada" || w.Reason != "wrong preprocessing" || w.CancelledJobs != 0 {
		t.Errorf("second withdrawal: %q %v %+v", out, err, w)
	}

	// cancel: a running submission of ada's, cancelled by ada.
	second := submit("ada", files["two"], "small")
	waitState(second.ID, running, "running")
	if _, _, err := runWith(ctx, t, as("bob"), "cancel", second.ID); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("bob cancelling ada's submission: %v, want 403", err)
	}
	out, stderr, err = runWith(ctx, t, as("ada"), "cancel", second.ID)
	if err != nil || strings.TrimSpace(out) != "submission "+second.ID+": cancelled by ada (0 of 1 benchmark(s) done)" {
		t.Fatalf("cancel: %q %v %s", out, err, stderr)
	}
	for deadline := time.Now().Add(30 * time.Second); riverState(second.ID) != "cancelled"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled job's queue state is %s, want cancelled", riverState(second.ID))
		}
	}
	if _, _, err := runWith(ctx, t, as("ada"), "cancel", second.ID); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("cancelling twice: %v, want 409", err)
	}
	// A maintainer cancels bob's.
	third := submit("bob", files["three"], "other")
	out, _, err = runWith(ctx, t, as("max"), "cancel", "--json", third.ID)
	var cst wire.Status
	if err != nil || json.Unmarshal([]byte(out), &cst) != nil || cst.State != "cancelled" || cst.Message != "cancelled by max" {
		t.Errorf("maintainer cancel: %q %v %+v", out, err, cst)
	}

	// edit by prefix: one name in 'models list' and on the board.
	out, stderr, err = runWith(ctx, t, as("ada"), "edit", "--name", "small-v2", "--family", "cnn", second.ModelHash[:8])
	if err != nil || !strings.Contains(out, "model small-v2 ("+second.ModelHash+"): changed name, family") {
		t.Fatalf("edit: %q %v %s", out, err, stderr)
	}
	for _, m := range listed() {
		if m.ID == second.ModelHash && (m.Name != "small-v2" || m.Family != "cnn" || m.Layers == 0) {
			t.Errorf("models list after edit: %+v", m)
		}
	}
	if name, _ := boardName(second.ModelHash); name != "small-v2" {
		t.Errorf("the board names it %q after edit", name)
	}
	out, _, err = runWith(ctx, t, as("ada"), "edit", "--json", "--version", "2", second.ModelHash)
	var em wire.Model
	if err != nil || json.Unmarshal([]byte(out), &em) != nil || em.Version != "2" || em.Name != "small-v2" {
		t.Errorf("edit --json: %q %v", out, err)
	}
	if _, _, err := runWith(ctx, t, as("bob"), "edit", "--name", "mine", second.ModelHash[:8]); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("bob editing ada's model: %v, want 403", err)
	}
	if _, stderr, err := runWith(ctx, t, as("ada"), "edit", second.ModelHash[:8]); err == nil || !strings.Contains(stderr, "nothing to change") {
		t.Errorf("edit without a field: %v %q", err, stderr)
	}
	if _, _, err := runWith(ctx, t, as("ada"), "withdraw", "0123456"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("a 7-digit id: %v", err)
	}
}
