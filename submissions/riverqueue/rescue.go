package riverqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
)

// A dead worker is found by heartbeat (issue 15, finding 4). River's own
// rescuer only retries a job that has run longer than RescueAfter (it must
// exceed JobTimeout, an hour by default), and a job cannot extend that
// deadline. So every working process also runs the heartbeat rescuer: every
// HeartbeatInterval it lists the running jobs and makes available again
// each one whose attempt has shown no sign of life (River's attempted_at,
// or the attempt's heartbeat in the registry's job row, whichever is
// later) for HeartbeatTimeout. The rescue is one conditional UPDATE of
// River's job row (still running, still that attempt), so it is
// transactional and idempotent: rescuers of several processes racing
// rescue a job once. Like River's rescuer it appends an AttemptError and
// counts the rescue in the job's metadata (river:rescue_count), which is
// what the next attempt counts as lost (see rescues).
//
// Times compared are Unix milliseconds of the workers' and the rescuer's
// clocks: on several machines, keep their clocks within a few seconds
// (NTP), well under HeartbeatTimeout.

// rescueMessage is the AttemptError of a heartbeat rescue.
const rescueMessage = "Stuck job rescued by cortexbench heartbeat rescuer: no heartbeat for %v (its worker died)"

// jobKind is the River kind of a scoring job.
var jobKind = scoreArgs{}.Kind()

type runningJob struct {
	ID                        int64
	Attempt                   int
	AttemptedMS               int64
	SubmissionID, BenchmarkID string
}

// jobTable is what the rescuer and Reconcile do with River's job table,
// in one database's SQL.
type jobTable struct {
	running func(ctx context.Context) ([]runningJob, error)
	// rescue makes job id available again if it still runs attempt.
	rescue func(ctx context.Context, id int64, attempt int, attemptErr []byte, now time.Time) (bool, error)
	// state returns the state of the newest job of (submission, benchmark).
	state func(ctx context.Context, submissionID, benchmarkID string) (state string, found bool, err error)
	// unfinished returns the ids of a submission's jobs River has not
	// finalized (not completed, cancelled nor discarded).
	unfinished func(ctx context.Context, submissionID string) ([]int64, error)
}

// finalStates are River's states of a job that never runs again.
const finalStates = "'completed', 'cancelled', 'discarded'"

func pgJobTable(pool *pgxpool.Pool, schema string) jobTable {
	table := "river_job"
	if schema != "" {
		table = pgx.Identifier{schema, "river_job"}.Sanitize()
	}
	return jobTable{
		running: func(ctx context.Context) ([]runningJob, error) {
			rows, err := pool.Query(ctx, `SELECT id, attempt, COALESCE((extract(epoch FROM attempted_at) * 1000)::bigint, 0),
				COALESCE(args->>'submission_id', ''), COALESCE(args->>'benchmark_id', '')
				FROM `+table+` WHERE state = 'running' AND kind = $1`, jobKind)
			if err != nil {
				return nil, err
			}
			var out []runningJob
			for rows.Next() {
				var j runningJob
				if err := rows.Scan(&j.ID, &j.Attempt, &j.AttemptedMS, &j.SubmissionID, &j.BenchmarkID); err != nil {
					rows.Close()
					return nil, err
				}
				out = append(out, j)
			}
			return out, rows.Err()
		},
		rescue: func(ctx context.Context, id int64, attempt int, attemptErr []byte, now time.Time) (bool, error) {
			tag, err := pool.Exec(ctx, `UPDATE `+table+` SET state = 'available', scheduled_at = $1,
				errors = array_append(errors, $2::jsonb),
				metadata = metadata || jsonb_build_object('`+rescueCountKey+`',
					COALESCE(CASE WHEN jsonb_typeof(metadata -> '`+rescueCountKey+`') = 'number' THEN (metadata ->> '`+rescueCountKey+`')::int END, 0) + 1)
				WHERE id = $3 AND state = 'running' AND attempt = $4`, now.UTC(), string(attemptErr), id, attempt)
			if err != nil {
				return false, err
			}
			return tag.RowsAffected() == 1, nil
		},
		state: func(ctx context.Context, submissionID, benchmarkID string) (string, bool, error) {
			var state string
			err := pool.QueryRow(ctx, `SELECT state FROM `+table+` WHERE kind = $1 AND args->>'submission_id' = $2 AND args->>'benchmark_id' = $3
				ORDER BY id DESC LIMIT 1`, jobKind, submissionID, benchmarkID).Scan(&state)
			if errors.Is(err, pgx.ErrNoRows) {
				return "", false, nil
			}
			return state, err == nil, err
		},
		unfinished: func(ctx context.Context, submissionID string) ([]int64, error) {
			rows, err := pool.Query(ctx, `SELECT id FROM `+table+` WHERE kind = $1 AND args->>'submission_id' = $2
				AND state NOT IN (`+finalStates+`) ORDER BY id`, jobKind, submissionID)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[int64])
		},
	}
}

// sqliteTime is the only time format River's SQLite driver compares
// correctly (see riversqlite's timeString).
const sqliteTime = "2006-01-02 15:04:05.000"

