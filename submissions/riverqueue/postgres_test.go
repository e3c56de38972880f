package riverqueue_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// postgresEnv names the variable holding a PostgreSQL DSN for the tests
// (.ci/run sets it); without it the PostgreSQL tests skip.
const postgresEnv = "CORTEXBENCH_TEST_POSTGRES"

// The test binary doubles as the worker process of TestKilledWorker: with
// these set, TestMain runs a worker instead of the tests.
const (
	workerDSNEnv    = "CORTEXBENCH_RIVERQUEUE_WORKER_DSN"
	workerSchemaEnv = "CORTEXBENCH_RIVERQUEUE_WORKER_SCHEMA"
)

// The kill test's timings: jobs are bounded (JobTimeout) and a killed
// worker's job is rescued once it has run RescueAfter; River's rescuer
// looks every 30 s, and a dead leader is replaced within ~15 s.
var killTestQueue = riverqueue.Config{
	Workers: 2, JobTimeout: 2 * time.Second, RescueAfter: 3 * time.Second,
	RetryBase: 200 * time.Millisecond, PollInterval: 200 * time.Millisecond,
}

const killTestDelay = 600 * time.Millisecond

func TestMain(m *testing.M) {
	if dsn := os.Getenv(workerDSNEnv); dsn != "" {
		os.Exit(workerProcess(dsn, os.Getenv(workerSchemaEnv)))
	}
	if spec := os.Getenv(hbWorkerEnv); spec != "" {
		os.Exit(hbWorkerProcess(spec))
	}
	if spec := os.Getenv(submitterEnv); spec != "" {
		os.Exit(submitterProcess(spec))
	}
	os.Exit(m.Run())
}

// announcingScorer prints "start BENCHMARK" when a job starts, so the test
// knows when to kill the process.
type announcingScorer struct{ next submissions.Scorer }

func (a announcingScorer) ScoreOne(ctx context.Context, job submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
	fmt.Println("start", job.BenchmarkID)
	return a.next.ScoreOne(ctx, job, progress)
}

func workerProcess(dsn, schema string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	reg, err := registry.Open(ctx, registry.Config{PostgresDSN: dsn})
	if err != nil {
		return fail(err)
	}
	defer reg.Close()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	cfg := killTestQueue
	cfg.Schema = schema
	q, err := riverqueue.NewPostgres(pool, reg, announcingScorer{submissions.DelayScorer{Delay: killTestDelay}}, cfg)
	if err != nil {
		return fail(err)
	}
	if err := q.Start(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Stop(sctx); err != nil {
		return fail(err)
	}
	return 0
}

func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

// pg is a fresh PostgreSQL schema with the registry's and River's tables.
type pg struct {
	schema, dsn string // dsn has the schema as search_path
	reg         *registry.Registry
	pool        *pgxpool.Pool
}

func newPostgres(t *testing.T) *pg {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		t.Skipf("%s not set: PostgreSQL tests skipped (.ci/run starts a server and sets it)", postgresEnv)
	}
	return newPostgresAt(t, dsn)
}

// newPostgresAt is newPostgres on the server at dsn.
func newPostgresAt(t *testing.T, dsn string) *pg {
	t.Helper()
	ctx := t.Context()
	schema := fmt.Sprintf("rq_%d_%d", time.Now().UnixNano(), rand.Uint32())
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	p := &pg{schema: schema, dsn: withSearchPath(dsn, schema)}
	if p.reg, err = registry.Open(ctx, registry.Config{PostgresDSN: p.dsn}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.reg.Close() })
	if p.pool, err = pgxpool.New(ctx, p.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.pool.Close)
	if err := riverqueue.MigratePostgres(ctx, p.pool, schema); err != nil {
		t.Fatal(err)
	}
	return p
}

type workerProc struct {
	cmd   *exec.Cmd
	lines chan string
}

func startWorker(t *testing.T, dsn, schema string) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerDSNEnv+"="+dsn, workerSchemaEnv+"="+schema)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProc{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return w
}

