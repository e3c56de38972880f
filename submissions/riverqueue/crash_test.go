package riverqueue_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/storage/s3"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// The test binary doubles as the submissions server of
// TestKilledSubmitter: with submitterEnv set (the backend, as
// hbWorkerEnv), TestMain runs submitterProcess instead of the tests.
const (
	submitterEnv    = "CORTEXBENCH_RIVERQUEUE_SUBMITTER"
	submitterDirEnv = "CORTEXBENCH_RIVERQUEUE_SUBMITTER_OBJECTS"
	submitterUpEnv  = "CORTEXBENCH_RIVERQUEUE_SUBMITTER_UPLOADS"
)

// openStore opens the on-disk object store of the test (the embedded S3
// endpoint over dir, as 'cortexbench serve' uses by default).
func openStore(ctx context.Context, dir string) (*s3.Bucket, func(), error) {
	bucket, srv, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		return nil, nil, err
	}
	return bucket, func() { srv.Close(context.Background()) }, nil
}

// openBackend opens the registry and an inserting queue on the backend
// named by spec ("sqlite:PATH" or "postgres:SCHEMA:DSN").
func openBackend(ctx context.Context, spec string) (*registry.Registry, *riverqueue.Queue, func(), error) {
	if path, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		reg, err := registry.Open(ctx, registry.Config{SQLitePath: path})
		if err != nil {
			return nil, nil, nil, err
		}
		db, err := reg.SQLDB()
		if err != nil {
			reg.Close()
			return nil, nil, nil, err
		}
		q, err := riverqueue.NewSQLite(db, reg, nil, riverqueue.Config{})
		if err != nil {
			reg.Close()
			return nil, nil, nil, err
		}
		return reg, q, func() { reg.Close() }, nil
	}
	schema, dsn, _ := strings.Cut(strings.TrimPrefix(spec, "postgres:"), ":")
	reg, err := registry.Open(ctx, registry.Config{PostgresDSN: dsn})
	if err != nil {
		return nil, nil, nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		reg.Close()
		return nil, nil, nil, err
	}
	q, err := riverqueue.NewPostgres(pool, reg, nil, riverqueue.Config{Schema: schema})
	if err != nil {
		pool.Close()
		reg.Close()
		return nil, nil, nil, err
	}
	return reg, q, func() { pool.Close(); reg.Close() }, nil
}

// submitterProcess is the submissions API server (httpapi over the
// service: model files to the on-disk store, rows and jobs to the
// database) on a loopback port it prints, until it is killed.
func submitterProcess(spec string) int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "submitter:", err)
		return 1
	}
	reg, q, closeBackend, err := openBackend(ctx, spec)
	if err != nil {
		return fail(err)
	}
	defer closeBackend()
	bucket, closeStore, err := openStore(ctx, os.Getenv(submitterDirEnv))
	if err != nil {
		return fail(err)
	}
	defer closeStore()
	svc, err := submissions.New(submissions.Config{DailyLimit: -1, UploadDir: os.Getenv(submitterUpEnv)},
		submissions.Deps{Registry: reg, Models: &models.Registry{Store: bucket}, Queue: q})
	if err != nil {
		return fail(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready", "http://"+l.Addr().String())
	return fail(http.Serve(l, httpapi.NewHandler(svc, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))))
}

// killedApp is the application_name of the killed submitters' PostgreSQL
// sessions.
const killedApp = "cortexbench-killed-submitter"

