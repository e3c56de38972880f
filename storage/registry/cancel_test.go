package registry_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/registry"
)

// Issue 17, finding 2: cancelling a submission, or every submission of a
// withdrawn model, closes its open jobs for good: a worker's later records
// of the attempt (start, progress, failure, requeue, heartbeat) never
// reopen them; done jobs and other models' jobs are left alone.
func TestCancelJobs(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r, ctx := open(), t.Context()
		if err := r.CreateUser(ctx, registry.User{Name: "ada", Role: registry.RoleSubmitter}); err != nil {
			t.Fatal(err)
		}
		m := registry.Model{Hash: hash("m"), Name: "net", Owner: "ada"}
		other := registry.Model{Hash: hash("other"), Name: "other", Owner: "ada"}
		jobs := []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "v1"}, {BenchmarkID: "b2", BenchmarkVersion: "v2"}, {BenchmarkID: "b3", BenchmarkVersion: "v3"}}
		for _, s := range []registry.Submission{
			{ID: "s1", Owner: "ada", ModelHash: m.Hash, Jobs: jobs},
			{ID: "s2", Owner: "ada", ModelHash: m.Hash, Jobs: jobs[:1]},
			{ID: "s3", Owner: "ada", ModelHash: other.Hash, Jobs: jobs[:1]},
		} {
			mm := m
			if s.ModelHash == other.Hash {
				mm = other
			}
			if err := r.CreateSubmission(ctx, s, mm, 0); err != nil {
				t.Fatal(err)
			}
		}
		// s1: b1 done, b2 running, b3 queued.
		tx, err := mustSQL(t, r).BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.FinishJobTx(ctx, sqlTxExec{tx}, "s1", "b1"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := r.StartAttempt(ctx, "s1", "b2", 1, 0); err != nil {
			t.Fatal(err)
		}

		subs, n, err := r.CancelModelJobs(ctx, m.Hash, "cancelled (model withdrawn)")
		if err != nil || n != 3 || strings.Join(subs, ",") != "s1,s2" {
			t.Fatalf("CancelModelJobs = %v, %d, %v; want s1,s2 and 3 jobs (b2, b3 of s1; b1 of s2)", subs, n, err)
		}
		s1, err := r.GetSubmission(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.JobState{registry.JobDone, registry.JobCancelled, registry.JobCancelled}
		for i, j := range s1.Jobs {
			if j.State != want[i] {
				t.Errorf("s1 job %s: %s, want %s", j.BenchmarkID, j.State, want[i])
			}
			if j.State == registry.JobCancelled && j.Message != "cancelled (model withdrawn)" {
				t.Errorf("s1 job %s message %q", j.BenchmarkID, j.Message)
			}
		}
		if s3, _ := r.GetSubmission(ctx, "s3"); s3.Jobs[0].State != registry.JobQueued {
			t.Errorf("another model's job was touched: %s", s3.Jobs[0].State)
		}
		// The running attempt's worker records nothing over the cancel.
		if err := r.SetJobProgress(ctx, "s1", "b2", "scoring", 1); err != nil {
			t.Fatal(err)
		}
		if err := r.StartAttempt(ctx, "s1", "b3", 1, 0); err != nil {
			t.Fatal(err)
		}
		if err := r.RequeueJob(ctx, "s1", "b2", "retry"); err != nil {
			t.Fatal(err)
		}
		if err := r.FailJob(ctx, "s1", "b3", "internal", "x"); err != nil {
			t.Fatal(err)
		}
		if alive, err := r.Heartbeat(ctx, "s1", "b2", 1, timeNow()); err != nil || alive {
			t.Errorf("heartbeat of a cancelled job: %v, %v; want not alive", alive, err)
		}
		s1, _ = r.GetSubmission(ctx, "s1")
		for _, j := range s1.Jobs[1:] {
			if j.State != registry.JobCancelled {
				t.Errorf("job %s reopened as %s after its cancel", j.BenchmarkID, j.State)
			}
		}
		for bench, want := range map[string]bool{"b1": false, "b2": true, "b3": true} {
			if got, err := r.JobCancelled(ctx, "s1", bench); err != nil || got != want {
				t.Errorf("JobCancelled(s1, %s) = %v, %v; want %v", bench, got, err, want)
			}
		}
		if open, err := r.OpenJobs(ctx); err != nil || len(open) != 1 || open[0].SubmissionID != "s3" {
			t.Errorf("open jobs after the cancel: %+v %v, want s3's only", open, err)
		}
		// Nothing left to cancel: 0.
		if subs, n, err := r.CancelModelJobs(ctx, m.Hash, "again"); err != nil || n != 0 || len(subs) != 0 {
			t.Errorf("second CancelModelJobs = %v %d %v", subs, n, err)
		}
		if n, err := r.CancelJobs(ctx, "s3", "cancelled by ada"); err != nil || n != 1 {
			t.Errorf("CancelJobs(s3) = %d, %v", n, err)
		}
		if n, err := r.CancelJobs(ctx, "s3", "cancelled by ada"); err != nil || n != 0 {
			t.Errorf("CancelJobs(s3) twice = %d, %v", n, err)
		}
	})
}

