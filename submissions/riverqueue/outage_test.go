package riverqueue_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

// outageScorer scores, and makes the database unavailable (down) just
// before its first score is returned, so the commit of that score fails.
type outageScorer struct {
	calls atomic.Int32
	down  func()
	next  submissions.Scorer
}

func (o *outageScorer) ScoreOne(ctx context.Context, job submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
	s, err := o.next.ScoreOne(ctx, job, progress)
	if o.calls.Add(1) == 1 {
		o.down()
	}
	return s, err
}

// A job whose score commit fails because the database is unavailable (a
// write lock held past the busy timeout on SQLite; the connection cut by
// a proxy on PostgreSQL) is retried once the database is back, completes
// exactly once, and its failed attempt is not counted as lost (before, it
// counted as a vanished worker, and two outages failed the job as out of
// memory) (issue 15, finding 2).
func TestCommitDuringOutage(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "registry.db")
		reg, err := registry.Open(t.Context(), registry.Config{SQLitePath: path, BusyTimeout: 200 * time.Millisecond})
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
		// Another process's write lock on the file.
		other, err := registry.Open(t.Context(), registry.Config{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		odb, err := other.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		conn, err := odb.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		down := func() {
			if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
				t.Error(err)
				return
			}
			time.AfterFunc(1500*time.Millisecond, func() { conn.ExecContext(context.Background(), "ROLLBACK") })
		}
		testCommitDuringOutage(t, reg, down, func(s submissions.Scorer, cfg riverqueue.Config) (*riverqueue.Queue, error) {
			return riverqueue.NewSQLite(db, reg, s, cfg)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		p := newPostgres(t)
		proxy := newCutProxy(t, p.dsn)
		pool, err := pgxpool.New(t.Context(), proxy.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		down := func() {
			proxy.cut(true)
			time.AfterFunc(1500*time.Millisecond, func() { proxy.cut(false) })
		}
		testCommitDuringOutage(t, p.reg, down, func(s submissions.Scorer, cfg riverqueue.Config) (*riverqueue.Queue, error) {
			cfg.Schema = p.schema
			return riverqueue.NewPostgres(pool, p.reg, s, cfg)
		})
	})
}

func testCommitDuringOutage(t *testing.T, reg *registry.Registry, down func(), newQueue func(submissions.Scorer, riverqueue.Config) (*riverqueue.Queue, error)) {
	ctx := t.Context()
	start := time.Now()
	if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: "b1", Version: "b1-v1"}); err != nil {
		t.Fatal(err)
	}
	scorer := &outageScorer{down: down, next: submissions.DelayScorer{Delay: 20 * time.Millisecond}}
	q, err := newQueue(scorer, riverqueue.Config{Workers: 1, JobTimeout: 20 * time.Second, RetryBase: 200 * time.Millisecond,
		PollInterval: 100 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond, HeartbeatTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := submissions.New(submissions.Config{}, submissions.Deps{Registry: reg, Models: &models.Registry{Store: objstore.NewMemory()}, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, "ada", registry.RoleSubmitter)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := svc.Submit(ctx, u, submissions.Metadata{Name: "tiny", Preprocessing: submissionstest.Spec}, submissionstest.Staged(t, submissionstest.TinyCNN(3)))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.WithoutCancel(ctx))
	st := waitFor(t, reg, sub.ID, 30*time.Second, func(s submissions.Status) bool {
		return s.State == submissions.StageDone || s.State == submissions.StageFailed
	})
	if st.State != submissions.StageDone {
		t.Fatalf("status %+v", st)
	}
	if n := scorer.calls.Load(); n != 2 {
		t.Errorf("scored %d times, want 2 (the commit of the first failed)", n)
	}
	scores, err := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: sub.ModelHash})
	if err != nil || len(scores) != 1 {
		t.Errorf("%d scores (%v), want exactly 1", len(scores), err)
	}
	if j := st.Jobs[0]; j.Attempt != 2 || j.Lost != 0 {
		t.Errorf("job done on attempt %d with %d lost, want attempt 2 and none lost (a failed commit is not a vanished worker)", j.Attempt, j.Lost)
	}
	t.Logf("the commit failed during the outage; done on attempt 2 in %v", time.Since(start).Round(time.Millisecond))
}

// cutProxy forwards TCP connections to a PostgreSQL server until cut:
// then it drops every connection and refuses new ones, as a network
// outage or a stopped server would.
type cutProxy struct {
	dsn   string
	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newCutProxy(t *testing.T, dsn string) *cutProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("the outage test needs a URL DSN (%v)", err)
	}
	target := u.Host
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	u.Host = l.Addr().String()
	p := &cutProxy{dsn: u.String(), conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close(); c.Close() }()
			go func() { io.Copy(c, s); s.Close(); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