// Two worker processes on PostgreSQL share 20 jobs; one is killed with
// SIGKILL in the middle of a job. Every job must end scored exactly once:
// 20 score rows, no duplicate, no missing one, every River job completed.
func TestKilledWorker(t *testing.T) {
	p := newPostgres(t)
	start := time.Now()
	ctx := t.Context()
	reg, pool, schema, scoped := p.reg, p.pool, p.schema, p.dsn
	const n = 20
	sum := sha256.Sum256([]byte("kill-test-model"))
	model := registry.Model{Hash: hex.EncodeToString(sum[:]), Name: "kill-test", Owner: "ada"}
	sub := registry.Submission{ID: "sub_kill", Owner: "ada", ModelHash: model.Hash, ModelName: model.Name}
	var jobs []submissions.JobSpec
	for i := range n {
		b := fmt.Sprintf("b%02d", i)
		sub.Jobs = append(sub.Jobs, registry.SubmissionJob{BenchmarkID: b, BenchmarkVersion: b + "-v1"})
		jobs = append(jobs, submissions.JobSpec{SubmissionID: sub.ID, ModelHash: model.Hash, BenchmarkID: b, BenchmarkVersion: b + "-v1"})
	}
	if err := reg.CreateSubmission(ctx, sub, model, 0); err != nil {
		t.Fatal(err)
	}
	inserter, err := riverqueue.NewPostgres(pool, reg, nil, riverqueue.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := inserter.Enqueue(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	// Enqueuing again is a no-op: jobs are unique per submission and benchmark.
	if err := inserter.Enqueue(ctx, jobs); err != nil {
		t.Fatal(err)
	}

	// a starts first and becomes River's leader, whose maintenance (the
	// rescuer among it) moves to b once a is dead: the rescue then comes
	// ~15-20 s after the kill instead of at the surviving leader's next
	// 30 s rescuer tick, which keeps the test fast and its timing steady.
	a := startWorker(t, scoped, schema)
	for deadline := time.Now().Add(20 * time.Second); ; {
		var leaders int
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.river_leader", schema)).Scan(&leaders); err != nil {
			t.Fatal(err)
		}
		if leaders > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker a never became leader")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := startWorker(t, scoped, schema)
	// Kill a in the middle of its second job.
	var killedJob string
	for started := 0; started < 2; {
		select {
		case line, ok := <-a.lines:
			if !ok {
				t.Fatal("worker a exited early")
			}
			if j, found := strings.CutPrefix(line, "start "); found {
				started++
				killedJob = j
			}
		case <-time.After(20 * time.Second):
			t.Fatal("worker a started no job")
		}
	}
	time.Sleep(killTestDelay / 3)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	got, err := reg.GetSubmission(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range got.Jobs {
		if j.BenchmarkID == killedJob && j.State != registry.JobRunning {
			t.Fatalf("killed job %s is %s, want running at the kill", killedJob, j.State)
		}
	}
	t.Logf("killed worker a during job %s after %v", killedJob, time.Since(start).Round(time.Millisecond))
	go func() {
		for range b.lines {
		}
	}()

	st := waitFor(t, reg, sub.ID, 55*time.Second-time.Since(start), func(s submissions.Status) bool {
		return s.State == submissions.StageDone || s.State == submissions.StageFailed
	})
	if st.State != submissions.StageDone || st.Done != n {
		t.Fatalf("status %+v", st)
	}
	var rows, distinct int
	if err := pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT benchmark_version) FROM scores WHERE model_hash = $1", model.Hash).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Fatalf("%d score rows for %d benchmarks, want %d of %d", rows, distinct, n, n)
	}
	var completed, total, maxAttempt int
	if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FILTER (WHERE state = 'completed'), count(*), max(attempt) FROM %s.river_job", schema)).
		Scan(&completed, &total, &maxAttempt); err != nil {
		t.Fatal(err)
	}
	if completed != n || total != n {
		t.Fatalf("river jobs: %d completed of %d, want %d of %d", completed, total, n, n)
	}
	if maxAttempt < 2 {
		t.Errorf("no job was attempted twice: the killed job should have been rescued and retried")
	}
	var killedAttempt int
	if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT attempt FROM %s.river_job WHERE args->>'benchmark_id' = $1", schema), killedJob).Scan(&killedAttempt); err != nil {
		t.Fatal(err)
	}
	if killedAttempt < 2 {
		t.Errorf("killed job %s completed on attempt %d, want ≥ 2", killedJob, killedAttempt)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	t.Logf("all %d jobs scored exactly once in %v", n, time.Since(start).Round(time.Millisecond))
}
