package riverqueue

import (
	"context"
	"errors"
	"fmt"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

// Orphans is what Reconcile needs of the registry.
type Orphans interface {
	OpenJobs(ctx context.Context) ([]registry.OpenJob, error)
	FailOpenJobs(ctx context.Context, submissionID, class, message string, refund bool) (int, error)
	FailJob(ctx context.Context, submissionID, benchmarkID, class, message string) error
}

// Reconciled counts what Reconcile did.
type Reconciled struct {
	Open     int `json:"open_jobs"`     // queued or running jobs looked at
	Requeued int `json:"requeued_jobs"` // had no queue job: queued again
	// FailedSubmissions had jobs without a queue job and no stored model
	// entry or file (their upload never completed): their open jobs failed, and
	// they no longer count against their owner's daily limit.
	FailedSubmissions int `json:"failed_submissions"`
	// Abandoned jobs the queue had given up on (cancelled or discarded)
	// while the registry still showed them open: failed as internal.
	Abandoned int `json:"abandoned_jobs"`
}

// Message of a submission failed by Reconcile.
const orphanMessage = "the upload did not complete before the server stopped (the model file was never stored), so this submission " +
	"could not be scored: this is not a problem with your model and does not count against your daily limit: submit it again"

const abandonedMessage = "the job queue gave up on this job without recording why (a platform problem): " +
	"this is not a problem with your model: submit it again, or ask a maintainer"

// Reconcile finds every queued or running job of a submission that has no
// job in the queue (left by versions that recorded a submission and queued
// its jobs in two steps, or any other gap) and queues it again when its
// model entry and its file are stored (stored), or else fails the submission's open jobs
// with the reason and refunds its daily quota: the platform lost it, not
// the submitter (issue 15, finding 1). Jobs the queue gave up on while the
// registry shows them open are failed as internal. 'cortexbench serve'
// and 'cortexbench worker' run it at start-up; it is idempotent, and safe
// while other processes run (a submission's rows and jobs now commit
// together, so a live submission never looks orphaned).
func (q *Queue) Reconcile(ctx context.Context, reg Orphans, stored func(ctx context.Context, entryID, fileSHA256 string) (bool, error)) (Reconciled, error) {
	var out Reconciled
	open, err := reg.OpenJobs(ctx)
	if err != nil {
		return out, fmt.Errorf("riverqueue: reconcile: %w", err)
	}
	out.Open = len(open)
	missing := map[string][]registry.OpenJob{}
	var order []string
	for _, j := range open {
		state, found, err := q.jobs.state(ctx, j.SubmissionID, j.BenchmarkID)
		if err != nil {
			return out, fmt.Errorf("riverqueue: reconcile: job %s/%s: %w", j.SubmissionID, j.BenchmarkID, err)
		}
		switch {
		case !found:
			if missing[j.SubmissionID] == nil {
				order = append(order, j.SubmissionID)
			}
			missing[j.SubmissionID] = append(missing[j.SubmissionID], j)
		case state == "cancelled" || state == "discarded":
			if err := reg.FailJob(ctx, j.SubmissionID, j.BenchmarkID, string(submissions.ClassInternal), abandonedMessage); err != nil {
				return out, fmt.Errorf("riverqueue: reconcile: %w", err)
			}
			out.Abandoned++
		}
	}
	var errs []error
	for _, id := range order {
		jobs := missing[id]
		ok := false
		if f := jobs[0].FileHash; f != "" {
			if ok, err = stored(ctx, jobs[0].ModelHash, f); err != nil {
				errs = append(errs, fmt.Errorf("submission %s: model %s (file %s): %w", id, jobs[0].ModelHash, f, err))
				continue
			}
		}
		if !ok {
			n, err := reg.FailOpenJobs(ctx, id, string(submissions.ClassInternal), orphanMessage, true)
			if err != nil {
				errs = append(errs, err)
			} else if n > 0 {
				out.FailedSubmissions++
			}
			continue
		}
		specs := make([]submissions.JobSpec, len(jobs))
		for i, j := range jobs {
			// Without FileHash and Spec, the scorer reads them from the
			// model entry (as for jobs queued before jobs carried them).
			specs[i] = submissions.JobSpec{SubmissionID: j.SubmissionID, ModelHash: j.ModelHash,
				BenchmarkID: j.BenchmarkID, BenchmarkVersion: j.BenchmarkVersion}
		}
		if err := q.Enqueue(ctx, specs); err != nil {
			errs = append(errs, err)
			continue
		}
		out.Requeued += len(jobs)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("riverqueue: reconcile: %w", errors.Join(errs...))
	}
	return out, nil
}