// settle waits until PostgreSQL has ended every session of the killed
// submitters. A submitter killed during COMMIT leaves its server process
// finishing that commit after the client is gone, so a submission can
// appear after the kill (CI saw the 113th land between the listing and
// Reconcile); the test counts only once none can.
func settle(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", killedApp).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed submitters still open after 30 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A submissions API server killed with SIGKILL at random points while
// three clients upload models to it (10 kills) leaves no submission
// without its jobs: each
// submission's rows and jobs commit in one transaction, after its file is
// stored. Reconcile, run at start-up, then finds nothing to repair; given
// orphans as older versions left them, it re-queues the one whose file is
// stored and fails the one whose file is not, refunding its quota (issue
// 15, finding 1).
func TestKilledSubmitter(t *testing.T) {
	forEachHBBackend(t, testKilledSubmitter)
}

func testKilledSubmitter(t *testing.T, b hbBackend) {
	ctx := t.Context()
	start := time.Now()
	reg := b.reg
	for _, id := range []string{"b1", "b2", "b3"} {
		if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: id, Version: id + "-v1"}); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := submissions.New(submissions.Config{}, submissions.Deps{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, "ada", registry.RoleSubmitter); err != nil {
		t.Fatal(err)
	}
	token, _, err := admin.CreateToken(ctx, "ada", 0)
	if err != nil {
		t.Fatal(err)
	}
	objects, uploads := t.TempDir(), t.TempDir()
	if err := os.Chmod(uploads, 0o700); err != nil {
		t.Fatal(err)
	}
	const kills, clients = 10, 3
	var accepted, seed atomic.Int64
	for range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), submitterEnv+"="+b.spec, submitterDirEnv+"="+objects, submitterUpEnv+"="+uploads,
			"PGAPPNAME="+killedApp) // names its PostgreSQL sessions, for settle
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ready ") {
			t.Fatalf("submitter did not start: %q", sc.Text())
		}
		api := &wire.Client{BaseURL: strings.TrimPrefix(sc.Text(), "ready "), Token: token}
		// Clients upload models until the server dies under them.
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for {
					i := seed.Add(1)
					data := submissionstest.TinyCNN(uint64(i))
					_, err := api.Submit(ctx, "m.onnx", bytes.NewReader(data), wire.SubmitForm{Name: fmt.Sprint("m", i), Preprocessing: submissionstest.Spec})
					if err != nil {
						var ae *wire.APIError
						if errors.As(err, &ae) {
							t.Errorf("upload %d refused: %v", i, err)
						}
						return // the server is gone
					}
					accepted.Add(1)
				}
			})
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		wg.Wait()
	}
	db, err := reg.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(b.spec, "postgres:") {
		settle(t, db)
	}
	subs, err := reg.ListSubmissions(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills: %d uploads started, %d accepted, %d recorded, in %v", kills, seed.Load(), accepted.Load(), len(subs), time.Since(start).Round(time.Millisecond))
	if n := int64(len(subs)); n < accepted.Load() || accepted.Load() < kills {
		t.Fatalf("%d submissions recorded, %d accepted: want at least one accepted per run and each recorded", n, accepted.Load())
	}
	bucket, closeStore, err := openStore(ctx, objects)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	hasFile := func(ctx context.Context, f string) (bool, error) { return bucket.Exists(ctx, models.FileKey(f)) }
	stored := func(ctx context.Context, entryID, f string) (bool, error) {
		if _, err := (&models.Registry{Store: bucket}).Get(ctx, entryID); models.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return hasFile(ctx, f)
	}
	_, q, closeBackend, err := openBackend(ctx, b.spec)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBackend()
	// Every recorded submission has every job queued, and its file stored.
	for _, s := range subs {
		m, err := reg.GetModel(ctx, s.ModelHash)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := hasFile(ctx, m.File); err != nil || !ok {
			t.Errorf("submission %s: its model file %s is not stored (%v)", s.ID, m.File, err)
		}
		if len(s.Jobs) != 3 {
			t.Errorf("submission %s has %d jobs, want 3", s.ID, len(s.Jobs))
		}
		var n int
		if err := db.QueryRowContext(ctx, b.countJobsSQL(), s.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(s.Jobs) {
			t.Errorf("submission %s: %d queue jobs for %d jobs: orphaned", s.ID, n, len(s.Jobs))
		}
	}
	rec, err := q.Reconcile(ctx, reg, stored)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Open != 3*len(subs) || rec.Requeued != 0 || rec.FailedSubmissions != 0 || rec.Abandoned != 0 {
		t.Errorf("reconcile after the kills: %+v, want nothing to repair", rec)
	}

	// Orphans as the versions before this one left them: recorded, not
	// queued. One's file is stored, the other's never was.
	day := registry.Day(time.Now())
	before, _ := reg.CountSubmissions(ctx, "ada", day)
	kept, err := reg.GetModel(ctx, subs[0].ModelHash)
	if err != nil {
		t.Fatal(err)
	}
	orphan := registry.Submission{ID: "sub_orphan_stored", Owner: "ada", ModelHash: kept.Hash, ModelName: kept.Name,
		Jobs: []registry.SubmissionJob{{BenchmarkID: "b9", BenchmarkVersion: "b9-v1"}}}
	if err := reg.CreateSubmission(ctx, orphan, kept, 0); err != nil {
		t.Fatal(err)
	}
	lost := registry.Model{Hash: fmt.Sprintf("%064x", 7), File: fmt.Sprintf("%064x", 8), Name: "never stored", Owner: "ada", Preprocessing: []byte("{}")}
	if err := reg.CreateSubmission(ctx, registry.Submission{ID: "sub_orphan_lost", Owner: "ada", ModelHash: lost.Hash, ModelName: lost.Name,
		Jobs: []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "b1-v1"}, {BenchmarkID: "b2", BenchmarkVersion: "b2-v1"}}}, lost, 0); err != nil {
		t.Fatal(err)
	}
	rec, err = q.Reconcile(ctx, reg, stored)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Requeued != 1 || rec.FailedSubmissions != 1 {
		t.Errorf("reconcile of two orphans: %+v, want 1 job re-queued and 1 submission failed", rec)
	}
	var n int
	if err := db.QueryRowContext(ctx, b.countJobsSQL(), orphan.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("re-queued orphan has %d queue jobs (%v), want 1", n, err)
	}
	got, err := reg.GetSubmission(ctx, "sub_orphan_lost")
	if err != nil {
		t.Fatal(err)
	}
	if st := submissions.StatusOf(got); st.State != submissions.StageFailed || st.FailureClass != submissions.ClassInternal ||
		!strings.Contains(st.Message, "does not count against your daily limit") {
		t.Errorf("orphan without its file: %+v", st)
	}
	if after, _ := reg.CountSubmissions(ctx, "ada", day); after != before+1 {
		t.Errorf("daily count %d after two orphans and a refund, want %d", after, before+1)
	}
	// Idempotent: a second start-up finds nothing.
	if rec, err = q.Reconcile(ctx, reg, stored); err != nil || rec.Requeued != 0 || rec.FailedSubmissions != 0 {
		t.Errorf("second reconcile: %+v, %v", rec, err)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// countJobsSQL counts the queue jobs of a submission ($1 / ?).
func (b hbBackend) countJobsSQL() string {
	if strings.HasPrefix(b.spec, "sqlite:") {
		return "SELECT count(*) FROM river_job WHERE json_extract(args, '$.submission_id') = ?"
	}
	schema, _, _ := strings.Cut(strings.TrimPrefix(b.spec, "postgres:"), ":")
	return "SELECT count(*) FROM " + schema + ".river_job WHERE args->>'submission_id' = $1"
}
