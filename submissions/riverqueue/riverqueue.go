// Package riverqueue runs submission jobs on River
// (github.com/riverqueue/river): on PostgreSQL through pgx for workers on
// many machines, and on the registry's SQLite file for one machine. River
// stays inside this package.
//
// A job is one model on one benchmark, bounded by Config.JobTimeout. Its
// score and its completion commit in one transaction: the score row is
// written with the registry's PutScoreTx into the transaction River's
// JobCompleteTx completes the job in, so a job that dies before the commit
// leaves neither (and is retried), and a job that committed is never run
// again. A submission's rows and its jobs are created in one transaction
// too (EnqueueTx), and Reconcile repairs, at start-up, any submission an
// older version left without its jobs.
//
// A running job heartbeats every Config.HeartbeatInterval; every working
// process rescues a job whose attempt has been silent for
// Config.HeartbeatTimeout (its worker died: rescue.go), so a killed
// worker's job resumes within about a minute and a half by default, while
// a healthy job, however long, is never rescued. Platform failures (disk,
// storage, database, network) are retried with exponential backoff; a bad
// model, running out of memory and a timeout are recorded and cancelled
// (river.JobCancel), never retried. A worker killed outright (by the
// kernel, for memory) records nothing: when the job engine has rescued
// two of a job's attempts, its third attempt records it as out of memory
// and cancels it (submissions.Executor), before River would drop it
// silently. An attempt that failed in any other way (the database down at
// its commit) is not counted as lost.
package riverqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

// Config tunes the queue and this process's workers.
type Config struct {
	// Workers is how many jobs this process runs at once. Default 1 (a job
	// already uses every core for its linear algebra).
	Workers int
	// JobTimeout bounds one job. Default 1h.
	JobTimeout time.Duration
	// RescueAfter is River's own rescue: how long a job may run at all
	// before it is considered abandoned and retried; it must exceed
	// JobTimeout. Default JobTimeout + 5 min. River's rescuer looks every
	// 30 s. Dead workers are found much sooner by heartbeat (below).
	RescueAfter time.Duration
	// HeartbeatInterval is how often a running job shows it is alive (in
	// the registry's job row), and how often every working process looks
	// for jobs whose heartbeat stopped. Default 15 s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a running job may go without a
	// heartbeat before it is rescued (made available to any worker again,
	// the attempt recorded as lost): its worker died. Default 1 min, so a
	// killed worker's job resumes within HeartbeatTimeout +
	// HeartbeatInterval + PollInterval (≈ 76 s) when another worker process
	// runs, or that long after the restart of the only one; a healthy job,
	// however long, keeps heartbeating and is never rescued. A process
	// rescues only once it has reached the database for a whole
	// HeartbeatTimeout (since its start or a failed query), so a database
	// outage does not make live jobs look dead.
	HeartbeatTimeout time.Duration
	// MaxAttempts is how often a job is tried in all. Default 5.
	MaxAttempts int
	// RetryBase is the first retry's delay; each further retry doubles it,
	// up to RetryMax. Defaults 10 s and 30 min.
	RetryBase time.Duration
	RetryMax  time.Duration
	// PollInterval is how often idle workers look for jobs (PostgreSQL
	// also wakes them by notification). Default 1 s.
	PollInterval time.Duration
	// Queue names the River queue. Default "scoring".
	Queue string
	// Schema is the PostgreSQL schema of River's tables; empty means the
	// connection's search_path.
	Schema string
	// Logger receives River's logs; discarded when nil.
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = time.Hour
	}
	if c.RescueAfter == 0 {
		c.RescueAfter = c.JobTimeout + 5*time.Minute
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 15 * time.Second
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = time.Minute
	}
	if c.RetryBase == 0 {
		c.RetryBase = 10 * time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 30 * time.Minute
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.Queue == "" {
		c.Queue = "scoring"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports what is wrong with c (after WithDefaults).
func (c Config) Validate() error {
	switch {
	case c.Workers < 1:
		return fmt.Errorf("queue config: workers %d must be at least 1", c.Workers)
	case c.JobTimeout <= 0:
		return fmt.Errorf("queue config: job timeout %v must be positive: jobs are bounded", c.JobTimeout)
	case c.RescueAfter <= c.JobTimeout:
		return fmt.Errorf("queue config: rescue-after %v must exceed the job timeout %v, or running jobs would be run twice", c.RescueAfter, c.JobTimeout)
	case c.MaxAttempts < 3:
		// Two vanished attempts are detected when the third starts (see
		// submissions.Executor.MaxLost); with fewer, River would drop the
		// job without a recorded outcome.
		return fmt.Errorf("queue config: max attempts %d must be at least 3", c.MaxAttempts)
	case c.RetryBase <= 0 || c.RetryMax < c.RetryBase:
		return fmt.Errorf("queue config: retry base %v must be positive and at most retry max %v", c.RetryBase, c.RetryMax)
	case c.HeartbeatInterval <= 0 || c.HeartbeatTimeout < 2*c.HeartbeatInterval:
		return fmt.Errorf("queue config: heartbeat timeout %v must be at least twice the heartbeat interval %v (positive), or a slow heartbeat looks like a dead worker",
			c.HeartbeatTimeout, c.HeartbeatInterval)
	case c.PollInterval < 100*time.Millisecond:
		return fmt.Errorf("queue config: poll interval %v must be at least 100ms", c.PollInterval)
	}
	return nil
}

// scoreArgs is a job's payload.
type scoreArgs struct {
	SubmissionID string `json:"submission_id"`
	ModelHash    string `json:"model_hash"`
	// FileHash and Spec are absent from jobs queued before jobs carried
	// them (the scorer then reads them from the model entry).
	FileHash         string `json:"file_hash,omitempty"`
	Spec             string `json:"spec,omitempty"`
	BenchmarkID      string `json:"benchmark_id"`
	BenchmarkVersion string `json:"benchmark_version"`
}

func (scoreArgs) Kind() string { return "cortexbench_score" }

func (a scoreArgs) spec() submissions.JobSpec {
	return submissions.JobSpec{SubmissionID: a.SubmissionID, ModelHash: a.ModelHash, FileHash: a.FileHash, Spec: a.Spec,
		BenchmarkID: a.BenchmarkID, BenchmarkVersion: a.BenchmarkVersion}
}

// backoff doubles the delay from RetryBase with each attempt.
type backoff struct{ base, max time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, b.max))
}

