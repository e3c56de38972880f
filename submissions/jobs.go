package submissions

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Stage is where a submission (or one of its jobs) stands.
type Stage string

// The stages, in order; a submission ends done or failed.
const (
	StageQueued     Stage = "queued"
	StageValidating Stage = "validating" // the worker loads the model in ONNX Runtime
	StageExtracting Stage = "extracting" // activations of the benchmark's stimuli
	StageScoring    Stage = "scoring"    // metrics, ceilings, layer selection
	StageDone       Stage = "done"
	StageFailed     Stage = "failed"
	// StageCancelled: the submission was cancelled or its model withdrawn
	// (issue 17); its open jobs never run again.
	StageCancelled Stage = "cancelled"
)

// FailureClass says why a job failed, so the submitter knows whether to
// fix the model, shrink it, or wait for a maintainer.
type FailureClass string

// The failure classes.
const (
	ClassBadModel    FailureClass = "bad model"
	ClassOutOfMemory FailureClass = "out of memory"
	ClassTimeout     FailureClass = "timeout"
	ClassInternal    FailureClass = "internal"
)

// Sentinels a Scorer wraps (with %w) so a failure gets its class. A
// models.ErrInvalidModel or scoring.ErrBadModel counts as ErrBadModel
// unless the chain also holds a platform error (see Transient); the job's
// own deadline is a timeout; anything else is internal and retried.
var (
	// ErrBadModel is the scoring runner's sentinel (one definition).
	ErrBadModel    = scoring.ErrBadModel
	ErrOutOfMemory = errors.New("out of memory")
	// ErrCancelled ends an attempt whose job was cancelled (its
	// submission cancelled or its model withdrawn, issue 17).
	ErrCancelled = errors.New("job cancelled")
)

// JobSpec is one bounded job: one model entry scored on one benchmark
// version. ModelHash is the entry's ID (models.EntryID of FileHash and
// Spec); the job carries its file and its preprocessing, so what it scores
// does not depend on metadata anyone could change later. Jobs queued
// before entries existed have neither FileHash nor Spec: the scorer then
// reads them from the entry's (verified) metadata.
type JobSpec struct {
	SubmissionID     string
	ModelHash        string
	FileHash         string // hex sha256 of the ONNX file
	Spec             string // canonical preprocessing spec text (models.Spec.String)
	BenchmarkID      string
	BenchmarkVersion string
}

// Scorer scores one model on one benchmark, calling progress as it enters
// each stage (validating, extracting, scoring). The scoring runner
// implements it; the queue's worker calls it and commits the returned
// score together with the job's completion.
type Scorer interface {
	ScoreOne(ctx context.Context, job JobSpec, progress func(Stage)) (scoring.Score, error)
}

// ScorerFunc adapts a function to Scorer, e.g. the runner's
//
//	submissions.ScorerFunc(func(ctx context.Context, j submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
//		progress(submissions.StageExtracting)
//		return runner.Score(ctx, j.ModelHash, j.BenchmarkID)
//	})
type ScorerFunc func(ctx context.Context, job JobSpec, progress func(Stage)) (scoring.Score, error)

// ScoreOne implements Scorer.
func (f ScorerFunc) ScoreOne(ctx context.Context, job JobSpec, progress func(Stage)) (scoring.Score, error) {
	return f(ctx, job, progress)
}

// Queue takes jobs for the workers.
type Queue interface {
	Enqueue(ctx context.Context, jobs []JobSpec) error
}

// TxQueue is a Queue on the registry's database that can insert jobs
// inside a transaction the registry opened (riverqueue implements it):
// Submit then writes a submission's rows and its jobs in one transaction,
// so a crash never leaves a submission without its jobs.
type TxQueue interface {
	Queue
	EnqueueTx(ctx context.Context, tx *sql.Tx, jobs []JobSpec) error
}

// Attempt describes the current try of a job as the queue sees it.
type Attempt struct {
	Number  int           // 1 for the first try
	Max     int           // tries allowed in all
	Timeout time.Duration // the job's time limit (for the message on timeout)
	// Lost is how many earlier attempts the job engine rescued: their
	// worker stopped heartbeating (killed, most likely for memory). An
	// attempt that failed with an error, even one that could not be
	// recorded (the database was down), is not lost.
	Lost int
}

// Outcome is what the queue adapter must do after Executor.Run.
type Outcome int

// The outcomes.
const (
	Completed Outcome = iota // the score and the completion were committed together
	Retry                    // a transient failure: try again later with backoff
	Cancel                   // a permanent failure (recorded): never retry
)

