package submissions

import (
	"time"
)

// Status is where a submission stands, derived from its jobs.
type Status struct {
	ID        string
	Owner     string
	ModelHash string
	ModelName string
	// State is queued, one of the running stages (validating, extracting,
	// scoring), done, failed, or cancelled (Message says why: "cancelled
	// (model withdrawn)" or "cancelled by NAME").
	State Stage
	// Benchmark is k in "benchmark k of n": the benchmark being worked on
	// (the number done plus one while running); Benchmarks is n.
	Benchmark  int
	Benchmarks int
	Done       int
	// Current is the benchmark of the earliest running job.
	Current string
	// FailureClass and Message explain the first failed job; while none
	// failed, Message is the first waiting job's note (e.g. "platform
	// problem, will retry: ...").
	FailureClass FailureClass
	Message      string
	Estimate     Estimate
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Jobs         []SubmissionJob
}

// StatusOf derives a submission's status from its jobs: cancelled when any
// job was cancelled (the submission was cancelled or its model withdrawn:
// none of its jobs runs again), failed when any job failed, done when all
// are done, the stage of the earliest running job while one runs, queued
// otherwise.
func StatusOf(sub Submission) Status {
	st := Status{ID: sub.ID, Owner: sub.Owner, ModelHash: sub.ModelHash, ModelName: sub.ModelName,
		Benchmarks: len(sub.Jobs), Estimate: Estimate{Seconds: sub.EstSeconds, Bytes: sub.EstBytes},
		CreatedAt: sub.CreatedAt, UpdatedAt: sub.CreatedAt, Jobs: sub.Jobs, State: StageQueued}
	var running, failed, noted, cancelled *SubmissionJob
	for i := range sub.Jobs {
		j := &sub.Jobs[i]
		if j.UpdatedAt.After(st.UpdatedAt) {
			st.UpdatedAt = j.UpdatedAt
		}
		switch j.State {
		case JobDone:
			st.Done++
		case JobRunning:
			if running == nil {
				running = j
			}
		case JobFailed:
			if failed == nil {
				failed = j
			}
		case JobCancelled:
			if cancelled == nil {
				cancelled = j
			}
		}
		if j.State == JobQueued && j.Message != "" && noted == nil {
			noted = j
		}
	}
	st.Benchmark = min(st.Done+1, st.Benchmarks)
	switch {
	case cancelled != nil:
		st.State, st.Message, st.Current = StageCancelled, cancelled.Message, ""
	case failed != nil:
		st.State, st.FailureClass, st.Message = StageFailed, FailureClass(failed.FailureClass), failed.Message
		st.Current = failed.BenchmarkID
	case st.Done == st.Benchmarks:
		st.State, st.Benchmark = StageDone, st.Benchmarks
	case running != nil:
		st.State, st.Current = Stage(running.Stage), running.BenchmarkID
		if st.State == "" {
			st.State = StageValidating
		}
	}
	if failed == nil && cancelled == nil && noted != nil {
		st.Message = noted.Message
	}
	return st
}
