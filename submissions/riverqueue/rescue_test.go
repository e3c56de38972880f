package riverqueue_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// The heartbeat rescuer rescues a running job only when both River's
// attempted_at and the attempt's heartbeat are older than the window;
// rescuers of several processes racing rescue it once; and the rescue is
// recorded as River records its own (issue 15, finding 4).
func TestRescueDead(t *testing.T) {
	forEachHBBackend(t, testRescueDead)
}

func testRescueDead(t *testing.T, b hbBackend) {
	ctx := t.Context()
	sum := sha256.Sum256([]byte("rescue-model"))
	model := registry.Model{Hash: hex.EncodeToString(sum[:]), Name: "r", Owner: "ada"}
	sub := registry.Submission{ID: "sub_r", Owner: "ada", ModelHash: model.Hash,
		Jobs: []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "v1"}}}
	cfg := riverqueue.Config{HeartbeatInterval: time.Second, HeartbeatTimeout: time.Minute}
	q1, err := b.newQ(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q2, err := b.newQ(cfg)
	if err != nil {
		t.Fatal(err)
	}
	job := []submissions.JobSpec{{SubmissionID: sub.ID, ModelHash: model.Hash, BenchmarkID: "b1", BenchmarkVersion: "v1"}}
	if err := b.reg.CreateSubmissionWith(ctx, sub, model, 0, func(ctx context.Context, tx *sql.Tx) error { return q1.EnqueueTx(ctx, tx, job) }); err != nil {
		t.Fatal(err)
	}
	db, err := b.reg.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	// A worker fetched the job 10 minutes ago (as River does: running,
	// attempt 1, attempted_at) and started its attempt.
	started := time.Now().Add(-10 * time.Minute)
	run := "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1"
	var at any = started.UTC()
	if strings.HasPrefix(b.spec, "sqlite:") {
		run, at = strings.Replace(run, "$1", "?", 1), started.UTC().Format("2006-01-02 15:04:05.000")
	} else {
		schema, _, _ := strings.Cut(strings.TrimPrefix(b.spec, "postgres:"), ":")
		run = strings.Replace(run, "river_job", schema+".river_job", 1)
	}
	if _, err := db.ExecContext(ctx, run, at); err != nil {
		t.Fatal(err)
	}
	if err := b.reg.StartAttempt(ctx, sub.ID, "b1", 1, 0); err != nil {
		t.Fatal(err)
	}
	// Its heartbeat is fresh (StartAttempt just now): alive.
	if n, err := q1.RescueDead(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("rescued %d (%v) jobs with a fresh heartbeat, want 0", n, err)
	}
	// Two minutes later, still no new heartbeat: two rescuers race.
	later := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, q := range []*riverqueue.Queue{q1, q2} {
		wg.Go(func() {
			n, err := q.RescueDead(ctx, later)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != 1 {
		t.Errorf("rescuers rescued %v, want the job once", counts)
	}
	var attempt int
	var md, state string
	if err := db.QueryRowContext(ctx, b.jobSQL("b1")).Scan(&attempt, &md, &state); err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(md), &meta); err != nil {
		t.Fatal(err)
	}
	if state != "available" || meta["river:rescue_count"] != 1.0 {
		t.Errorf("rescued job: %s, metadata %s; want available, river:rescue_count 1", state, md)
	}
	// Available again: nothing more to rescue.
	if n, err := q1.RescueDead(ctx, later); err != nil || n != 0 {
		t.Errorf("second rescue: %d, %v", n, err)
	}
}

// The defaults resume a killed worker's job within 2 minutes (timeout +
// one rescuer tick + one poll); a window that a single late heartbeat
// could miss is refused.
func TestHeartbeatConfig(t *testing.T) {
	c := riverqueue.Config{}.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if worst := c.HeartbeatTimeout + c.HeartbeatInterval + c.PollInterval; worst > 2*time.Minute {
		t.Errorf("a killed worker's job resumes up to %v after the kill, want within 2 minutes", worst)
	}
	bad := riverqueue.Config{HeartbeatInterval: time.Minute, HeartbeatTimeout: time.Minute}.WithDefaults()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "heartbeat") {
		t.Errorf("heartbeat timeout = interval accepted: %v", err)
	}
}
