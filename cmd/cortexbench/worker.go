package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// fakeScorerEnv, set to a duration, makes 'cortexbench worker' score with
// submissions.DelayScorer instead of the runner: for tests of the queue
// and demos; it never touches a model. Deliberately not a flag.
const fakeScorerEnv = "CORTEXBENCH_FAKE_SCORER_DELAY"

// queueFlags tune the job queue and this process's workers.
type queueFlags struct {
	workers                 *int
	jobTimeout, rescueAfter *time.Duration
	maxAttempts             *int
	poll                    *time.Duration
	heartbeat               *heartbeatFlags
}

func addQueueFlags(fs *flag.FlagSet) *queueFlags {
	return &queueFlags{
		workers:     fs.Int("workers", 1, "jobs this process runs at once"),
		jobTimeout:  fs.Duration("job-timeout", time.Hour, "time limit of one job (one model on one benchmark)"),
		rescueAfter: fs.Duration("rescue-after", 0, "retry a job whose worker vanished after it ran this long (default job timeout + 5m)"),
		maxAttempts: fs.Int("max-attempts", 5, "tries of a job that fails transiently (at least 3)"),
		poll:        fs.Duration("poll", time.Second, "how often idle workers look for jobs"),
		heartbeat:   addHeartbeatFlags(fs),
	}
}