// txFuncs is what the worker needs from one driver's transactions.
type txFuncs[TTx any] struct {
	begin    func(ctx context.Context) (TTx, error)
	execer   func(TTx) registry.Execer
	complete func(ctx context.Context, tx TTx, job *river.Job[scoreArgs]) error
	commit   func(ctx context.Context, tx TTx) error
	rollback func(ctx context.Context, tx TTx)
}

// Commits stores a job's score and completes the job inside the queue's
// transaction (storage/registry implements it on the same database).
type Commits interface {
	PutScoreTx(ctx context.Context, ex registry.Execer, s scoring.Score) (created bool, err error)
	FinishJobTx(ctx context.Context, ex registry.Execer, submissionID, benchmarkID string) error
}

// Store is what the queue's workers record: the jobs' attempts and
// outcomes, their heartbeats, and the commit of a finished job. Dialect
// names the database ("postgres" or "sqlite").
type Store interface {
	submissions.JobLog
	Commits
	Heartbeats
	Dialect() string
}

// Heartbeats keeps running jobs' signs of life (storage/registry
// implements it in the job's row).
type Heartbeats interface {
	// Heartbeat records that attempt of the job is alive at now; false
	// when the job no longer runs that attempt.
	Heartbeat(ctx context.Context, submissionID, benchmarkID string, attempt int, now time.Time) (bool, error)
	// LastHeartbeat returns the attempt the job last started and when it
	// last showed it was alive.
	LastHeartbeat(ctx context.Context, submissionID, benchmarkID string) (attempt int, at time.Time, err error)
}

type worker[TTx any] struct {
	river.WorkerDefaults[scoreArgs]
	exec      *submissions.Executor
	reg       Store
	tx        txFuncs[TTx]
	timeout   time.Duration
	heartbeat time.Duration
}

func (w *worker[TTx]) Timeout(*river.Job[scoreArgs]) time.Duration { return w.timeout }

