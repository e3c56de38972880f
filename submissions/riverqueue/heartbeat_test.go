package riverqueue_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// The test binary doubles as the worker process of the heartbeat tests:
// with hbWorkerEnv set (to "sqlite:PATH" or "postgres:SCHEMA:DSN"),
// TestMain runs a worker with hbQueue's windows instead of the tests.
const (
	hbWorkerEnv  = "CORTEXBENCH_RIVERQUEUE_HB_WORKER"
	hbDelayEnv   = "CORTEXBENCH_RIVERQUEUE_HB_DELAY"
	hbWorkersEnv = "CORTEXBENCH_RIVERQUEUE_HB_WORKERS"
)

// hbQueue has short heartbeat windows and a River rescue far beyond the
// test, so only the heartbeat rescuer can rescue a job.
var hbQueue = riverqueue.Config{
	Workers: 1, JobTimeout: 30 * time.Second, RescueAfter: time.Hour,
	HeartbeatInterval: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
	RetryBase: 200 * time.Millisecond, PollInterval: 200 * time.Millisecond,
}

// hbWorkerProcess runs a worker on the backend named by spec until SIGTERM.
func hbWorkerProcess(spec string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	delay, err := time.ParseDuration(os.Getenv(hbDelayEnv))
	if err != nil {
		return fail(err)
	}
	scorer := announcingScorer{submissions.DelayScorer{Delay: delay}}
	cfg := hbQueue
	if _, err := fmt.Sscan(os.Getenv(hbWorkersEnv), &cfg.Workers); err != nil {
		return fail(err)
	}
	var q *riverqueue.Queue
	if path, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		reg, err := registry.Open(ctx, registry.Config{SQLitePath: path})
		if err != nil {
			return fail(err)
		}
		defer reg.Close()
		db, err := reg.SQLDB()
		if err != nil {
			return fail(err)
		}
		if q, err = riverqueue.NewSQLite(db, reg, scorer, cfg); err != nil {
			return fail(err)
		}
	} else {
		schema, dsn, _ := strings.Cut(strings.TrimPrefix(spec, "postgres:"), ":")
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
		cfg.Schema = schema
		if q, err = riverqueue.NewPostgres(pool, reg, scorer, cfg); err != nil {
			return fail(err)
		}
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

// line is one line a worker printed, with when it was read.
type line struct {
	text string
	at   time.Time
}

type hbProc struct {
	cmd   *exec.Cmd
	lines chan line
}

func startHBWorker(t *testing.T, spec string, delay time.Duration, workers int) *hbProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hbWorkerEnv+"="+spec, hbDelayEnv+"="+delay.String(), fmt.Sprint(hbWorkersEnv, "=", workers))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &hbProc{cmd: cmd, lines: make(chan line, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- line{sc.Text(), time.Now()}
		}
		close(w.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return w
}

// next returns the next "start BENCHMARK" line of w.
func (w *hbProc) nextStart(t *testing.T, within time.Duration) line {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatal("worker exited")
			}
			if j, found := strings.CutPrefix(l.text, "start "); found {
				return line{j, l.at}
			}
		case <-timeout:
			t.Fatalf("no job started within %v", within)
		}
	}
}

// hbBackend is a database the worker processes share.
type hbBackend struct {
	reg    *registry.Registry
	spec   string // for hbWorkerEnv
	newQ   func(cfg riverqueue.Config) (*riverqueue.Queue, error)
	jobSQL func(benchmark string) string // attempt and metadata of the benchmark's River job
}

func forEachHBBackend(t *testing.T, fn func(t *testing.T, b hbBackend)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "registry.db")
		reg, err := registry.Open(t.Context(), registry.Config{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		db, err := reg.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		if err := riverqueue.MigrateSQLite(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		fn(t, hbBackend{reg: reg, spec: "sqlite:" + path,
			newQ: func(cfg riverqueue.Config) (*riverqueue.Queue, error) { return riverqueue.NewSQLite(db, reg, nil, cfg) },
			jobSQL: func(b string) string {
				return fmt.Sprintf("SELECT attempt, json(metadata), state FROM river_job WHERE json_extract(args, '$.benchmark_id') = '%s'", b)
			}})
	})
	t.Run("postgres", func(t *testing.T) {
		p := newPostgres(t)
		fn(t, hbBackend{reg: p.reg, spec: "postgres:" + p.schema + ":" + p.dsn,
			newQ: func(cfg riverqueue.Config) (*riverqueue.Queue, error) {
				cfg.Schema = p.schema
				return riverqueue.NewPostgres(p.pool, p.reg, nil, cfg)
			},
			jobSQL: func(b string) string {
				return fmt.Sprintf("SELECT attempt, metadata::text, state FROM %s.river_job WHERE args->>'benchmark_id' = '%s'", p.schema, b)
			}})
	})
}