// config is the queue configuration the flags give, with defaults and
// validated; an error names the flag to fix.
func (f *queueFlags) config(env *Env) (riverqueue.Config, error) {
	c := riverqueue.Config{Workers: *f.workers, JobTimeout: *f.jobTimeout, RescueAfter: *f.rescueAfter,
		MaxAttempts: *f.maxAttempts, PollInterval: *f.poll,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	c, err := f.heartbeat.apply(c)
	if err != nil {
		return c, err
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// heartbeatFlags set how a running job shows it is alive and when a job
// that stopped doing so is rescued for another worker (issue 15, finding
// 4): --heartbeat-every and --heartbeat-timeout, defaults from
// riverqueue.Config.
type heartbeatFlags struct{ every, timeout *time.Duration }

// minHeartbeat bounds --heartbeat-every from below: each beat is a
// database write per running job.
const minHeartbeat = 100 * time.Millisecond

func addHeartbeatFlags(fs *flag.FlagSet) *heartbeatFlags {
	d := riverqueue.Config{}.WithDefaults()
	return &heartbeatFlags{
		every: fs.Duration("heartbeat-every", d.HeartbeatInterval,
			"how often a running job records that its worker is alive (every worker process also looks for dead workers' jobs this often)"),
		timeout: fs.Duration("heartbeat-timeout", d.HeartbeatTimeout,
			"a running job without a heartbeat for this long is rescued for another worker (at least twice --heartbeat-every; the same in every process on one database)"),
	}
}

// apply sets the heartbeat of c from the flags, or says which flag is
// wrong and what to give instead.
func (h *heartbeatFlags) apply(c riverqueue.Config) (riverqueue.Config, error) {
	every, timeout := *h.every, *h.timeout
	switch {
	case every < minHeartbeat:
		return c, fmt.Errorf("--heartbeat-every %v is too short: give at least %v (each beat is a database write per running job; default %v)",
			every, minHeartbeat, riverqueue.Config{}.WithDefaults().HeartbeatInterval)
	case timeout < 2*every:
		return c, fmt.Errorf("--heartbeat-timeout %v must be at least twice --heartbeat-every %v (give --heartbeat-timeout %v or more): with less, one late beat makes a live worker's job look dead and it is run twice",
			timeout, every, 2*every)
	}
	c.HeartbeatInterval, c.HeartbeatTimeout = every, timeout
	return c, nil
}

// openSubmissions returns the submissions service on the platform, for a
// server to mount with httpapi.Register (or httpapi.NewHandler and
// httpapi.Patterns): model files go to the platform's bucket (models/),
// jobs to the queue. With a scorer, the queue also works jobs in this
// process once started (the embedded default, one machine); with nil, it
// only inserts them for 'cortexbench worker' processes. rt, when not nil,
// must load a model for it to be accepted (ONNX Runtime).
func openSubmissions(ctx context.Context, p *platform, postgresDSN string, cfg submissions.Config, qcfg riverqueue.Config,
	scorer submissions.Scorer, rt onnxmodel.Runtime) (*submissions.Service, *riverqueue.Queue, func(), error) {
	q, closeQueue, err := riverqueue.Open(ctx, p.db, postgresDSN, qcfg, scorer)
	if err != nil {
		return nil, nil, nil, err
	}
	deps := submissions.Deps{Registry: p.db, Models: &models.Registry{Store: p.bucket}, Queue: q}
	if rt != nil {
		deps.Runtime = rt
	}
	svc, err := submissions.New(cfg, deps)
	if err != nil {
		closeQueue()
		return nil, nil, nil, err
	}
	return svc, q, closeQueue, nil
}

// reconcileQueue runs at start-up of 'serve' and 'worker': every queued
// or running job of a submission that has no job in the queue (left by
// versions that recorded a submission and queued it in two steps) is
// queued again when its model entry and file are stored, or else its
// submission fails with a reason and no longer counts against the daily limit
// (riverqueue.Queue.Reconcile, issue 15, finding 1). A failure is logged,
// not fatal: the next start-up tries again.
func reconcileQueue(ctx context.Context, env *Env, p *platform, q *riverqueue.Queue) {
	// A job can be scored when its entry's metadata and its file are
	// stored (an upload killed in between left only the file).
	stored := func(ctx context.Context, entryID, fileSHA256 string) (bool, error) {
		if _, err := (&models.Registry{Store: p.bucket}).Get(ctx, entryID); models.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return p.bucket.Exists(ctx, models.FileKey(fileSHA256))
	}
	rec, err := q.Reconcile(ctx, p.db, stored)
	if err != nil {
		fmt.Fprintf(env.Stderr, "cortexbench: warning: start-up check of queued submissions: %v\n", err)
	}
	if rec.Requeued > 0 || rec.FailedSubmissions > 0 || rec.Abandoned > 0 {
		fmt.Fprintf(env.Stderr, "cortexbench: start-up check of %d open jobs: %d re-queued (they had no queue job), %d submission(s) failed (their model file was never stored; quota refunded), %d job(s) the queue had given up on failed\n",
			rec.Open, rec.Requeued, rec.FailedSubmissions, rec.Abandoned)
	}
}

// workerScorer returns what scores the jobs.
func workerScorer(env *Env, p *platform) (submissions.Scorer, error) {
	if d := env.Getenv(fakeScorerEnv); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("$%s=%q: %w", fakeScorerEnv, d, err)
		}
		return submissions.DelayScorer{Delay: delay}, nil
	}
	rt, err := onnxrun.OpenRuntime(ortLibDefault(env))
	if err != nil {
		return nil, err
	}
	return p.jobScorer(rt, onnxrun.DefaultPoolTo), nil
}

// runWorker is "cortexbench worker": runs scoring jobs until interrupted.
// Start any number, on any number of machines, against one PostgreSQL.
func runWorker(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "worker", "worker [--workers N] [--job-timeout D] [--heartbeat-every D] [--heartbeat-timeout D] [--postgres DSN | --db FILE] [storage flags]")
	pf := addPlatformFlags(env, fs)
	qf := addQueueFlags(fs)
	publishEvery := addPublishFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := qf.config(env)
	if err != nil {
		return err
	}
	p, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(context.WithoutCancel(ctx))
	scorer, err := workerScorer(env, p)
	if err != nil {
		return err
	}
	if js, ok := scorer.(*jobscorer.Scorer); ok && js.Runtime != nil {
		useCalibration(ctx, env, p, js.Runtime) // finished jobs teach later estimates
	}
	q, closeQueue, err := riverqueue.Open(ctx, p.db, *pf.postgres, cfg, scorer)
	if err != nil {
		return err
	}
	defer closeQueue()
	reconcileQueue(ctx, env, p, q)
	// Jobs run under their own context, so an interrupt lets running jobs
	// finish (up to the grace period) instead of cutting them off.
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer startPublishing(ctx, env, p, *publishEvery)()
	fmt.Fprintf(env.Stderr, "cortexbench worker: running %d worker(s) on the %s queue; interrupt to stop\n", cfg.Workers, p.db.Dialect())
	<-ctx.Done()
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fmt.Fprintln(env.Stderr, "cortexbench worker: stopping: waiting up to 30s for running jobs")
	return q.Stop(grace)
}
