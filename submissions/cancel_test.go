package submissions_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

// Issue 17, finding 2: a running job whose model is withdrawn (or whose
// submission is cancelled) stops: the Executor sees the cancelled job row
// within CancelCheck, cancels the scorer's context, commits nothing and
// answers Cancel (never retried); the row stays cancelled. A job
// cancelled before its attempt starts is not scored at all.
func TestExecutorStopsCancelledJob(t *testing.T) {
	ctx := t.Context()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	hash := fmt.Sprintf("%064x", 3)
	sub := registry.Submission{ID: "s1", Owner: "ada", ModelHash: hash, Jobs: []registry.SubmissionJob{
		{BenchmarkID: "b", BenchmarkVersion: "v"}, {BenchmarkID: "c", BenchmarkVersion: "v"}}}
	if err := reg.CreateSubmission(ctx, sub, registry.Model{Hash: hash, Name: "m", Owner: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	// A 4-hour job, as the issue's: the delay scorer returns only when its
	// context ends.
	started := make(chan struct{})
	slow := submissions.ScorerFunc(func(ctx context.Context, j submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
		close(started)
		return submissions.DelayScorer{Delay: 8 * time.Hour}.ScoreOne(ctx, j, progress)
	})
	const check = 100 * time.Millisecond
	x := &submissions.Executor{Registry: reg, Scorer: slow, CancelCheck: check}
	job := submissions.JobSpec{SubmissionID: "s1", ModelHash: hash, BenchmarkID: "b", BenchmarkVersion: "v"}
	committed := false
	type result struct {
		out submissions.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := x.Run(ctx, job, submissions.Attempt{Number: 1, Max: 5, Timeout: 8 * time.Hour},
			func(context.Context, scoring.Score) error { committed = true; return nil })
		done <- result{out, err}
	}()
	<-started
	if got, _ := reg.GetSubmission(ctx, "s1"); got.Jobs[0].State != registry.JobRunning {
		t.Fatalf("job b is %s while scoring, want running", got.Jobs[0].State)
	}
	subs, n, err := reg.CancelModelJobs(ctx, hash, submissions.WithdrawnMessage)
	if err != nil || n != 2 || len(subs) != 1 {
		t.Fatalf("CancelModelJobs = %v %d %v", subs, n, err)
	}
	at := time.Now()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * check):
		t.Fatalf("the running job did not stop within %v of its cancel", 10*check)
	}
	t.Logf("stopped %v after the cancel", time.Since(at).Round(time.Millisecond))
	if r.out != submissions.Cancel || !errors.Is(r.err, submissions.ErrCancelled) || committed {
		t.Fatalf("outcome %v, %v, committed %v; want Cancel, ErrCancelled, nothing committed", r.out, r.err, committed)
	}
	got, _ := reg.GetSubmission(ctx, "s1")
	st := submissions.StatusOf(got)
	if st.State != submissions.StageCancelled || st.Message != "cancelled (model withdrawn)" {
		t.Errorf("status %s %q, want cancelled (model withdrawn)", st.State, st.Message)
	}
	for _, j := range got.Jobs {
		if j.State != registry.JobCancelled {
			t.Errorf("job %s is %s, want cancelled", j.BenchmarkID, j.State)
		}
	}
	// Job c was queued when cancelled: its attempt does not score.
	x.Scorer = submissions.ScorerFunc(func(context.Context, submissions.JobSpec, func(submissions.Stage)) (scoring.Score, error) {
		t.Error("a cancelled job was scored")
		return scoring.Score{}, errors.New("must not be called")
	})
	job.BenchmarkID = "c"
	out, err := x.Run(ctx, job, submissions.Attempt{Number: 1, Max: 5}, nil)
	if out != submissions.Cancel || !errors.Is(err, submissions.ErrCancelled) {
		t.Errorf("queued job after its cancel: %v, %v; want Cancel", out, err)
	}
	if got, _ := reg.GetSubmission(ctx, "s1"); got.Jobs[1].State != registry.JobCancelled {
		t.Errorf("job c is %s after its attempt, want cancelled", got.Jobs[1].State)
	}
}

// A job that is not cancelled runs as before: the watch costs nothing
// but a query per CancelCheck.
func TestExecutorWatchDoesNotStopLiveJob(t *testing.T) {
	ctx := t.Context()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	hash := fmt.Sprintf("%064x", 4)
	sub := registry.Submission{ID: "s1", Owner: "ada", ModelHash: hash, Jobs: []registry.SubmissionJob{{BenchmarkID: "b", BenchmarkVersion: "v"}}}
	if err := reg.CreateSubmission(ctx, sub, registry.Model{Hash: hash, Name: "m", Owner: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	x := &submissions.Executor{Registry: reg, Scorer: submissions.DelayScorer{Delay: 300 * time.Millisecond}, CancelCheck: 20 * time.Millisecond}
	committed := false
	out, err := x.Run(ctx, submissions.JobSpec{SubmissionID: "s1", ModelHash: hash, BenchmarkID: "b", BenchmarkVersion: "v"},
		submissions.Attempt{Number: 1, Max: 5}, func(context.Context, scoring.Score) error { committed = true; return nil })
	if out != submissions.Completed || err != nil || !committed {
		t.Fatalf("live job: %v, %v, committed %v", out, err, committed)
	}
}