// A worker killed with SIGKILL in the middle of a job: the job stops
// heartbeating and a second worker process resumes it within the heartbeat
// window (2 s here; ~1 min by default), long before River's own rescue
// (an hour here); every job is scored exactly once; and the healthy jobs,
// each running longer than the window, are never rescued (issue 15,
// finding 4).
func TestHeartbeatRescuesKilledWorker(t *testing.T) {
	forEachHBBackend(t, testHeartbeatRescue)
}

func testHeartbeatRescue(t *testing.T, b hbBackend) {
	ctx := t.Context()
	start := time.Now()
	const n = 3
	// Each job runs 3 s: longer than the 2 s heartbeat window.
	const delay = 3 * time.Second
	sum := sha256.Sum256([]byte("heartbeat-test-model"))
	model := registry.Model{Hash: hex.EncodeToString(sum[:]), Name: "hb", Owner: "ada"}
	sub := registry.Submission{ID: "sub_hb", Owner: "ada", ModelHash: model.Hash, ModelName: model.Name}
	var jobs []submissions.JobSpec
	for i := range n {
		bench := fmt.Sprintf("b%d", i)
		sub.Jobs = append(sub.Jobs, registry.SubmissionJob{BenchmarkID: bench, BenchmarkVersion: bench + "-v1"})
		jobs = append(jobs, submissions.JobSpec{SubmissionID: sub.ID, ModelHash: model.Hash, BenchmarkID: bench, BenchmarkVersion: bench + "-v1"})
	}
	q, err := b.newQ(hbQueue)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.reg.CreateSubmissionWith(ctx, sub, model, 0, func(ctx context.Context, tx *sql.Tx) error { return q.EnqueueTx(ctx, tx, jobs) }); err != nil {
		t.Fatal(err)
	}
	// a runs one job at a time; w, started after the kill, all of them,
	// so the killed job starts as soon as it is rescued.
	a := startHBWorker(t, b.spec, delay, 1)
	killed := a.nextStart(t, 20*time.Second)
	time.Sleep(500 * time.Millisecond) // a heartbeats at least once
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	killedAt := time.Now()
	t.Logf("killed worker a during job %s after %v", killed.text, killedAt.Sub(start).Round(time.Millisecond))
	w := startHBWorker(t, b.spec, delay, n)
	resumed := time.Duration(0)
	for range n {
		l := w.nextStart(t, 20*time.Second)
		if l.text == killed.text {
			resumed = l.at.Sub(killedAt)
		}
	}
	st := waitFor(t, b.reg, sub.ID, 20*time.Second, func(s submissions.Status) bool {
		return s.State == submissions.StageDone || s.State == submissions.StageFailed
	})
	if st.State != submissions.StageDone || st.Done != n {
		t.Fatalf("status %+v", st)
	}
	// Rescued once the attempt was silent for HeartbeatTimeout: at most
	// one rescuer tick, one poll and a process start later.
	if limit := hbQueue.HeartbeatTimeout + 2*time.Second; resumed == 0 || resumed > limit {
		t.Errorf("killed job %s resumed %v after the kill, want within %v", killed.text, resumed, limit)
	}
	db, err := b.reg.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM scores WHERE model_hash = "+placeholder(b)+"", model.Hash).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("%d score rows, want %d (each job scored exactly once)", rows, n)
	}
	for _, j := range sub.Jobs {
		var attempt int
		var md, state string
		if err := db.QueryRowContext(ctx, b.jobSQL(j.BenchmarkID)).Scan(&attempt, &md, &state); err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		if err := json.Unmarshal([]byte(md), &meta); err != nil {
			t.Fatal(err)
		}
		rescues, _ := meta["river:rescue_count"].(float64)
		wantAttempt, wantRescues := 1, 0.0
		if j.BenchmarkID == killed.text {
			wantAttempt, wantRescues = 2, 1
		}
		if state != "completed" || attempt != wantAttempt || rescues != wantRescues {
			t.Errorf("job %s: %s on attempt %d, rescued %v times; want completed on attempt %d, rescued %v times",
				j.BenchmarkID, state, attempt, rescues, wantAttempt, wantRescues)
		}
	}
	got, err := b.reg.GetSubmission(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range got.Jobs {
		if want := map[bool]int{true: 1, false: 0}[j.BenchmarkID == killed.text]; j.Lost != want {
			t.Errorf("job %s: %d attempts recorded lost, want %d", j.BenchmarkID, j.Lost, want)
		}
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	t.Logf("killed job resumed %v after the kill; all %d jobs scored once in %v", resumed.Round(time.Millisecond), n, time.Since(start).Round(time.Millisecond))
}

func placeholder(b hbBackend) string {
	if strings.HasPrefix(b.spec, "sqlite:") {
		return "?"
	}
	return "$1"
}
