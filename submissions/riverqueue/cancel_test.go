package riverqueue_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

// Issue 17, finding 2, on every backend: withdrawing a model whose job
// is running (a scorer that would take hours) and whose other job is
// queued cancels both in the queue (River: cancelled, never retried): the
// running attempt's context ends, nothing is scored, and the submission
// reads "cancelled (model withdrawn)". Cancelling a submission does the
// same for its jobs.
func TestWithdrawCancelsQueuedAndRunningJobs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		reg := b.reg
		for _, id := range []string{"b1", "b2"} {
			if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: id, Version: id + "-v1"}); err != nil {
				t.Fatal(err)
			}
		}
		var started, stopped atomic.Int32
		slow := submissions.ScorerFunc(func(ctx context.Context, j submissions.JobSpec, progress func(submissions.Stage)) (scoring.Score, error) {
			started.Add(1)
			defer stopped.Add(1)
			return submissions.DelayScorer{Delay: 8 * time.Hour}.ScoreOne(ctx, j, progress)
		})
		q, err := b.newQueue(slow, submissionstestQueueConfig())
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
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(context.WithoutCancel(ctx))
		sub, err := svc.Submit(ctx, u, submissions.Metadata{Name: "tiny", Preprocessing: submissionstest.Spec}, submissionstest.Staged(t, submissionstest.TinyCNN(1)))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, reg, sub.ID, 20*time.Second, func(s submissions.Status) bool { return s.Jobs[0].State == registry.JobRunning })
		w, err := svc.Withdraw(ctx, u, sub.ModelHash[:10], "wrong spec")
		if err != nil || w.CancelledJobs != 2 || len(w.Submissions) != 1 {
			t.Fatalf("withdraw: %+v %v", w, err)
		}
		at := time.Now()
		waitRiver(t, b, sub.ID, []string{"cancelled", "cancelled"})
		t.Logf("both jobs cancelled in River %v after the withdrawal", time.Since(at).Round(time.Millisecond))
		if started.Load() != 1 || stopped.Load() != 1 {
			t.Errorf("scorer started %d, stopped %d times; want the running attempt stopped and the queued one never run", started.Load(), stopped.Load())
		}
		st := waitFor(t, reg, sub.ID, time.Second, func(s submissions.Status) bool { return s.State == submissions.StageCancelled })
		if st.Message != submissions.WithdrawnMessage {
			t.Errorf("status %+v", st)
		}
		if scores, _ := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: sub.ModelHash}); len(scores) != 0 {
			t.Errorf("%d scores stored for a withdrawn model's cancelled jobs", len(scores))
		}

		// Cancel a submission: the same, by its owner.
		sub2, err := svc.Submit(ctx, u, submissions.Metadata{Name: "tiny2", Preprocessing: submissionstest.Spec}, submissionstest.Staged(t, submissionstest.TinyCNN(2)))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, reg, sub2.ID, 20*time.Second, func(s submissions.Status) bool { return s.Jobs[0].State == registry.JobRunning })
		st, err = svc.Cancel(ctx, u, sub2.ID)
		if err != nil || st.State != submissions.StageCancelled || !strings.Contains(st.Message, "cancelled by ada") {
			t.Fatalf("cancel: %+v %v", st, err)
		}
		waitRiver(t, b, sub2.ID, []string{"cancelled", "cancelled"})
		if started.Load() != 2 || stopped.Load() != 2 {
			t.Errorf("scorer started %d, stopped %d times", started.Load(), stopped.Load())
		}
	})
}

// submissionstestQueueConfig is a queue quick to fetch and to retry (so
// that a wrongly retried cancelled job would show within the test).
func submissionstestQueueConfig() riverqueue.Config {
	return riverqueue.Config{Workers: 1, JobTimeout: time.Hour, RetryBase: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond}
}

// waitRiver waits up to 20 s for the River states of a submission's jobs.
func waitRiver(t *testing.T, b backend, id string, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := b.riverStates(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("River states of %s: %v after 20 s, want %v", id, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
