package registry_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

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
		exp := time.Now().Add(time.Hour).UTC()
		tok, err := r.AddToken(ctx, registry.Token{User: "ada", ExpiresAt: exp}, hash("secret"))
		if err != nil || tok.ID == "" || !tok.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) && !tok.ExpiresAt.Equal(exp) {
			t.Fatalf("AddToken = %+v, %v", tok, err)
		}
		if _, err := r.AddToken(ctx, registry.Token{User: "nobody", ExpiresAt: exp}, hash("x")); !registry.IsNotFound(err) {
			t.Fatalf("token for missing user: %v", err)
		}
		if _, err := r.AddToken(ctx, registry.Token{User: "ada"}, hash("y")); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Fatalf("token without expiry: %v", err)
		}
		got, err := r.TokenByHash(ctx, hash("secret"))
		if err != nil || got.ID != tok.ID || got.User != "ada" || got.Revoked() || got.Expired(time.Now()) || !got.Expired(exp) {
			t.Fatalf("TokenByHash = %+v, %v", got, err)
		}
		if _, err := r.TokenByHash(ctx, hash("wrong")); !registry.IsNotFound(err) {
			t.Fatalf("bad token: %v", err)
		}
	})
}

func TestTokenLifecycleAndUserChanges(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r, ctx := open(), t.Context()
		for _, u := range []registry.User{{Name: "ada", Role: registry.RoleSubmitter}, {Name: "bob", Role: registry.RoleMaintainer}} {
			if err := r.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		exp := time.Now().Add(time.Hour)
		a1, err := r.AddToken(ctx, registry.Token{User: "ada", CreatedAt: time.Now().Add(-time.Minute), ExpiresAt: exp}, hash("a1"))
		if err != nil {
			t.Fatal(err)
		}
		a2, err := r.AddToken(ctx, registry.Token{User: "ada", ExpiresAt: exp}, hash("a2"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.AddToken(ctx, registry.Token{User: "bob", ExpiresAt: exp}, hash("b1")); err != nil {
			t.Fatal(err)
		}
		if ts, err := r.ListTokens(ctx, "ada"); err != nil || len(ts) != 2 || ts[0].ID != a1.ID || ts[1].ID != a2.ID {
			t.Fatalf("ListTokens(ada) = %+v, %v", ts, err)
		}
		if ts, err := r.ListTokens(ctx, ""); err != nil || len(ts) != 3 {
			t.Fatalf("ListTokens() = %d, %v", len(ts), err)
		}

		// Revoke: the first time counts; revoking again keeps it.
		at := time.Now().UTC().Truncate(time.Second)
		rv, err := r.RevokeToken(ctx, a1.ID, at)
		if err != nil || !rv.RevokedAt.Equal(at) {
			t.Fatalf("RevokeToken = %+v, %v", rv, err)
		}
		if rv, err := r.RevokeToken(ctx, a1.ID, at.Add(time.Hour)); err != nil || !rv.RevokedAt.Equal(at) {
			t.Fatalf("second RevokeToken = %+v, %v", rv, err)
		}
		if got, err := r.TokenByHash(ctx, hash("a1")); err != nil || !got.Revoked() {
			t.Fatalf("revoked token reads %+v, %v", got, err)
		}
		if got, _ := r.TokenByHash(ctx, hash("a2")); got.Revoked() {
			t.Fatal("revoking a1 revoked a2")
		}
		if _, err := r.RevokeToken(ctx, "tok_nope", at); !registry.IsNotFound(err) {
			t.Fatalf("revoke missing: %v", err)
		}
		if err := r.TouchToken(ctx, a2.ID, at); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.TokenByHash(ctx, hash("a2")); !got.LastUsedAt.Equal(at) {
			t.Fatalf("last used %v, want %v", got.LastUsedAt, at)
		}

		// Disable, enable, change role.
		if err := r.SetUserDisabled(ctx, "ada", true); err != nil {
			t.Fatal(err)
		}
		if u, _ := r.GetUser(ctx, "ada"); !u.Disabled {
			t.Fatal("ada not disabled")
		}
		if err := r.SetUserDisabled(ctx, "ada", false); err != nil {
			t.Fatal(err)
		}
		if err := r.SetUserRole(ctx, "ada", registry.RoleMaintainer); err != nil {
			t.Fatal(err)
		}
		if u, _ := r.GetUser(ctx, "ada"); u.Disabled || u.Role != registry.RoleMaintainer {
			t.Fatalf("ada = %+v", u)
		}
		if err := r.SetUserRole(ctx, "ada", "king"); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Fatalf("bad role: %v", err)
		}
		if err := r.SetUserRole(ctx, "nobody", registry.RoleSubmitter); !registry.IsNotFound(err) {
			t.Fatalf("role of missing user: %v", err)
		}
		if err := r.SetUserDisabled(ctx, "nobody", true); !registry.IsNotFound(err) {
			t.Fatalf("disable missing user: %v", err)
		}
		if us, err := r.ListUsers(ctx); err != nil || len(us) != 2 || us[0].Name != "ada" || us[1].Name != "bob" {
			t.Fatalf("ListUsers = %+v, %v", us, err)
		}
	})
}

