package riverqueue_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

// waitFor polls the submission until done returns true or the deadline.
func waitFor(t *testing.T, reg *registry.Registry, id string, within time.Duration, done func(submissions.Status) bool) submissions.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sub, err := reg.GetSubmission(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		st := submissions.StatusOf(sub)
		if done(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: status %+v", within, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failingScorer fails the first attempts with a transient error, then
// delegates; badModel makes every attempt a bad model.
type failingScorer struct {
	transient int32
	calls     atomic.Int32
	badModel  atomic.Bool
	next      submissions.Scorer
	last      atomic.Pointer[submissions.JobSpec] // the last job run, as the queue handed it over
}

func (f *failingScorer) ScoreOne(ctx context.Context, job submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
	f.last.Store(&job)
	n := f.calls.Add(1)
	if f.badModel.Load() {
		return scoring.Score{}, fmt.Errorf("load: %w: the Conv node has no weights: re-export the model", submissions.ErrBadModel)
	}
	if n <= f.transient {
		return scoring.Score{}, errors.New("connection reset by peer")
	}
	return f.next.ScoreOne(ctx, job, progress)
}

// backend is one implementation of the queue under test: a registry and
// a queue on the same database.
type backend struct {
	reg      *registry.Registry
	newQueue func(scorer submissions.Scorer, cfg riverqueue.Config) (*riverqueue.Queue, error)
	// riverStates returns the River states of a submission's jobs, by id.
	riverStates func(ctx context.Context, submissionID string) ([]string, error)
}

// forEachBackend runs fn on the embedded default (SQLite registry, River's
// SQLite driver on the same file) and, when postgresEnv is set, on
// PostgreSQL (a fresh schema, dropped afterwards).
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		reg, err := registry.Open(t.Context(), registry.Config{SQLitePath: filepath.Join(t.TempDir(), "registry.db")})
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
		fn(t, backend{reg: reg, newQueue: func(s submissions.Scorer, cfg riverqueue.Config) (*riverqueue.Queue, error) {
			return riverqueue.NewSQLite(db, reg, s, cfg)
		}, riverStates: func(ctx context.Context, id string) ([]string, error) {
			rows, err := db.QueryContext(ctx, `SELECT state FROM river_job WHERE json_extract(args, '$.submission_id') = ? ORDER BY id`, id)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var st string
				if err := rows.Scan(&st); err != nil {
					return nil, err
				}
				out = append(out, st)
			}
			return out, rows.Err()
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		pg := newPostgres(t)
		fn(t, backend{reg: pg.reg, newQueue: func(s submissions.Scorer, cfg riverqueue.Config) (*riverqueue.Queue, error) {
			cfg.Schema = pg.schema
			return riverqueue.NewPostgres(pg.pool, pg.reg, s, cfg)
		}, riverStates: func(ctx context.Context, id string) ([]string, error) {
			rows, err := pg.pool.Query(ctx, `SELECT state::text FROM river_job WHERE args->>'submission_id' = $1 ORDER BY id`, id)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		}})
	})
}

// The queue's contract, on every backend: a submission through the
// service is scored by an in-process worker, a transient failure is
// retried, a bad model is cancelled without retry.
func TestQueue(t *testing.T) {
	forEachBackend(t, testQueue)
}

func testQueue(t *testing.T, b backend) {
	ctx := t.Context()
	reg := b.reg
	for _, id := range []string{"b1", "b2"} {
		if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: id, Version: id + "-v1"}); err != nil {
			t.Fatal(err)
		}
	}
	scorer := &failingScorer{transient: 1, next: submissions.DelayScorer{Delay: 20 * time.Millisecond}}
	q, err := b.newQueue(scorer, riverqueue.Config{
		Workers: 1, JobTimeout: 5 * time.Second, RetryBase: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := submissions.New(submissions.Config{}, submissions.Deps{Registry: reg, Models: &models.Registry{Store: objstore.NewMemory()}, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "ada", registry.RoleSubmitter); err != nil {
		t.Fatal(err)
	}
	u, _ := reg.GetUser(ctx, "ada")
	sub, err := svc.Submit(ctx, u, submissions.Metadata{Name: "tiny", Preprocessing: submissionstest.Spec}, submissionstest.Staged(t, submissionstest.TinyCNN(1)))
	if err != nil {
		t.Fatal(err)
	}
	if st := submissions.StatusOf(sub); st.State != submissions.StageQueued || st.Benchmarks != 2 || st.Estimate.Seconds <= 0 {
		t.Fatalf("new submission: %+v", st)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.WithoutCancel(ctx))
	st := waitFor(t, reg, sub.ID, 20*time.Second, func(s submissions.Status) bool {
		return s.State == submissions.StageDone || s.State == submissions.StageFailed
	})
	if st.State != submissions.StageDone || st.Done != 2 {
		t.Fatalf("status %+v", st)
	}
	scores, err := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: sub.ModelHash})
	if err != nil || len(scores) != 2 {
		t.Fatalf("%d scores, %v", len(scores), err)
	}
	if n := scorer.calls.Load(); n != 3 {
		t.Errorf("scorer called %d times, want 3 (one transient failure retried)", n)
	}
	// The job carries its own file and spec through the queue's JSON.
	spec, _ := models.ParseSpec(submissionstest.Spec)
	if job := scorer.last.Load(); job == nil || job.ModelHash != sub.ModelHash || job.Spec != spec.String() ||
		models.EntryID(job.FileHash, spec) != job.ModelHash {
		t.Errorf("the scorer got job %+v", job)
	}

	// A bad model: one attempt, failed with its class and message.
	scorer.badModel.Store(true)
	// Counted before submitting: the running worker may take the jobs as
	// soon as they commit, before Submit returns.
	before := scorer.calls.Load()
	sub2, err := svc.Submit(ctx, u, submissions.Metadata{Name: "tiny2", Preprocessing: submissionstest.Spec}, submissionstest.Staged(t, submissionstest.TinyCNN(2)))
	if err != nil {
		t.Fatal(err)
	}
	st = waitFor(t, reg, sub2.ID, 20*time.Second, func(s submissions.Status) bool {
		for _, j := range s.Jobs {
			if j.State != registry.JobFailed {
				return false
			}
		}
		return true
	})
	if st.State != submissions.StageFailed || st.FailureClass != submissions.ClassBadModel || st.Message == "" {
		t.Fatalf("status %+v", st)
	}
	time.Sleep(300 * time.Millisecond) // a retry would come after 100 ms
	if n := scorer.calls.Load() - before; n != 2 {
		t.Errorf("bad model scored %d times, want 2 (once per benchmark, no retry)", n)
	}
	t.Logf("bad model: %s: %s", st.FailureClass, st.Message)
}