func (w *worker[TTx]) Work(ctx context.Context, job *river.Job[scoreArgs]) error {
	at := submissions.Attempt{Number: job.Attempt, Max: job.MaxAttempts, Timeout: w.timeout, Lost: rescues(job.JobRow)}
	defer w.beat(ctx, job)()
	outcome, err := w.exec.Run(ctx, job.Args.spec(), at, func(ctx context.Context, s scoring.Score) error {
		tx, err := w.tx.begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer w.tx.rollback(context.WithoutCancel(ctx), tx)
		ex := w.tx.execer(tx)
		if _, err := w.reg.PutScoreTx(ctx, ex, s); err != nil {
			return err
		}
		if err := w.reg.FinishJobTx(ctx, ex, job.Args.SubmissionID, job.Args.BenchmarkID); err != nil {
			return err
		}
		if err := w.tx.complete(ctx, tx, job); err != nil {
			return fmt.Errorf("complete job %d: %w", job.ID, err)
		}
		return w.tx.commit(ctx, tx)
	})
	if outcome != submissions.Completed {
		w.awaitDatabase(ctx, job)
	}
	switch outcome {
	case submissions.Completed:
		return nil
	case submissions.Cancel:
		return river.JobCancel(err)
	default:
		return err
	}
}

// awaitDatabase returns once the database answers (a heartbeat of the
// attempt is recorded) or ctx ends, while the attempt keeps heartbeating.
// An attempt that failed because the database was down (its commit met an
// outage) must not hand its outcome to River before the database is back:
// River could not record it, the job would stay running without
// heartbeats, and once the database returned the heartbeat rescuer could
// rescue it before River's completer retried, counting the outage as a
// lost attempt (issue 15, finding 2; TestPostgresRestartDuringScoring).
// With the database up, the first heartbeat succeeds at once.
func (w *worker[TTx]) awaitDatabase(ctx context.Context, job *river.Job[scoreArgs]) {
	for {
		if _, err := w.reg.Heartbeat(ctx, job.Args.SubmissionID, job.Args.BenchmarkID, job.Attempt, time.Now()); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.heartbeat):
		}
	}
}

// beat heartbeats the job every w.heartbeat until the returned stop is
// called. A heartbeat that fails (the database is down) is skipped: the
// next one may succeed, and only a job unheartbeated for the whole
// HeartbeatTimeout is rescued. A worker whose job was rescued while it was
// alive (it could not heartbeat for that long) carries on: its commit and
// the new attempt's are idempotent (one score row, one completion), so
// the score is still committed exactly once.
func (w *worker[TTx]) beat(ctx context.Context, job *river.Job[scoreArgs]) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(w.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = w.reg.Heartbeat(ctx, job.Args.SubmissionID, job.Args.BenchmarkID, job.Attempt, time.Now())
			}
		}
	}()
	return func() { close(done); <-finished }
}

// rescueCountKey is the job metadata key River's rescuer counts its
// rescues under; the heartbeat rescuer (rescue.go) counts its own there too.
const rescueCountKey = "river:rescue_count"

// rescues returns how many attempts of job the job engine rescued (River's
// rescuer or the heartbeat rescuer): only those count as lost. An attempt
// that ended in an error, even one the worker could not record, is not a
// rescue.
func rescues(job *rivertype.JobRow) int {
	var md map[string]any
	if len(job.Metadata) == 0 || json.Unmarshal(job.Metadata, &md) != nil {
		return 0
	}
	if n, ok := md[rescueCountKey].(float64); ok && n > 0 {
		return int(n)
	}
	return 0
}

// Queue is the job queue: it takes jobs (Enqueue, EnqueueTx) and, when
// made with a Scorer, works them (Start, Stop) and rescues the jobs of
// dead workers (rescue.go).
type Queue struct {
	cfg      Config
	insert   func(ctx context.Context, params []river.InsertManyParams) error
	insertTx func(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error
	start    func(ctx context.Context) error
	stop     func(ctx context.Context) error
	// cancel cancels one River job (river.Client.JobCancel).
	cancel  func(ctx context.Context, id int64) error
	working bool
	jobs    jobTable
	hb      Heartbeats
	// rescuer runs while the workers run.
	stopRescuer func()
}

func riverConfig[TTx any](cfg Config, w *worker[TTx]) *river.Config {
	rc := &river.Config{
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          backoff{cfg.RetryBase, cfg.RetryMax},
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(100*time.Millisecond, cfg.PollInterval),
		Schema:               cfg.Schema,
		Logger:               cfg.Logger,
	}
	if w != nil {
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}}
	}
	return rc
}

func newQueue[TTx any](cfg Config, client *river.Client[TTx], working bool, reg Store, jobs jobTable) *Queue {
	return &Queue{
		cfg: cfg, working: working, hb: reg, jobs: jobs,
		insert: func(ctx context.Context, params []river.InsertManyParams) error {
			_, err := client.InsertMany(ctx, params)
			return err
		},
		start: client.Start,
		stop:  client.Stop,
		cancel: func(ctx context.Context, id int64) error {
			_, err := client.JobCancel(ctx, id)
			if errors.Is(err, river.ErrNotFound) {
				return nil // gone meanwhile (cleaned up): nothing to cancel
			}
			return err
		},
	}
}