// A database made before migration 4 keeps its users (enabled) and tokens
// (given an ID and an expiry LegacyTokenLifetime after the migration).
func TestMigrationTokenLifecycle(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		ctx := t.Context()
		restore := registry.LimitMigrationsForTest(3)
		old := open()
		restore()
		for _, q := range []string{
			"INSERT INTO users (name, role, created_at) VALUES ('old', 'submitter', '2026-01-02 03:04:05')",
			"INSERT INTO api_tokens (hash, user_name, created_at) VALUES ('" + hash("t1") + "', 'old', '2026-01-02 03:04:05')",
			"INSERT INTO api_tokens (hash, user_name, created_at) VALUES ('" + hash("t2") + "', 'old', '2026-01-02 03:04:05')",
		} {
			if err := registry.ExecForTest(old, q); err != nil {
				t.Fatal(err)
			}
		}
		if v, _ := old.SchemaVersion(ctx); v != 3 {
			t.Fatalf("old schema version %d", v)
		}
		old.Close()
		before := time.Now()
		r := open()
		if v, err := r.SchemaVersion(ctx); err != nil || v != registry.LatestSchemaVersion || v < 4 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		if u, err := r.GetUser(ctx, "old"); err != nil || u.Disabled || u.Role != registry.RoleSubmitter {
			t.Fatalf("old user = %+v, %v", u, err)
		}
		ts, err := r.ListTokens(ctx, "old")
		if err != nil || len(ts) != 2 {
			t.Fatalf("old tokens = %+v, %v", ts, err)
		}
		if ts[0].ID == "" || ts[0].ID == ts[1].ID {
			t.Errorf("token IDs %q %q", ts[0].ID, ts[1].ID)
		}
		for _, tk := range ts {
			want := before.Add(registry.LegacyTokenLifetime)
			if d := tk.ExpiresAt.Sub(want); d < -time.Minute || d > time.Minute || tk.Revoked() || !tk.LastUsedAt.IsZero() {
				t.Errorf("migrated token %+v: expiry should be about %v", tk, want)
			}
		}
		// A new token after the migration, and the ID index holds.
		if _, err := r.AddToken(ctx, registry.Token{ID: ts[0].ID, User: "old", ExpiresAt: time.Now().Add(time.Hour)}, hash("t3")); !errors.Is(err, registry.ErrExists) {
			t.Errorf("duplicate token ID: %v, want ErrExists", err)
		}
		if _, err := r.AddToken(ctx, registry.Token{User: "old", ExpiresAt: time.Now().Add(time.Hour)}, hash("t3")); err != nil {
			t.Error(err)
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

// A submission's rows commit with what within writes in the same
// transaction, or not at all (issue 15, finding 1); heartbeats are
// refused once another attempt runs (finding 4); failing a lost
// submission's open jobs refunds its quota once, however often it runs.
func TestSubmissionTxHeartbeatAndRefund(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r, ctx := open(), t.Context()
		m := registry.Model{Hash: hash("m"), File: hash("f"), Name: "m", Owner: "ada", Preprocessing: []byte("{}")}
		sub := registry.Submission{ID: "s1", Owner: "ada", ModelHash: m.Hash, CreatedAt: time.Now().UTC(),
			Jobs: []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "v1"}, {BenchmarkID: "b2", BenchmarkVersion: "v1"}}}
		day := registry.Day(sub.CreatedAt)
		// within fails: nothing is recorded or counted.
		boom := errors.New("queue down")
		if err := r.CreateSubmissionWith(ctx, sub, m, 0, func(ctx context.Context, tx *sql.Tx) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("create with a failing within: %v", err)
		}
		if _, err := r.GetSubmission(ctx, "s1"); !registry.IsNotFound(err) {
			t.Fatalf("rolled-back submission: %v", err)
		}
		if n, _ := r.CountSubmissions(ctx, "ada", day); n != 0 {
			t.Fatalf("rolled-back submission counted: %d", n)
		}
		// within writes in the transaction: its write commits with the rows.
		err := r.CreateSubmissionWith(ctx, sub, m, 0, func(ctx context.Context, tx *sql.Tx) error {
			_, err := sqlTxExec{tx}.Exec(ctx, "UPDATE submission_jobs SET message = 'written in the transaction' WHERE submission_id = 's1'")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.GetSubmission(ctx, "s1")
		if err != nil || got.Jobs[0].Message != "written in the transaction" {
			t.Fatalf("%+v, %v", got, err)
		}
		openJobs, err := r.OpenJobs(ctx)
		if err != nil || len(openJobs) != 2 || openJobs[0].FileHash != m.File || openJobs[0].Owner != "ada" {
			t.Fatalf("open jobs %+v, %v", openJobs, err)
		}

		if err := r.StartAttempt(ctx, "s1", "b1", 1, 0); err != nil {
			t.Fatal(err)
		}
		beat := time.Now().Add(time.Minute)
		if alive, err := r.Heartbeat(ctx, "s1", "b1", 1, beat); err != nil || !alive {
			t.Fatalf("heartbeat of the running attempt: %v, %v", alive, err)
		}
		if attempt, at, err := r.LastHeartbeat(ctx, "s1", "b1"); err != nil || attempt != 1 || at.UnixMilli() != beat.UnixMilli() {
			t.Fatalf("last heartbeat: attempt %d at %v, %v", attempt, at, err)
		}
		if err := r.StartAttempt(ctx, "s1", "b1", 2, 1); err != nil {
			t.Fatal(err)
		}
		if alive, err := r.Heartbeat(ctx, "s1", "b1", 1, beat); err != nil || alive {
			t.Fatalf("heartbeat of a superseded attempt: %v, %v; want refused", alive, err)
		}

		for i, want := range []int{2, 0} {
			n, err := r.FailOpenJobs(ctx, "s1", "internal", "the upload never completed", true)
			if err != nil || n != want {
				t.Fatalf("fail open jobs, run %d: %d, %v; want %d", i+1, n, err, want)
			}
		}
		if n, _ := r.CountSubmissions(ctx, "ada", day); n != 0 {
			t.Errorf("daily count %d after the refund, want 0", n)
		}
		got, _ = r.GetSubmission(ctx, "s1")
		if got.Jobs[1].State != registry.JobFailed || got.Jobs[1].Message != "the upload never completed" {
			t.Errorf("%+v", got.Jobs)
		}
	})
}