// Executor runs jobs for a queue adapter: it calls the Scorer, records
// progress and failures, and hands the score to the adapter's commit,
// which must store it and complete the job in one transaction.
type Executor struct {
	Registry JobLog
	Scorer   Scorer
	// MaxLost is how many attempts may be lost (rescued by the job engine
	// after their worker vanished, most likely killed for memory) before
	// the job fails as out of memory; default 2. Keep it below the queue's
	// attempts, or the queue drops the job first.
	MaxLost int
	// CancelCheck is how often a running attempt looks whether its job
	// was cancelled (Registry.JobCancelled), and cancels the scorer's
	// context when it was: a cancelled 4-hour job stops within about
	// CancelCheck. Default DefaultCancelCheck.
	CancelCheck time.Duration
}

// DefaultCancelCheck is the Executor's default CancelCheck.
const DefaultCancelCheck = 5 * time.Second

// Run executes one attempt of job. commit stores the score and completes
// the job in one transaction. The returned error is the failure to report
// to the queue (nil when Completed).
func (x *Executor) Run(ctx context.Context, job JobSpec, at Attempt, commit func(context.Context, scoring.Score) error) (Outcome, error) {
	progress := func(s Stage) {
		// Progress is advisory: a failed update must not fail the job.
		_ = x.Registry.SetJobProgress(context.WithoutCancel(ctx), job.SubmissionID, job.BenchmarkID, string(s), at.Number)
	}
	if err := x.Registry.StartAttempt(ctx, job.SubmissionID, job.BenchmarkID, at.Number, at.Lost); err != nil {
		return Retry, err
	}
	if limit := cmp.Or(x.MaxLost, 2); at.Lost >= limit {
		// A worker killed outright (the kernel's OOM killer) records
		// nothing: stop before the queue gives up on the job silently.
		msg := fmt.Sprintf("the worker scoring this benchmark stopped without a word %d times, most likely killed for using too much memory: "+
			"submit a smaller model (fewer parameters or a smaller input), or ask a maintainer to run it on a larger worker", at.Lost)
		if ferr := x.Registry.FailJob(context.WithoutCancel(ctx), job.SubmissionID, job.BenchmarkID, string(ClassOutOfMemory), msg); ferr != nil {
			return Retry, ferr
		}
		return Cancel, fmt.Errorf("job %s/%s: %d attempts lost: %w", job.SubmissionID, job.BenchmarkID, at.Lost, ErrOutOfMemory)
	}
	if cancelled, err := x.Registry.JobCancelled(ctx, job.SubmissionID, job.BenchmarkID); err != nil {
		return Retry, err
	} else if cancelled {
		return Cancel, fmt.Errorf("job %s/%s: %w before it started", job.SubmissionID, job.BenchmarkID, ErrCancelled)
	}
	progress(StageValidating)
	scoreCtx, stopWatch := x.watchCancel(ctx, job)
	score, err := x.Scorer.ScoreOne(scoreCtx, job, progress)
	if stopWatch() {
		// Nothing is committed for a cancelled job, and its row stays
		// cancelled: the queue must not retry it.
		return Cancel, fmt.Errorf("job %s/%s: %w while it ran", job.SubmissionID, job.BenchmarkID, ErrCancelled)
	}
	if err == nil {
		// The benchmark may have a newer version than when the job was
		// queued: its score is keyed by the version scored.
		if score.ModelHash != job.ModelHash || score.BenchmarkID != job.BenchmarkID {
			err = fmt.Errorf("scorer returned a score for %s on %s, job is %s on %s",
				score.ModelHash, score.BenchmarkID, job.ModelHash, job.BenchmarkID)
		} else if err = commit(ctx, score); err == nil {
			return Completed, nil
		}
	}
	class, msg, permanent := Classify(ctx, err, at)
	if !permanent && at.Number < at.Max {
		note := fmt.Sprintf("platform problem, will retry: attempt %d of %d stopped (%s); this is not a problem with your model",
			at.Number, at.Max, PlatformCause(err))
		_ = x.Registry.RequeueJob(context.WithoutCancel(ctx), job.SubmissionID, job.BenchmarkID, note)
		return Retry, err
	}
	if ferr := x.Registry.FailJob(context.WithoutCancel(ctx), job.SubmissionID, job.BenchmarkID, string(class), msg); ferr != nil {
		return Retry, errors.Join(err, ferr)
	}
	return Cancel, err
}