// Issue 17, finding 10: a unique prefix of at least 8 hex digits names a
// model; an ambiguous one lists the candidates; a short or non-hex one is
// refused saying what to give.
func TestResolveModelID(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r, ctx := open(), t.Context()
		a := "abcdef01" + strings.Repeat("0", 56)
		b := "abcdef01" + strings.Repeat("1", 56)
		c := "12345678" + strings.Repeat("9", 56)
		for i, h := range []string{a, b, c} {
			if err := r.PutModel(ctx, registry.Model{Hash: h, Name: "m" + string(rune('a'+i))}); err != nil {
				t.Fatal(err)
			}
		}
		for in, want := range map[string]string{c: c, c[:8]: c, c[:12]: c, strings.ToUpper(c[:12]): c, a[:9]: a, b[:9]: b, " " + c[:10] + " ": c} {
			if got, err := r.ResolveModelID(ctx, in); err != nil || got != want {
				t.Errorf("ResolveModelID(%q) = %q, %v; want %s", in, got, err, want)
			}
		}
		_, err := r.ResolveModelID(ctx, a[:8])
		var amb *registry.AmbiguousError
		if !errors.As(err, &amb) || !errors.Is(err, registry.ErrAmbiguous) || len(amb.Candidates) != 2 ||
			!strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "(ma)") {
			t.Errorf("ambiguous prefix: %v, want both candidates with their names", err)
		}
		if _, err := r.ResolveModelID(ctx, "ffffffff"); !registry.IsNotFound(err) {
			t.Errorf("unknown prefix: %v, want not found", err)
		}
		for _, bad := range []string{"", "abcdef0", "abcdef0g", "abcd%ef01", a + "0"} {
			if _, err := r.ResolveModelID(ctx, bad); !errors.Is(err, registry.ErrInvalidArgument) || !strings.Contains(err.Error(), "at least") && !strings.Contains(err.Error(), "8 to 64") {
				t.Errorf("ResolveModelID(%q) = %v, want invalid argument", bad, err)
			}
		}
		// A withdrawal is recorded once, by the first withdrawer.
		if err := r.WithdrawModel(ctx, c, "ada", "wrong spec"); err != nil {
			t.Fatal(err)
		}
		if err := r.WithdrawModel(ctx, c, "bob", "later"); err != nil {
			t.Fatal(err)
		}
		w, err := r.GetWithdrawal(ctx, c)
		if err != nil || w.By != "ada" || w.Reason != "wrong spec" || w.At.IsZero() {
			t.Errorf("GetWithdrawal = %+v, %v", w, err)
		}
		if _, err := r.GetWithdrawal(ctx, a); !registry.IsNotFound(err) {
			t.Errorf("withdrawal of a model never withdrawn: %v", err)
		}
	})
}

func mustSQL(t *testing.T, r *registry.Registry) *sql.DB {
	t.Helper()
	db, err := r.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func timeNow() time.Time { return time.Now() }