// NewPostgres returns the queue on PostgreSQL. With a nil scorer it only
// inserts jobs (an API server); otherwise Start runs cfg.Workers workers
// in this process. reg must be the registry on the same database.
func NewPostgres(pool *pgxpool.Pool, reg Store, scorer submissions.Scorer, cfg Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg.Dialect() != "postgres" {
		return nil, errors.New("riverqueue: the PostgreSQL queue needs the registry on the same PostgreSQL database")
	}
	var w *worker[pgx.Tx]
	if scorer != nil {
		w = &worker[pgx.Tx]{exec: &submissions.Executor{Registry: reg, Scorer: scorer}, reg: reg, timeout: cfg.JobTimeout,
			heartbeat: cfg.HeartbeatInterval,
			tx: txFuncs[pgx.Tx]{
				begin:  func(ctx context.Context) (pgx.Tx, error) { return pool.Begin(ctx) },
				execer: func(tx pgx.Tx) registry.Execer { return pgxExec{tx} },
				complete: func(ctx context.Context, tx pgx.Tx, job *river.Job[scoreArgs]) error {
					_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
					return err
				},
				commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
				rollback: func(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(ctx) },
			}}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), riverConfig(cfg, w))
	if err != nil {
		return nil, fmt.Errorf("riverqueue: new client: %w", err)
	}
	q := newQueue(cfg, client, w != nil, reg, pgJobTable(pool, cfg.Schema))
	// The registry writes a submission's rows through database/sql (gorm
	// over pgx's stdlib); River's database/sql driver inserts its jobs in
	// that same transaction.
	if db, ok := reg.(interface{ SQLDB() (*sql.DB, error) }); ok {
		sdb, err := db.SQLDB()
		if err != nil {
			return nil, err
		}
		inserter, err := river.NewClient(riverdatabasesql.New(sdb), &river.Config{Schema: cfg.Schema, Logger: cfg.Logger, MaxAttempts: cfg.MaxAttempts})
		if err != nil {
			return nil, fmt.Errorf("riverqueue: new inserting client: %w", err)
		}
		q.insertTx = func(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
			_, err := inserter.InsertManyTx(ctx, tx, params)
			return err
		}
	}
	return q, nil
}

// NewSQLite returns the queue on the registry's SQLite database (the
// embedded default, one machine): db is reg.SQLDB(), whose single
// connection River shares with the registry.
func NewSQLite(db *sql.DB, reg Store, scorer submissions.Scorer, cfg Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var w *worker[*sql.Tx]
	if scorer != nil {
		w = &worker[*sql.Tx]{exec: &submissions.Executor{Registry: reg, Scorer: scorer}, reg: reg, timeout: cfg.JobTimeout,
			heartbeat: cfg.HeartbeatInterval,
			tx: txFuncs[*sql.Tx]{
				begin:  func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
				execer: func(tx *sql.Tx) registry.Execer { return sqlExec{tx} },
				complete: func(ctx context.Context, tx *sql.Tx, job *river.Job[scoreArgs]) error {
					_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
					return err
				},
				commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
				rollback: func(_ context.Context, tx *sql.Tx) { _ = tx.Rollback() },
			}}
	}
	client, err := river.NewClient(riversqlite.New(db), riverConfig(cfg, w))
	if err != nil {
		return nil, fmt.Errorf("riverqueue: new client: %w", err)
	}
	q := newQueue(cfg, client, w != nil, reg, sqliteJobTable(db))
	q.insertTx = func(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
		_, err := client.InsertManyTx(ctx, tx, params)
		return err
	}
	return q, nil
}

func (q *Queue) params(jobs []submissions.JobSpec) []river.InsertManyParams {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{
			Args: scoreArgs{SubmissionID: j.SubmissionID, ModelHash: j.ModelHash, FileHash: j.FileHash, Spec: j.Spec,
				BenchmarkID: j.BenchmarkID, BenchmarkVersion: j.BenchmarkVersion},
			InsertOpts: &river.InsertOpts{Queue: q.cfg.Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}},
		}
	}
	return params
}