// watchCancel returns the context the scorer runs under: ctx, cancelled
// as well when the job is found cancelled, checked every CancelCheck and
// once more when the scorer returns. stop ends the watch and reports
// whether the job was cancelled.
func (x *Executor) watchCancel(ctx context.Context, job JobSpec) (context.Context, func() bool) {
	every := cmp.Or(x.CancelCheck, DefaultCancelCheck)
	scoreCtx, cancel := context.WithCancel(ctx)
	var seen atomic.Bool
	check := func() {
		// A failed check is not a cancellation: the next one may answer.
		if c, err := x.Registry.JobCancelled(context.WithoutCancel(ctx), job.SubmissionID, job.BenchmarkID); err == nil && c {
			seen.Store(true)
			cancel()
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-scoreCtx.Done():
				return
			case <-t.C:
				check()
			}
		}
	}()
	return scoreCtx, func() bool {
		close(done)
		<-finished
		if !seen.Load() {
			check()
		}
		cancel()
		return seen.Load()
	}
}

// Classify maps the error that ended an attempt of a job (run under ctx)
// to its class, the message shown to the submitter, and whether retrying
// is pointless. Only the model's own failures are a bad model; a platform
// problem (Transient: full disk, storage, network, database, a deadline
// inside them) is internal and retried even when something wrapped it as a
// bad model; the job's own deadline is a timeout.
func Classify(ctx context.Context, err error, at Attempt) (FailureClass, string, bool) {
	switch {
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout, fmt.Sprintf("scoring one benchmark took longer than the limit of %v: submit a smaller or faster model, "+
			"or ask a maintainer to raise the job timeout", at.Timeout), true
	case Transient(err):
		return ClassInternal, platformMessage(err, at), false
	case errors.Is(err, ErrBadModel) || errors.Is(err, models.ErrInvalidModel):
		// The scorer's message is written for the submitter (the
		// validator's messages say what to fix).
		return ClassBadModel, "the model could not be scored: " + err.Error(), true
	case errors.Is(err, ErrOutOfMemory):
		return ClassOutOfMemory, "scoring ran out of memory: submit a smaller model (fewer parameters or a smaller input size), " +
			"or ask a maintainer to run it on a larger worker", true
	default:
		return ClassInternal, platformMessage(err, at), false
	}
}

func platformMessage(err error, at Attempt) string {
	return fmt.Sprintf("a platform problem (%s) stopped scoring after %d attempts; this is not a problem with your model: "+
		"a maintainer can see the error in the worker's log, and resubmitting later may help", PlatformCause(err), at.Number)
}

// Transient reports whether err comes from the platform rather than the
// model: a full disk (ENOSPC, also EDQUOT), a stored object that is
// missing, corrupt or unreadable (objstore errors, file system errors), the
// network, the database (a PostgreSQL error, a SQLite "busy" or "locked"),
// or a context that ended inside one of them while the job's own context
// is still alive. Such errors are retried with backoff.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var (
		pathErr  *fs.PathError
		netErr   net.Error
		sqlState interface{ SQLState() string }
	)
	if code, ok := serverStatus(err); ok && code >= 500 {
		// The object store (S3, the embedded endpoint) failed: its disk
		// is full (507), it is down or overloaded (5xx).
		return true
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EIO),
		errors.Is(err, objstore.ErrCorrupt), errors.Is(err, objstore.ErrNotFound),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, sql.ErrTxDone), errors.Is(err, driver.ErrBadConn),
		errors.As(err, &pathErr), errors.As(err, &netErr), errors.As(err, &sqlState):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "failed to connect")
}

// serverStatus returns the HTTP status of a service's answer in err's
// chain (the S3 client's response errors carry one).
func serverStatus(err error) (int, bool) {
	var re interface{ HTTPStatusCode() int }
	if err != nil && errors.As(err, &re) {
		return re.HTTPStatusCode(), true
	}
	return 0, false
}

// PlatformCause names the kind of platform problem err is, for the
// submitter's status (never the raw error, which may name paths or hosts).
func PlatformCause(err error) string {
	var (
		netErr   net.Error
		sqlState interface{ SQLState() string }
	)
	code, _ := serverStatus(err)
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || code == 507:
		return "a disk of the platform is full"
	case code >= 500:
		return "the object store is unavailable"
	case errors.Is(err, objstore.ErrCorrupt):
		return "a stored object failed its checksum"
	case errors.Is(err, objstore.ErrNotFound):
		return "a stored object is missing"
	case errors.As(err, &sqlState), errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked")):
		return "the database is unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "an operation of the platform timed out"
	case errors.As(err, &netErr):
		return "the database or another service is unreachable"
	default:
		return "internal error"
	}
}