func sqliteJobTable(db *sql.DB) jobTable {
	return jobTable{
		running: func(ctx context.Context) ([]runningJob, error) {
			rows, err := db.QueryContext(ctx, `SELECT id, attempt,
				COALESCE(CAST(ROUND((julianday(attempted_at) - 2440587.5) * 86400000) AS INTEGER), 0),
				COALESCE(json_extract(args, '$.submission_id'), ''), COALESCE(json_extract(args, '$.benchmark_id'), '')
				FROM river_job WHERE state = 'running' AND kind = ?`, jobKind)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []runningJob
			for rows.Next() {
				var j runningJob
				if err := rows.Scan(&j.ID, &j.Attempt, &j.AttemptedMS, &j.SubmissionID, &j.BenchmarkID); err != nil {
					return nil, err
				}
				out = append(out, j)
			}
			return out, rows.Err()
		},
		rescue: func(ctx context.Context, id int64, attempt int, attemptErr []byte, now time.Time) (bool, error) {
			res, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = ?,
				errors = jsonb(json_insert(json(COALESCE(errors, jsonb('[]'))), '$[#]', json(?))),
				metadata = jsonb_set(metadata, '$."`+rescueCountKey+`"',
					COALESCE(CASE json_type(metadata, '$."`+rescueCountKey+`"') WHEN 'integer' THEN json_extract(metadata, '$."`+rescueCountKey+`"') END, 0) + 1)
				WHERE id = ? AND state = 'running' AND attempt = ?`,
				now.UTC().Round(time.Millisecond).Format(sqliteTime), string(attemptErr), id, attempt)
			if err != nil {
				return false, err
			}
			n, err := res.RowsAffected()
			return n == 1, err
		},
		state: func(ctx context.Context, submissionID, benchmarkID string) (string, bool, error) {
			var state string
			err := db.QueryRowContext(ctx, `SELECT state FROM river_job WHERE kind = ? AND json_extract(args, '$.submission_id') = ?
				AND json_extract(args, '$.benchmark_id') = ? ORDER BY id DESC LIMIT 1`, jobKind, submissionID, benchmarkID).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return "", false, nil
			}
			return state, err == nil, err
		},
		unfinished: func(ctx context.Context, submissionID string) ([]int64, error) {
			rows, err := db.QueryContext(ctx, `SELECT id FROM river_job WHERE kind = ? AND json_extract(args, '$.submission_id') = ?
				AND state NOT IN (`+finalStates+`) ORDER BY id`, jobKind, submissionID)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return nil, err
				}
				out = append(out, id)
			}
			return out, rows.Err()
		},
	}
}

// runRescuer starts the heartbeat rescuer; the returned func stops it and
// waits for it.
func (q *Queue) runRescuer(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(q.cfg.HeartbeatInterval)
		defer t.Stop()
		gate := rescueGate{window: q.cfg.HeartbeatTimeout, healthySince: time.Now()}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			if !gate.ready(now) {
				// Not yet: only see whether the database answers.
				if _, err := q.jobs.running(ctx); err != nil {
					gate.failed(now)
				}
				continue
			}
			if n, err := q.RescueDead(ctx, now); err != nil && ctx.Err() == nil {
				gate.failed(now)
				q.cfg.Logger.Warn("heartbeat rescuer: will try again", "error", err)
			} else if n > 0 {
				q.cfg.Logger.Warn("heartbeat rescuer: rescued the jobs of dead workers", "jobs", n)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// rescueGate holds the rescuer back until this process has reached the
// database for a whole heartbeat window: after a database outage (or this
// process's start), the live workers' heartbeats are as stale as a dead
// one's until their next beat, and rescuing them would count an outage as
// lost attempts (issue 15, finding 2: two outages must not fail a job as
// out of memory). A dead worker's job is rescued one window later instead.
type rescueGate struct {
	window       time.Duration
	healthySince time.Time
}

func (g *rescueGate) failed(now time.Time)     { g.healthySince = now }
func (g *rescueGate) ready(now time.Time) bool { return now.Sub(g.healthySince) >= g.window }

// RescueDead makes available again every running job whose attempt has
// shown no sign of life for HeartbeatTimeout at now, and returns how many
// it rescued. The workers' processes run it every HeartbeatInterval.
func (q *Queue) RescueDead(ctx context.Context, now time.Time) (int, error) {
	jobs, err := q.jobs.running(ctx)
	if err != nil {
		return 0, fmt.Errorf("riverqueue: rescue: list running jobs: %w", err)
	}
	cutoff := now.Add(-q.cfg.HeartbeatTimeout).UnixMilli()
	rescued := 0
	var errs []error
	for _, j := range jobs {
		last := j.AttemptedMS
		if j.SubmissionID != "" {
			attempt, at, err := q.hb.LastHeartbeat(ctx, j.SubmissionID, j.BenchmarkID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if attempt == j.Attempt && at.UnixMilli() > last {
				last = at.UnixMilli()
			}
		}
		if last >= cutoff {
			continue
		}
		ae, err := json.Marshal(rivertype.AttemptError{At: now.UTC(), Attempt: j.Attempt,
			Error: fmt.Sprintf(rescueMessage, time.Duration(now.UnixMilli()-last)*time.Millisecond)})
		if err != nil {
			return rescued, err
		}
		ok, err := q.jobs.rescue(ctx, j.ID, j.Attempt, ae, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %d: %w", j.ID, err))
			continue
		}
		if ok {
			rescued++
		}
	}
	if len(errs) > 0 {
		return rescued, fmt.Errorf("riverqueue: rescue: %w", errors.Join(errs...))
	}
	return rescued, nil
}
