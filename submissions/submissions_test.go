package submissions_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

// The formula of EstimateCost evaluated by hand for P = 1e6, a 224×224
// input, layers of 2000 and 500 values and one benchmark of 100 stimuli:
//
//	F = 2·1e6·(50176/512 = 98) = 1.96e8
//	FLOPs = 100·F + 2·100·(2000·1000 + 500·500) + 2·100²·(1000 + 500) = 2.008e10
//	seconds = 5 + 2.008e10/1e10 = 7.008
//	bytes = 12·1e6 + 4·8·2500 + 4·100·1500 + 16·100² = 12 840 000
func TestEstimateCost(t *testing.T) {
	est := submissions.EstimateCost(submissions.EstimateInput{Params: 1e6, Height: 224, Width: 224,
		LayerFeatures: []int64{2000, 500}, Stimuli: []int{100}})
	if math.Abs(est.Seconds-7.008) > 1e-9 || est.Bytes != 12_840_000 {
		t.Errorf("estimate %+v, want 7.008 s and 12840000 bytes", est)
	}
	// Two benchmarks: times add, memory is the larger job's.
	two := submissions.EstimateCost(submissions.EstimateInput{Params: 1e6, Height: 224, Width: 224,
		LayerFeatures: []int64{2000, 500}, Stimuli: []int{100, 100}})
	if math.Abs(two.Seconds-2*7.008) > 1e-9 || two.Bytes != est.Bytes {
		t.Errorf("two benchmarks: %+v", two)
	}
}

func TestStatusOf(t *testing.T) {
	jobs := func(states ...registry.JobState) []registry.SubmissionJob {
		var out []registry.SubmissionJob
		for i, s := range states {
			j := registry.SubmissionJob{Position: i + 1, BenchmarkID: fmt.Sprint("b", i+1), State: s}
			if s == registry.JobRunning {
				j.Stage = "extracting"
			}
			if s == registry.JobFailed {
				j.FailureClass, j.Message = "out of memory", "submit a smaller model"
			}
			out = append(out, j)
		}
		return out
	}
	for _, tc := range []struct {
		jobs       []registry.SubmissionJob
		state      submissions.Stage
		k, current string
	}{
		{jobs(registry.JobQueued, registry.JobQueued), submissions.StageQueued, "1", ""},
		{jobs(registry.JobDone, registry.JobRunning, registry.JobQueued), submissions.StageExtracting, "2", "b2"},
		{jobs(registry.JobDone, registry.JobDone), submissions.StageDone, "2", ""},
		{jobs(registry.JobDone, registry.JobFailed, registry.JobRunning), submissions.StageFailed, "2", "b2"},
	} {
		st := submissions.StatusOf(registry.Submission{ID: "s", Jobs: tc.jobs})
		if st.State != tc.state || fmt.Sprint(st.Benchmark) != tc.k || st.Current != tc.current || st.Benchmarks != len(tc.jobs) {
			t.Errorf("%v: %s benchmark %d of %d (%s), want %s %s (%s)", tc.jobs, st.State, st.Benchmark, st.Benchmarks, st.Current, tc.state, tc.k, tc.current)
		}
		if st.State == submissions.StageFailed && (st.FailureClass != submissions.ClassOutOfMemory || st.Message == "") {
			t.Errorf("failure %q %q", st.FailureClass, st.Message)
		}
	}
	// A job waiting for a retry after a platform problem says so.
	waiting := jobs(registry.JobDone, registry.JobQueued)
	waiting[1].Message = "platform problem, will retry: attempt 1 of 5 stopped (the database is unavailable)"
	if st := submissions.StatusOf(registry.Submission{ID: "s", Jobs: waiting}); st.State != submissions.StageQueued || st.Message != waiting[1].Message {
		t.Errorf("waiting for a retry: %s %q", st.State, st.Message)
	}
}

// errScorer fails with err; with wait, it first waits for the job's
// context to end (the job's own deadline).
type errScorer struct {
	err  error
	wait bool
}

func (e errScorer) ScoreOne(ctx context.Context, _ submissions.JobSpec, _ func(submissions.Stage)) (scoring.Score, error) {
	if e.wait {
		<-ctx.Done()
		return scoring.Score{}, fmt.Errorf("extract: %w", ctx.Err())
	}
	return scoring.Score{}, e.err
}

