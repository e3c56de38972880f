package riverqueue_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/internal/faulttest"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// PostgreSQL itself stopped (pg_ctl stop -m fast) for several seconds while
// two worker processes score, and one of them SIGKILLed during the outage
// (issue 15, "What must hold": a PostgreSQL stop/start during scoring).
// Afterwards: the surviving worker process recovered by itself (no
// restart), every job is scored exactly once (one score row, one completed
// River job), no job failed or was counted as lost because of the outage,
// the killed worker's jobs are rescued by the survivor once the database
// is back (and only they: a healthy job is never rescued, the rescue gate
// holds the rescuer back for a heartbeat window after the outage), and the
// submission ends done.
func TestPostgresRestartDuringScoring(t *testing.T) {
	server := faulttest.StartPostgres(t)
	p := newPostgresAt(t, server.DSN())
	ctx := t.Context()
	start := time.Now()
	const (
		n     = 6
		delay = 4 * time.Second // longer than hbQueue's 2 s heartbeat window
	)
	sum := sha256.Sum256([]byte("pg-restart-test-model"))
	model := registry.Model{Hash: hex.EncodeToString(sum[:]), Name: "pgrestart", Owner: "ada"}
	sub := registry.Submission{ID: "sub_pgrestart", Owner: "ada", ModelHash: model.Hash, ModelName: model.Name}
	var jobs []submissions.JobSpec
	for i := range n {
		bench := fmt.Sprintf("b%d", i)
		sub.Jobs = append(sub.Jobs, registry.SubmissionJob{BenchmarkID: bench, BenchmarkVersion: bench + "-v1"})
		jobs = append(jobs, submissions.JobSpec{SubmissionID: sub.ID, ModelHash: model.Hash, BenchmarkID: bench, BenchmarkVersion: bench + "-v1"})
	}
	cfg := hbQueue
	cfg.Schema = p.schema
	enq, err := riverqueue.NewPostgres(p.pool, p.reg, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.reg.CreateSubmissionWith(ctx, sub, model, 0, func(ctx context.Context, tx *sql.Tx) error { return enq.EnqueueTx(ctx, tx, jobs) }); err != nil {
		t.Fatal(err)
	}
	spec := "postgres:" + p.schema + ":" + p.dsn
	// Two worker processes, two jobs at once each: four jobs run, two wait.
	a := startHBWorker(t, spec, delay, 2)
	b := startHBWorker(t, spec, delay, 2)
	startedA := map[string]bool{a.nextStart(t, 20*time.Second).text: true, a.nextStart(t, 20*time.Second).text: true}
	startedB := map[string]bool{b.nextStart(t, 20*time.Second).text: true, b.nextStart(t, 20*time.Second).text: true}
	time.Sleep(500 * time.Millisecond) // both heartbeat at least once

	// The outage: PostgreSQL stopped for ~6 s; the jobs running on a finish
	// scoring in the middle of it, so their commits meet a dead database.
	// b is killed while the database is down.
	downAt := time.Now()
	server.Stop()
	time.Sleep(3 * time.Second)
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.cmd.Wait()
	time.Sleep(3 * time.Second)
	startAt := time.Now()
	server.Start()
	upAt := time.Now() // pg_ctl -w returns a little after the server accepts connections
	t.Logf("PostgreSQL down for %v (worker b, running %v, killed during it); a ran %v", upAt.Sub(downAt).Round(time.Millisecond), keys(startedB), keys(startedA))

	// a alone finishes everything: its own two jobs again (their commits
	// met the stopped database: a transient failure, retried), b's two
	// jobs once rescued, and the two that were waiting.
	rest := map[string]time.Time{}
	pending := func() bool {
		for _, j := range sub.Jobs {
			if _, ok := rest[j.BenchmarkID]; !ok && !startedA[j.BenchmarkID] {
				return true
			}
		}
		return false
	}
	for pending() {
		l := a.nextStart(t, 30*time.Second)
		if _, again := rest[l.text]; !again {
			rest[l.text] = l.at
		}
	}
	for j := range startedB {
		at, ok := rest[j]
		if !ok {
			t.Errorf("killed worker b's job %s was not resumed by a", j)
			continue
		}
		t.Logf("b's job %s resumed on a %v after the database returned", j, at.Sub(upAt).Round(time.Millisecond))
	}
	st := waitFor(t, p.reg, sub.ID, 30*time.Second, func(s submissions.Status) bool {
		return s.State == submissions.StageDone || s.State == submissions.StageFailed
	})
	if st.State != submissions.StageDone || st.Done != n {
		t.Fatalf("after the outage: status %+v, want done with %d jobs scored", st, n)
	}
	db, err := p.reg.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range sub.Jobs {
		var rows int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM scores WHERE model_hash = $1 AND benchmark_id = $2", model.Hash, j.BenchmarkID).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Errorf("job %s: %d score rows, want exactly 1", j.BenchmarkID, rows)
		}
		var attempt int
		var md, state string
		q := fmt.Sprintf("SELECT attempt, metadata::text, state FROM %s.river_job WHERE args->>'benchmark_id' = $1", p.schema)
		if err := db.QueryRowContext(ctx, q, j.BenchmarkID).Scan(&attempt, &md, &state); err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		if err := json.Unmarshal([]byte(md), &meta); err != nil {
			t.Fatal(err)
		}
		rescues, _ := meta["river:rescue_count"].(float64)
		wantRescues := 0.0
		if startedB[j.BenchmarkID] {
			wantRescues = 1
		}
		if startedB[j.BenchmarkID] {
			// When the heartbeat rescuer rescued it: not before a had
			// reached the database for a whole heartbeat window after the
			// outage (the rescue gate), and soon after that.
			var errs string
			if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT coalesce(array_to_json(errors)::text, '[]') FROM %s.river_job WHERE args->>'benchmark_id' = $1", p.schema), j.BenchmarkID).Scan(&errs); err != nil {
				t.Fatal(err)
			}
			var aes []struct {
				At    time.Time `json:"at"`
				Error string    `json:"error"`
			}
			if err := json.Unmarshal([]byte(errs), &aes); err != nil {
				t.Fatal(err)
			}
			var rescuedAt time.Time
			for _, ae := range aes {
				if strings.Contains(ae.Error, "heartbeat rescuer") {
					rescuedAt = ae.At
				}
			}
			// a's last failed look at the database was at most one
			// heartbeat interval before the start began.
			after := rescuedAt.Sub(upAt)
			gate := hbQueue.HeartbeatTimeout - hbQueue.HeartbeatInterval
			if limit := hbQueue.HeartbeatTimeout + 2*hbQueue.HeartbeatInterval + time.Second; rescuedAt.IsZero() || rescuedAt.Sub(startAt) < gate || after > limit {
				t.Errorf("b's job %s rescued %v after the database started (errors %s), want at least %v (the rescue gate) and within %v of it accepting connections",
					j.BenchmarkID, rescuedAt.Sub(startAt), errs, gate, limit)
			}
			t.Logf("b's job %s rescued %v after the database was started (%v after pg_ctl saw it up)", j.BenchmarkID, rescuedAt.Sub(startAt).Round(time.Millisecond), after.Round(time.Millisecond))
		}
		if state != "completed" || rescues != wantRescues {
			t.Errorf("job %s: %s on attempt %d, rescued %v times; want completed, rescued %v times", j.BenchmarkID, state, attempt, rescues, wantRescues)
		}
		t.Logf("job %s: completed on attempt %d (rescued %v times)", j.BenchmarkID, attempt, rescues)
	}
	got, err := p.reg.GetSubmission(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range got.Jobs {
		want := 0
		if startedB[j.BenchmarkID] {
			want = 1
		}
		if j.Lost != want {
			t.Errorf("job %s: %d attempts recorded lost, want %d (only a killed worker's attempt is lost, never one the outage interrupted)", j.BenchmarkID, j.Lost, want)
		}
	}
	// a rode out the outage in one process (it printed every start above
	// without exiting: a worker does not exit on a database outage, by
	// design) and still stops cleanly.
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("worker a is gone after the outage: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("worker a, stopped after the outage: %v (want a clean exit)", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("worker a did not stop within 10 s of SIGTERM")
	}
	t.Logf("all %d jobs scored once; %v in all", n, time.Since(start).Round(time.Millisecond))
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