// Enqueue implements submissions.Queue. A job already queued for the same
// submission and benchmark is not queued twice.
func (q *Queue) Enqueue(ctx context.Context, jobs []submissions.JobSpec) error {
	if err := q.insert(ctx, q.params(jobs)); err != nil {
		return fmt.Errorf("riverqueue: enqueue %d jobs: %w", len(jobs), err)
	}
	return nil
}

// EnqueueTx implements submissions.TxQueue: it inserts the jobs in tx, a
// transaction on the registry's database (the one River's tables are in),
// so they commit with whatever else tx writes (the submission's rows).
func (q *Queue) EnqueueTx(ctx context.Context, tx *sql.Tx, jobs []submissions.JobSpec) error {
	if q.insertTx == nil {
		return errors.New("riverqueue: this queue cannot insert jobs in the registry's transaction (its registry has no database/sql pool)")
	}
	if err := q.insertTx(ctx, tx, q.params(jobs)); err != nil {
		return fmt.Errorf("riverqueue: enqueue %d jobs: %w", len(jobs), err)
	}
	return nil
}

// CancelSubmission implements submissions.Canceller: it cancels every job
// of the submission River has not finalized, and returns how many. A
// queued job is never fetched again; a running one has its context
// cancelled (by notification on PostgreSQL, or River's poll), and the
// attempt, which also watches the registry's job row
// (submissions.Executor.CancelCheck), stops without a retry. Call it after
// the registry cancelled the jobs (the service does).
func (q *Queue) CancelSubmission(ctx context.Context, submissionID string) (int, error) {
	ids, err := q.jobs.unfinished(ctx, submissionID)
	if err != nil {
		return 0, fmt.Errorf("riverqueue: cancel jobs of submission %s: %w", submissionID, err)
	}
	n := 0
	for _, id := range ids {
		if err := q.cancel(ctx, id); err != nil {
			return n, fmt.Errorf("riverqueue: cancel job %d of submission %s: %w", id, submissionID, err)
		}
		n++
	}
	return n, nil
}

// Start starts the workers and the heartbeat rescuer (a queue made
// without a scorer only inserts: Start is then a no-op). They run until
// Stop or ctx ends.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if err := q.start(ctx); err != nil {
		return fmt.Errorf("riverqueue: start: %w", err)
	}
	q.stopRescuer = q.runRescuer(ctx)
	return nil
}

// Stop stops fetching and waits for running jobs to finish or ctx to end.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if q.stopRescuer != nil {
		q.stopRescuer()
		q.stopRescuer = nil
	}
	if err := q.stop(ctx); err != nil {
		return fmt.Errorf("riverqueue: stop: %w", err)
	}
	return nil
}

type pgxExec struct{ tx pgx.Tx }

func (e pgxExec) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

type sqlExec struct{ tx *sql.Tx }

func (e sqlExec) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// migrationLock serialises River migrations of processes starting together.
const migrationLock = 0x72697665 // "rive"

// MigratePostgres creates or upgrades River's tables on PostgreSQL (in
// schema, or the search_path when empty). Concurrent callers take turns.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("riverqueue: migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	return nil
}

// MigrateSQLite creates or upgrades River's tables in the SQLite database.
func MigrateSQLite(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	return nil
}

// SQLStore is the registry as the queue on its database needs it: the
// Store, and its SQLite connection (shared with River).
type SQLStore interface {
	Store
	SQLDB() (*sql.DB, error)
}

// Open migrates River's tables and returns the queue on the registry's
// database: PostgreSQL when configured (workers on many
// machines), else the registry's SQLite file (one machine). With a nil
// scorer the queue only inserts jobs (an API server on PostgreSQL).
func Open(ctx context.Context, reg SQLStore, postgresDSN string, cfg Config, scorer submissions.Scorer) (*Queue, func(), error) {
	if postgresDSN != "" {
		pool, err := pgxpool.New(ctx, postgresDSN)
		if err != nil {
			return nil, nil, fmt.Errorf("job queue: connect to PostgreSQL: %w", err)
		}
		if err := MigratePostgres(ctx, pool, cfg.Schema); err != nil {
			pool.Close()
			return nil, nil, err
		}
		q, err := NewPostgres(pool, reg, scorer, cfg)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return q, pool.Close, nil
	}
	db, err := reg.SQLDB()
	if err != nil {
		return nil, nil, err
	}
	if err := MigrateSQLite(ctx, db); err != nil {
		return nil, nil, err
	}
	q, err := NewSQLite(db, reg, scorer, cfg)
	if err != nil {
		return nil, nil, err
	}
	return q, func() {}, nil
}
