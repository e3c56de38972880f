package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/internal/faulttest"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A full disk through the real server (issue 15, finding 5): uploads are
// staged on one tmpfs, the embedded object store lives on another. A full
// staging disk and a full store disk are each answered 507 with the
// message that nothing was stored, and the log names the file; no model
// entry is registered and no submission is left queued; once space is
// freed the same upload is accepted, without a restart.
func TestFullDiskAnswered507(t *testing.T) {
	staging, storeDisk := faulttest.Tmpfs(t, "2m"), faulttest.Tmpfs(t, "2m")
	gin.SetMode(gin.TestMode)
	ctx := t.Context()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: "b1", Version: "b1-v1"}); err != nil {
		t.Fatal(err)
	}
	var storeLog, apiLog syncLog
	bucket, store, err := embedded.Open(ctx, embedded.Config{Dir: filepath.Join(storeDisk, "objects"), Logger: slog.New(slog.NewTextHandler(&storeLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(ctx) })
	mreg := &models.Registry{Store: bucket}
	queue := &fakeQueue{}
	svc, err := submissions.New(submissions.Config{UploadDir: filepath.Join(staging, "uploads")},
		submissions.Deps{Registry: reg, Models: mreg, Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "ada", registry.RoleSubmitter); err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.CreateToken(ctx, "ada", 0)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	httpapi.Register(r, svc, slog.New(slog.NewTextHandler(&apiLog, nil)))
	srv := httptest.NewServer(r) // a real server on loopback
	t.Cleanup(srv.Close)
	e := &env{srv: srv, svc: svc, reg: reg, queue: queue, tokens: map[string]string{"ada": tok}}
	file := submissionstest.TinyCNN(2)

	want507 := func(what string) {
		t.Helper()
		st, eb, _ := e.submit(t, "ada", "tiny", file)
		if st != http.StatusInsufficientStorage || eb.Code != string(apierr.EINSUFFICIENTSTORAGE) || eb.Message != apierr.MsgInsufficientStorage {
			t.Fatalf("%s: %d %+v, want 507 insufficient_storage", what, st, eb)
		}
		if all, err := mreg.List(ctx); err != nil || len(all) != 0 {
			t.Errorf("%s: model entries %+v (%v), want none", what, all, err)
		}
		if len(queue.jobs) != 0 {
			t.Errorf("%s: %d jobs queued", what, len(queue.jobs))
		}
		subs, _ := reg.ListSubmissions(ctx, "ada", 0)
		for _, s := range subs {
			if st := submissions.StatusOf(s).State; st != submissions.StageFailed {
				t.Errorf("%s: submission %s left %s", what, s.ID, st)
			}
		}
	}

	// The staging disk is full: the upload cannot even be received.
	filler := faulttest.Fill(t, filepath.Join(staging, "filler"))
	want507("staging disk full")
	if subs, _ := reg.ListSubmissions(ctx, "ada", 0); len(subs) != 0 {
		t.Errorf("staging disk full: %d submissions recorded, want none", len(subs))
	}
	if !strings.Contains(apiLog.String(), filepath.Join(staging, "uploads")) || !strings.Contains(apiLog.String(), "no space left on device") {
		t.Errorf("the log does not name the staging file:\n%s", apiLog.String())
	}
	os.Remove(filler)

	// The store's disk is full: received, validated, but not stored.
	filler = faulttest.Fill(t, filepath.Join(storeDisk, "filler"))
	want507("store disk full")
	if !strings.Contains(storeLog.String(), "out of disk space") || !strings.Contains(storeLog.String(), "object=cortexbench/models/") {
		t.Errorf("the store's log does not name the object:\n%s", storeLog.String())
	}
	if !strings.Contains(apiLog.String(), "InsufficientStorage") {
		t.Errorf("the API log does not say the store is full:\n%s", apiLog.String())
	}
	if n := entries(t, filepath.Join(staging, "uploads")); len(n) != 0 {
		t.Errorf("staged files left: %v", n)
	}

	// Space freed: the same upload is accepted and registered.
	os.Remove(filler)
	st, eb, acc := e.submit(t, "ada", "tiny", file)
	if st != http.StatusAccepted {
		t.Fatalf("after freeing space: %d %+v", st, eb)
	}
	if m, err := mreg.Get(ctx, acc.ModelHash); err != nil || m.Name != "tiny" {
		t.Errorf("entry after freeing space: %+v %v", m, err)
	}
	if all, _ := mreg.List(ctx); len(all) != 1 {
		t.Errorf("%d entries listed, want 1", len(all))
	}
}

// A large upload onto a full staging disk: the client, still sending, gets
// the 507 answer (not a reset connection), and nothing is recorded.
func TestFullStagingDiskLargeUpload(t *testing.T) {
	staging := faulttest.Tmpfs(t, "2m")
	e := newEnv(t, submissions.Config{UploadDir: filepath.Join(staging, "uploads"), MaxFileBytes: 100 << 20})
	faulttest.Fill(t, filepath.Join(staging, "filler"))
	st, eb, _ := e.submit(t, "ada", "large", make([]byte, 40<<20))
	if st != http.StatusInsufficientStorage || eb.Code != string(apierr.EINSUFFICIENTSTORAGE) {
		t.Fatalf("%d %+v, want 507", st, eb)
	}
	if s := e.stored(t); s != "" {
		t.Errorf("stored after a full staging disk: %s", s)
	}
}