// Each failure gets its class; only internal ones are retried, and the
// last attempt of an internal failure is recorded without its details.
func TestExecutorClasses(t *testing.T) {
	ctx := t.Context()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	hash := fmt.Sprintf("%064x", 1)
	sub := registry.Submission{ID: "s1", Owner: "ada", ModelHash: hash}
	classes := []struct {
		err     error
		wait    bool // the job's own deadline passes
		at      submissions.Attempt
		outcome submissions.Outcome
		class   submissions.FailureClass
	}{
		{fmt.Errorf("load: %w: node 3 has no weights", submissions.ErrBadModel), false, submissions.Attempt{Number: 1, Max: 5}, submissions.Cancel, submissions.ClassBadModel},
		{fmt.Errorf("extract: %w", submissions.ErrOutOfMemory), false, submissions.Attempt{Number: 1, Max: 5}, submissions.Cancel, submissions.ClassOutOfMemory},
		{nil, true, submissions.Attempt{Number: 1, Max: 5, Timeout: 50 * time.Millisecond}, submissions.Cancel, submissions.ClassTimeout},
		{fmt.Errorf("s3: connection reset"), false, submissions.Attempt{Number: 1, Max: 5}, submissions.Retry, ""},
		{fmt.Errorf("s3: connection reset by 10.1.2.3"), false, submissions.Attempt{Number: 5, Max: 5}, submissions.Cancel, submissions.ClassInternal},
	}
	for i := range classes {
		sub.Jobs = append(sub.Jobs, registry.SubmissionJob{BenchmarkID: fmt.Sprint("b", i), BenchmarkVersion: "v"})
	}
	if err := reg.CreateSubmission(ctx, sub, registry.Model{Hash: hash, Name: "m", Owner: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	for i, tc := range classes {
		x := &submissions.Executor{Registry: reg, Scorer: errScorer{tc.err, tc.wait}}
		job := submissions.JobSpec{SubmissionID: "s1", ModelHash: hash, BenchmarkID: fmt.Sprint("b", i), BenchmarkVersion: "v"}
		jctx, cancel := context.WithTimeout(ctx, time.Hour)
		if tc.wait {
			jctx, cancel = context.WithTimeout(ctx, tc.at.Timeout)
		}
		out, err := x.Run(jctx, job, tc.at, func(context.Context, scoring.Score) error { t.Fatal("commit called"); return nil })
		cancel()
		if out != tc.outcome || err == nil {
			t.Errorf("%v: outcome %v, %v; want %v", tc.err, out, err, tc.outcome)
		}
	}
	got, err := reg.GetSubmission(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range classes {
		j := got.Jobs[i]
		if submissions.FailureClass(j.FailureClass) != tc.class {
			t.Errorf("job %d: class %q, want %q", i, j.FailureClass, tc.class)
		}
		if tc.outcome == submissions.Retry && (j.State != registry.JobQueued || !strings.Contains(j.Message, "platform problem, will retry")) {
			t.Errorf("job %d waiting for a retry: %s %q", i, j.State, j.Message)
		}
		if tc.class == submissions.ClassInternal && (j.Message == "" || strings.Contains(j.Message, "10.1.2.3")) {
			t.Errorf("internal failure message %q leaks or is empty", j.Message)
		}
	}
}

// A job whose attempts the job engine rescued twice (their worker killed,
// most likely by the kernel for memory) fails as out of memory instead of
// being retried until the queue drops it silently; attempts that failed
// without being able to record it (the database down at the commit) are
// not lost (issue 15, finding 2).
func TestExecutorLostAttempts(t *testing.T) {
	ctx := t.Context()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	hash := fmt.Sprintf("%064x", 2)
	sub := registry.Submission{ID: "s1", Owner: "ada", ModelHash: hash, Jobs: []registry.SubmissionJob{
		{BenchmarkID: "b", BenchmarkVersion: "v"}, {BenchmarkID: "c", BenchmarkVersion: "v"}}}
	if err := reg.CreateSubmission(ctx, sub, registry.Model{Hash: hash, Name: "m", Owner: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	// Attempts 1 and 2 of both jobs start and record nothing more.
	for _, b := range []string{"b", "c"} {
		for attempt := 1; attempt <= 2; attempt++ {
			if err := reg.StartAttempt(ctx, "s1", b, attempt, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// b: the engine rescued both (their workers vanished).
	x := &submissions.Executor{Registry: reg, Scorer: errScorer{err: fmt.Errorf("must not be called")}}
	job := submissions.JobSpec{SubmissionID: "s1", ModelHash: hash, BenchmarkID: "b", BenchmarkVersion: "v"}
	out, err := x.Run(ctx, job, submissions.Attempt{Number: 3, Max: 5, Lost: 2}, nil)
	if out != submissions.Cancel || !errors.Is(err, submissions.ErrOutOfMemory) {
		t.Fatalf("outcome %v, %v; want Cancel, out of memory", out, err)
	}
	// c: its attempts failed at the commit (nothing rescued): it runs.
	x.Scorer = submissions.DelayScorer{}
	job.BenchmarkID = "c"
	committed := false
	out, err = x.Run(ctx, job, submissions.Attempt{Number: 3, Max: 5}, func(context.Context, scoring.Score) error { committed = true; return nil })
	if out != submissions.Completed || err != nil || !committed {
		t.Fatalf("job c: outcome %v, %v, committed %v; want Completed", out, err, committed)
	}
	got, _ := reg.GetSubmission(ctx, "s1")
	if st := submissions.StatusOf(got); st.State != submissions.StageFailed || st.FailureClass != submissions.ClassOutOfMemory ||
		!strings.Contains(st.Message, "2 times") || st.Current != "b" {
		t.Errorf("status %+v", st)
	}
	if got.Jobs[0].Lost != 2 || got.Jobs[1].Lost != 0 {
		t.Errorf("lost attempts recorded %d and %d, want 2 and 0", got.Jobs[0].Lost, got.Jobs[1].Lost)
	}
}
