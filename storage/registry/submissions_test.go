package registry_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/storage/registry"
)

type sqlTxExec struct{ tx *sql.Tx }

func (e sqlTxExec) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func TestUsersAndTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r, ctx := open(), t.Context()
		if err := r.CreateUser(ctx, registry.User{Name: "ada", Role: registry.RoleMaintainer}); err != nil {
			t.Fatal(err)
		}
		if err := r.CreateUser(ctx, registry.User{Name: "ada", Role: registry.RoleSubmitter}); !errors.Is(err, registry.ErrExists) {
			t.Fatalf("duplicate user: %v, want ErrExists", err)
		}
		if err := r.CreateUser(ctx, registry.User{Name: "bob", Role: "king"}); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Fatalf("bad role: %v", err)
		}
		if err := r.AddToken(ctx, "ada", hash("secret")); err != nil {
			t.Fatal(err)
		}
		if err := r.AddToken(ctx, "nobody", hash("x")); !registry.IsNotFound(err) {
			t.Fatalf("token for missing user: %v", err)
		}
		u, err := r.UserByToken(ctx, hash("secret"))
		if err != nil || u.Name != "ada" || u.Role != registry.RoleMaintainer {
			t.Fatalf("UserByToken = %+v, %v", u, err)
		}
		if _, err := r.UserByToken(ctx, hash("wrong")); !registry.IsNotFound(err) {
			t.Fatalf("bad token: %v", err)
		}
	})
}

func TestSubmissionsLimitAndScoreTx(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r, ctx := open(), t.Context()
		if err := r.CreateUser(ctx, registry.User{Name: "ada", Role: registry.RoleSubmitter}); err != nil {
			t.Fatal(err)
		}
		m := registry.Model{Hash: hash("m"), Name: "net", Owner: "ada"}
		jobs := []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "v1"}, {BenchmarkID: "b2", BenchmarkVersion: "v2"}}
		// Five concurrent submissions against a limit of 3: exactly 3 pass.
		var wg sync.WaitGroup
		errs := make([]error, 5)
		for i := range errs {
			wg.Go(func() {
				s := registry.Submission{ID: "s" + string(rune('a'+i)), Owner: "ada", ModelHash: m.Hash, ModelName: "net", Jobs: jobs}
				errs[i] = r.CreateSubmission(ctx, s, m, 3)
			})
		}
		wg.Wait()
		ok, limited := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, registry.ErrLimit):
				limited++
			default:
				t.Fatal(err)
			}
		}
		if ok != 3 || limited != 2 {
			t.Fatalf("%d accepted, %d limited; want 3, 2", ok, limited)
		}
		subs, err := r.ListSubmissions(ctx, "ada", 0)
		if err != nil || len(subs) != 3 || len(subs[0].Jobs) != 2 || subs[0].Jobs[1].Position != 2 || subs[0].Jobs[0].State != registry.JobQueued {
			t.Fatalf("ListSubmissions = %+v, %v", subs, err)
		}
		id := subs[0].ID

		if err := r.SetJobProgress(ctx, id, "b1", "scoring", 1); err != nil {
			t.Fatal(err)
		}
		db, err := r.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		s := sampleScore("m", "v1")
		s.BenchmarkID = "b1"
		for i, wantCreated := range []bool{true, false} {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			created, err := r.PutScoreTx(ctx, sqlTxExec{tx}, s)
			if err != nil || created != wantCreated {
				t.Fatalf("put %d: created %v, %v", i, created, err)
			}
			if err := r.FinishJobTx(ctx, sqlTxExec{tx}, id, "b1"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		got, err := r.GetScore(ctx, registry.ScoreKey{ModelHash: s.ModelHash, BenchmarkVersion: "v1", ScorerVersion: s.ScorerVersion})
		if err != nil {
			t.Fatal(err)
		}
		same(t, got, s)
		// A rolled back transaction leaves neither score nor completion.
		tx, _ := db.BeginTx(ctx, nil)
		s2 := sampleScore("m", "v2")
		s2.BenchmarkID = "b2"
		if _, err := r.PutScoreTx(ctx, sqlTxExec{tx}, s2); err != nil {
			t.Fatal(err)
		}
		if err := r.FinishJobTx(ctx, sqlTxExec{tx}, id, "b2"); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		if err := r.FailJob(ctx, id, "b1", "internal", "late failure must not undo done"); err != nil {
			t.Fatal(err)
		}
		if err := r.FailJob(ctx, id, "b2", "bad model", "fix it"); err != nil {
			t.Fatal(err)
		}
		sub, err := r.GetSubmission(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Jobs[0].State != registry.JobDone || sub.Jobs[1].State != registry.JobFailed || sub.Jobs[1].FailureClass != "bad model" {
			t.Fatalf("jobs %+v", sub.Jobs)
		}
		if all, _ := r.ListScores(ctx, registry.ScoreFilter{}); len(all) != 1 {
			t.Fatalf("%d scores, want 1", len(all))
		}
		if err := r.WithdrawModel(ctx, m.Hash, "ada", "bug"); err != nil {
			t.Fatal(err)
		}
		if w, err := r.Withdrawn(ctx, m.Hash); err != nil || !w {
			t.Fatalf("withdrawn %v %v", w, err)
		}
		if all, err := r.WithdrawnModels(ctx); err != nil || len(all) != 1 || !all[m.Hash] {
			t.Fatalf("WithdrawnModels = %v, %v", all, err)
		}
	})
}
