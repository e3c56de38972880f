package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/submissions/record"
)

// The submission records are the submissions domain's (package
// submissions/record, standard library only); the registry stores them.
type (
	// JobState is where one (model × benchmark) job of a submission stands.
	JobState = record.JobState
	// Submission is one uploaded model and the jobs that score it.
	Submission = record.Submission
	// SubmissionJob is one (model × benchmark) job of a submission.
	SubmissionJob = record.SubmissionJob
)

// The job states.
const (
	JobQueued  = record.JobQueued
	JobRunning = record.JobRunning
	JobDone    = record.JobDone
	JobFailed  = record.JobFailed
	// JobCancelled is a job whose submission was cancelled or whose model
	// was withdrawn (issue 17).
	JobCancelled = record.JobCancelled
)

type submissionRow struct {
	ID         string `gorm:"primaryKey;size:64"`
	Owner      string `gorm:"not null;index"`
	ModelHash  string `gorm:"not null;size:64;index"`
	ModelName  string `gorm:"not null;default:''"`
	EstSeconds float64
	EstBytes   int64
	CreatedAt  time.Time `gorm:"index"`
}

func (submissionRow) TableName() string { return "submissions" }

type submissionJobRow struct {
	SubmissionID     string `gorm:"primaryKey;size:64"`
	BenchmarkID      string `gorm:"primaryKey"`
	Position         int    `gorm:"not null"`
	BenchmarkVersion string `gorm:"not null"`
	State            string `gorm:"not null"`
	Stage            string `gorm:"not null;default:''"`
	FailureClass     string `gorm:"not null;default:''"`
	Message          string `gorm:"type:text"`
	Attempt          int    `gorm:"not null;default:0"`
	Lost             int    `gorm:"not null;default:0"` // attempts the job engine rescued (their worker vanished)
	// HeartbeatMS is when the running attempt last showed it is alive
	// (Unix milliseconds of the worker's clock; 0 before any).
	HeartbeatMS int64 `gorm:"column:heartbeat_ms;not null;default:0"`
	UpdatedAt   time.Time
}

func (submissionJobRow) TableName() string { return "submission_jobs" }

// submissionCountRow counts a user's accepted submissions per UTC day; the
// upsert that bumps it is what makes the daily limit hold under concurrent
// requests.
type submissionCountRow struct {
	Owner string `gorm:"primaryKey;size:64"`
	Day   string `gorm:"primaryKey;size:10"` // 2006-01-02, UTC
	N     int    `gorm:"not null"`
}

func (submissionCountRow) TableName() string { return "submission_counts" }

type withdrawalRow struct {
	ModelHash string `gorm:"primaryKey;size:64"`
	By        string `gorm:"not null"`
	Reason    string `gorm:"type:text"`
	CreatedAt time.Time
}

func (withdrawalRow) TableName() string { return "model_withdrawals" }

// Day is the UTC calendar day of t, the key of the daily submission count.
func Day(t time.Time) string { return record.Day(t) }

// CountSubmissions returns how many submissions owner made on day (see Day).
func (r *Registry) CountSubmissions(ctx context.Context, owner, day string) (int, error) {
	var row submissionCountRow
	err := r.db.WithContext(ctx).Where("owner = ? AND day = ?", owner, day).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("registry: count submissions of %s: %w", owner, err)
	}
	return row.N, nil
}

// CreateSubmission records an accepted submission in one transaction: it
// counts it against the owner's daily limit (ErrLimit when over; 0 means no
// limit), creates the model unless a model with that hash exists (whose
// owner and metadata are then kept), and stores the submission with its
// jobs, all queued.
func (r *Registry) CreateSubmission(ctx context.Context, s Submission, m Model, dailyLimit int) error {
	return r.CreateSubmissionWith(ctx, s, m, dailyLimit, nil)
}

// CreateSubmissionWith is CreateSubmission that also runs within, when not
// nil, inside the same database transaction, after the rows are written:
// the job queue inserts the submission's jobs through tx (River on the
// registry's database), so the rows and their jobs commit together or not
// at all (issue 15, finding 1). An error from within rolls everything back.
func (r *Registry) CreateSubmissionWith(ctx context.Context, s Submission, m Model, dailyLimit int, within func(ctx context.Context, tx *sql.Tx) error) error {
	if s.ID == "" || s.Owner == "" || s.ModelHash != m.Hash {
		return fmt.Errorf("registry: create submission: %w", invalid("id %q, owner %q and model hash %q (model %q) must be set and agree", s.ID, s.Owner, s.ModelHash, m.Hash))
	}
	if err := checkModelHash(m.Hash); err != nil {
		return fmt.Errorf("registry: create submission %s: %w", s.ID, err)
	}
	if err := checkFileHash(m.File); err != nil {
		return fmt.Errorf("registry: create submission %s: %w", s.ID, err)
	}
	if err := checkJSON("preprocessing spec", m.Preprocessing); err != nil {
		return fmt.Errorf("registry: create submission %s: %w", s.ID, err)
	}
	now := time.Now().UTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		count := submissionCountRow{Owner: s.Owner, Day: Day(s.CreatedAt), N: 1}
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "owner"}, {Name: "day"}},
			DoUpdates: clause.Assignments(map[string]any{"n": gorm.Expr("submission_counts.n + 1")}),
		}).Create(&count).Error
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if err := tx.Where("owner = ? AND day = ?", count.Owner, count.Day).Take(&count).Error; err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if dailyLimit > 0 && count.N > dailyLimit {
			return fmt.Errorf("%w: %d submissions per day", ErrLimit, dailyLimit)
		}
		row := modelToRow(m)
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return fmt.Errorf("model: %w", err)
		}
		if err := tx.Create(&submissionRow{ID: s.ID, Owner: s.Owner, ModelHash: s.ModelHash, ModelName: s.ModelName,
			EstSeconds: s.EstSeconds, EstBytes: s.EstBytes, CreatedAt: s.CreatedAt.UTC()}).Error; err != nil {
			return err
		}
		for i, j := range s.Jobs {
			jr := submissionJobRow{SubmissionID: s.ID, BenchmarkID: j.BenchmarkID, Position: i + 1,
				BenchmarkVersion: j.BenchmarkVersion, State: string(JobQueued), UpdatedAt: s.CreatedAt.UTC()}
			if err := tx.Create(&jr).Error; err != nil {
				return fmt.Errorf("job %s: %w", j.BenchmarkID, err)
			}
		}
		if within == nil {
			return nil
		}
		sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
		if !ok {
			return fmt.Errorf("the transaction is a %T, not a *sql.Tx: jobs cannot be queued in it", tx.Statement.ConnPool)
		}
		return within(ctx, sqlTx)
	})
	if err != nil {
		return fmt.Errorf("registry: create submission %s: %w", s.ID, err)
	}
	return nil
}

// PendingJobs returns the queued and running jobs of every submission of
// the model with the given hash (whoever submitted it).
func (r *Registry) PendingJobs(ctx context.Context, modelHash string) ([]SubmissionJob, error) {
	var jobs []submissionJobRow
	err := r.db.WithContext(ctx).
		Where("state IN ? AND submission_id IN (?)", []string{string(JobQueued), string(JobRunning)},
			r.db.Model(&submissionRow{}).Select("id").Where("model_hash = ?", modelHash)).
		Order("submission_id, position").Find(&jobs).Error
	if err != nil {
		return nil, fmt.Errorf("registry: pending jobs of model %s: %w", modelHash, err)
	}
	out := make([]SubmissionJob, len(jobs))
	for i, j := range jobs {
		out[i] = SubmissionJob{Position: j.Position, BenchmarkID: j.BenchmarkID, BenchmarkVersion: j.BenchmarkVersion,
			State: JobState(j.State), Stage: j.Stage, Attempt: j.Attempt, UpdatedAt: j.UpdatedAt.UTC()}
	}
	return out, nil
}

// GetSubmission returns a submission with its jobs.
func (r *Registry) GetSubmission(ctx context.Context, id string) (Submission, error) {
	var row submissionRow
	if err := r.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Submission{}, fmt.Errorf("registry: get submission %s: %w", id, notFound(err))
	}
	subs, err := r.withJobs(ctx, []submissionRow{row})
	if err != nil {
		return Submission{}, err
	}
	return subs[0], nil
}

// ListSubmissions returns owner's submissions, newest first (every
// submission when owner is empty), at most limit (all when 0).
func (r *Registry) ListSubmissions(ctx context.Context, owner string, limit int) ([]Submission, error) {
	q := r.db.WithContext(ctx).Order("created_at DESC, id")
	if owner != "" {
		q = q.Where("owner = ?", owner)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []submissionRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("registry: list submissions: %w", err)
	}
	return r.withJobs(ctx, rows)
}

func (r *Registry) withJobs(ctx context.Context, rows []submissionRow) ([]Submission, error) {
	out := make([]Submission, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	index := map[string]int{}
	for i, row := range rows {
		ids[i] = row.ID
		index[row.ID] = i
		out[i] = Submission{ID: row.ID, Owner: row.Owner, ModelHash: row.ModelHash, ModelName: row.ModelName,
			EstSeconds: row.EstSeconds, EstBytes: row.EstBytes, CreatedAt: row.CreatedAt.UTC()}
	}
	var jobs []submissionJobRow
	if err := r.db.WithContext(ctx).Where("submission_id IN ?", ids).Order("submission_id, position").Find(&jobs).Error; err != nil {
		return nil, fmt.Errorf("registry: list submission jobs: %w", err)
	}
	for _, j := range jobs {
		i := index[j.SubmissionID]
		out[i].Jobs = append(out[i].Jobs, SubmissionJob{Position: j.Position, BenchmarkID: j.BenchmarkID,
			BenchmarkVersion: j.BenchmarkVersion, State: JobState(j.State), Stage: j.Stage, FailureClass: j.FailureClass,
			Message: j.Message, Attempt: j.Attempt, Lost: j.Lost, UpdatedAt: j.UpdatedAt.UTC()})
	}
	return out, nil
}

// closedStates are the states a worker's record of an attempt never
// changes: a job done stays done (a stale retry must not make it look
// undone), a job cancelled stays cancelled (its worker stops).
var closedStates = []string{string(JobDone), string(JobCancelled)}

// StartAttempt records that attempt of a job starts (and is alive now),
// with lost, the number of earlier attempts the job engine rescued because
// their worker vanished. A job already done or cancelled is left alone.
func (r *Registry) StartAttempt(ctx context.Context, submissionID, benchmarkID string, attempt, lost int) error {
	now := time.Now().UTC()
	err := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND benchmark_id = ? AND state NOT IN ?", submissionID, benchmarkID, closedStates).
		Updates(map[string]any{"state": string(JobRunning), "stage": "", "attempt": attempt, "lost": lost, "message": "",
			"heartbeat_ms": now.UnixMilli(), "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("registry: start attempt %d of job %s/%s: %w", attempt, submissionID, benchmarkID, err)
	}
	return nil
}

// Heartbeat records that attempt of a running job is alive at now. It
// reports false when the job no longer runs that attempt (it finished, or
// was rescued and another attempt started): its worker should stop.
func (r *Registry) Heartbeat(ctx context.Context, submissionID, benchmarkID string, attempt int, now time.Time) (bool, error) {
	res := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND benchmark_id = ? AND attempt = ? AND state = ?", submissionID, benchmarkID, attempt, string(JobRunning)).
		Update("heartbeat_ms", now.UnixMilli())
	if res.Error != nil {
		return false, fmt.Errorf("registry: heartbeat of job %s/%s: %w", submissionID, benchmarkID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// LastHeartbeat returns the attempt a job last started and when that
// attempt last showed it was alive (zero time before any heartbeat).
func (r *Registry) LastHeartbeat(ctx context.Context, submissionID, benchmarkID string) (attempt int, at time.Time, err error) {
	var row submissionJobRow
	err = r.db.WithContext(ctx).Select("attempt", "heartbeat_ms").
		Where("submission_id = ? AND benchmark_id = ?", submissionID, benchmarkID).Take(&row).Error
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("registry: heartbeat of job %s/%s: %w", submissionID, benchmarkID, notFound(err))
	}
	if row.HeartbeatMS > 0 {
		at = time.UnixMilli(row.HeartbeatMS).UTC()
	}
	return row.Attempt, at, nil
}

// OpenJob is a job of a submission that is neither done nor failed, with
// what it takes to queue it again.
type OpenJob struct {
	SubmissionID     string
	Owner            string
	ModelHash        string // the entry's ID
	FileHash         string // sha256 of its ONNX file ("" when the model row is missing)
	BenchmarkID      string
	BenchmarkVersion string
	State            JobState
	CreatedAt        time.Time // the submission's
}

// OpenJobs returns every queued or running job of every submission,
// oldest submission first.
func (r *Registry) OpenJobs(ctx context.Context) ([]OpenJob, error) {
	var rows []struct {
		SubmissionID, Owner, ModelHash, File, BenchmarkID, BenchmarkVersion, State string
		CreatedAt                                                                  time.Time
	}
	err := r.db.WithContext(ctx).Table("submission_jobs AS sj").
		Select("sj.submission_id, s.owner, s.model_hash, COALESCE(m.file, '') AS file, sj.benchmark_id, sj.benchmark_version, sj.state, s.created_at").
		Joins("JOIN submissions AS s ON s.id = sj.submission_id").
		Joins("LEFT JOIN models AS m ON m.hash = s.model_hash").
		Where("sj.state IN ?", []string{string(JobQueued), string(JobRunning)}).
		Order("s.created_at, sj.submission_id, sj.position").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("registry: open jobs: %w", err)
	}
	out := make([]OpenJob, len(rows))
	for i, row := range rows {
		out[i] = OpenJob{SubmissionID: row.SubmissionID, Owner: row.Owner, ModelHash: row.ModelHash, FileHash: row.File,
			BenchmarkID: row.BenchmarkID, BenchmarkVersion: row.BenchmarkVersion, State: JobState(row.State), CreatedAt: row.CreatedAt.UTC()}
	}
	return out, nil
}

// FailOpenJobs fails every queued or running job of a submission with
// class and message, in one transaction; with refund, and when it failed
// any, the submission no longer counts against its owner's daily limit
// (it failed for the platform's reason, not the submitter's). It returns
// how many jobs it failed: 0 when another process did it first.
func (r *Registry) FailOpenJobs(ctx context.Context, submissionID, class, message string, refund bool) (int, error) {
	var n int64
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&submissionJobRow{}).
			Where("submission_id = ? AND state IN ?", submissionID, []string{string(JobQueued), string(JobRunning)}).
			Updates(map[string]any{"state": string(JobFailed), "failure_class": class, "message": message, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return res.Error
		}
		if n = res.RowsAffected; n == 0 || !refund {
			return nil
		}
		var sub submissionRow
		if err := tx.Where("id = ?", submissionID).Take(&sub).Error; err != nil {
			return notFound(err)
		}
		return tx.Model(&submissionCountRow{}).Where("owner = ? AND day = ? AND n > 0", sub.Owner, Day(sub.CreatedAt)).
			Update("n", gorm.Expr("n - 1")).Error
	})
	if err != nil {
		return 0, fmt.Errorf("registry: fail open jobs of submission %s: %w", submissionID, err)
	}
	return int(n), nil
}

// SetJobProgress records that a job is running at stage on attempt. A job
// already done is left alone (a stale retry must not make it look undone).
func (r *Registry) SetJobProgress(ctx context.Context, submissionID, benchmarkID, stage string, attempt int) error {
	err := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND benchmark_id = ? AND state NOT IN ?", submissionID, benchmarkID, closedStates).
		Updates(map[string]any{"state": string(JobRunning), "stage": stage, "attempt": attempt, "message": "", "updated_at": time.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("registry: progress of job %s/%s: %w", submissionID, benchmarkID, err)
	}
	return nil
}

// FailJob records that a job failed for good, with the failure's class and
// a message for the submitter. A job already done is left alone.
func (r *Registry) FailJob(ctx context.Context, submissionID, benchmarkID, class, message string) error {
	err := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND benchmark_id = ? AND state NOT IN ?", submissionID, benchmarkID, closedStates).
		Updates(map[string]any{"state": string(JobFailed), "failure_class": class, "message": message, "updated_at": time.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("registry: fail job %s/%s: %w", submissionID, benchmarkID, err)
	}
	return nil
}

// RequeueJob records that a job waits for a retry, with a note for the
// submitter. A job already done is left alone.
func (r *Registry) RequeueJob(ctx context.Context, submissionID, benchmarkID, note string) error {
	err := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND benchmark_id = ? AND state NOT IN ?", submissionID, benchmarkID, closedStates).
		Updates(map[string]any{"state": string(JobQueued), "stage": "", "message": note, "updated_at": time.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("registry: requeue job %s/%s: %w", submissionID, benchmarkID, err)
	}
	return nil
}

// Execer runs one statement inside a transaction the caller owns (a
// database/sql or pgx transaction, adapted by the caller) and reports the
// rows it affected. The *Tx methods below write through it, so their rows
// commit or roll back with whatever else the caller does in that
// transaction (the job queue's completion of the job).
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
}

// placeholders returns n bind parameters in the dialect's syntax.
func (r *Registry) placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		if r.postgres {
			ps[i] = "$" + strconv.Itoa(i+1)
		} else {
			ps[i] = "?"
		}
	}
	return strings.Join(ps, ", ")
}

// PutScoreTx is PutScore inside the caller's transaction: it inserts s
// unless a score with its key exists, and reports whether it did.
func (r *Registry) PutScoreTx(ctx context.Context, ex Execer, s scoring.Score) (created bool, err error) {
	key := ScoreKey{s.ModelHash, s.BenchmarkVersion, s.ScorerVersion}
	if err := checkScoreKey(key); err != nil {
		return false, fmt.Errorf("registry: put score: %w", err)
	}
	if s.BenchmarkID == "" {
		return false, fmt.Errorf("registry: put score: %w", invalid("benchmark id is empty"))
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now().UTC()
	}
	row, err := scoreToRow(s)
	if err != nil {
		return false, fmt.Errorf("registry: put score %v: %w", key, err)
	}
	// The column names are gorm's for scoreRow (see rows.go).
	cols := []string{"model_hash", "model_name", "benchmark_id", "benchmark_version", "scorer_version",
		"raw", "ceiling", "ceiled", "se", "ci_low", "ci_high", "layer", "selection", "candidates", "layers",
		"seed", "selection_data", "conventions", "elapsed_nanos", "peak_rss_bytes", "created_at"}
	args := []any{row.ModelHash, row.ModelName, row.BenchmarkID, row.BenchmarkVersion, row.ScorerVersion,
		row.Raw, row.Ceiling, row.Ceiled, row.SE, row.CILow, row.CIHigh, row.Layer, row.Selection, row.Candidates, row.Layers,
		row.Seed, row.SelectionData, row.Conventions, row.ElapsedNanos, row.PeakRSSBytes, row.CreatedAt}
	q := "INSERT INTO scores (" + strings.Join(cols, ", ") + ") VALUES (" + r.placeholders(len(cols)) +
		") ON CONFLICT (model_hash, benchmark_version, scorer_version) DO NOTHING"
	n, err := ex.Exec(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("registry: put score %v: %w", key, err)
	}
	return n == 1, nil
}

// FinishJobTx marks a job done inside the caller's transaction.
func (r *Registry) FinishJobTx(ctx context.Context, ex Execer, submissionID, benchmarkID string) error {
	ph := strings.Split(r.placeholders(5), ", ")
	q := fmt.Sprintf("UPDATE submission_jobs SET state = %s, stage = '', failure_class = '', message = '', updated_at = %s WHERE submission_id = %s AND benchmark_id = %s AND state <> %s",
		ph[0], ph[1], ph[2], ph[3], ph[4])
	if _, err := ex.Exec(ctx, q, string(JobDone), time.Now().UTC(), submissionID, benchmarkID, string(JobDone)); err != nil {
		return fmt.Errorf("registry: finish job %s/%s: %w", submissionID, benchmarkID, err)
	}
	return nil
}

// WithdrawModel records that the model is withdrawn (by whom, why); the
// leaderboard leaves withdrawn models out. Withdrawing twice keeps the
// first record.
func (r *Registry) WithdrawModel(ctx context.Context, hash, by, reason string) error {
	if err := checkModelHash(hash); err != nil {
		return fmt.Errorf("registry: withdraw model: %w", err)
	}
	err := r.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&withdrawalRow{ModelHash: hash, By: by, Reason: reason, CreatedAt: time.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("registry: withdraw model %s: %w", hash, err)
	}
	return nil
}

// Withdrawn reports whether the model was withdrawn.
func (r *Registry) Withdrawn(ctx context.Context, hash string) (bool, error) {
	var n int64
	if err := r.db.WithContext(ctx).Model(&withdrawalRow{}).Where("model_hash = ?", hash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("registry: withdrawn %s: %w", hash, err)
	}
	return n > 0, nil
}

// WithdrawnModels returns the hashes of every withdrawn model (for the
// leaderboard to leave out).
func (r *Registry) WithdrawnModels(ctx context.Context) (map[string]bool, error) {
	var hashes []string
	if err := r.db.WithContext(ctx).Model(&withdrawalRow{}).Pluck("model_hash", &hashes).Error; err != nil {
		return nil, fmt.Errorf("registry: withdrawn models: %w", err)
	}
	out := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		out[h] = true
	}
	return out, nil
}

// SQLDB returns the connection pool under the registry. The embedded
// default hands it to the job queue's SQLite driver, so jobs live in the
// same database file and a job's score commits with its completion; on
// SQLite the pool has one connection (see Open).
func (r *Registry) SQLDB() (*sql.DB, error) {
	db, err := r.db.DB()
	if err != nil {
		return nil, fmt.Errorf("registry: connection pool: %w", err)
	}
	return db, nil
}

// CancelJobs cancels every queued or running job of a submission with
// message (what the submitter reads, e.g. "cancelled by ada"), and returns
// how many it cancelled (0 when none was open). A cancelled job never
// runs again: its worker sees it (JobCancelled) and stops, and the
// worker's later records of the attempt leave it cancelled. The daily
// quota is not refunded: the submitter chose to cancel.
func (r *Registry) CancelJobs(ctx context.Context, submissionID, message string) (int, error) {
	res := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND state IN ?", submissionID, []string{string(JobQueued), string(JobRunning)}).
		Updates(map[string]any{"state": string(JobCancelled), "stage": "", "failure_class": "", "message": message, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return 0, fmt.Errorf("registry: cancel jobs of submission %s: %w", submissionID, res.Error)
	}
	return int(res.RowsAffected), nil
}

// CancelModelJobs cancels the queued and running jobs of every submission
// of the model entry (whoever submitted it), with message, in one
// transaction; it returns the submissions that had a job cancelled, oldest
// first, and how many jobs it cancelled.
func (r *Registry) CancelModelJobs(ctx context.Context, modelHash, message string) (subs []string, n int, err error) {
	open := []string{string(JobQueued), string(JobRunning)}
	err = r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Table("submission_jobs AS sj").Distinct("sj.submission_id").
			Joins("JOIN submissions AS s ON s.id = sj.submission_id").
			Where("s.model_hash = ? AND sj.state IN ?", modelHash, open).
			Order("sj.submission_id").Pluck("sj.submission_id", &subs).Error; err != nil {
			return err
		}
		if len(subs) == 0 {
			return nil
		}
		res := tx.Model(&submissionJobRow{}).Where("submission_id IN ? AND state IN ?", subs, open).
			Updates(map[string]any{"state": string(JobCancelled), "stage": "", "failure_class": "", "message": message, "updated_at": time.Now().UTC()})
		n = int(res.RowsAffected)
		return res.Error
	})
	if err != nil {
		return nil, 0, fmt.Errorf("registry: cancel jobs of model %s: %w", modelHash, err)
	}
	return subs, n, nil
}

// JobCancelled reports whether a job was cancelled (its worker stops).
func (r *Registry) JobCancelled(ctx context.Context, submissionID, benchmarkID string) (bool, error) {
	var n int64
	err := r.db.WithContext(ctx).Model(&submissionJobRow{}).
		Where("submission_id = ? AND benchmark_id = ? AND state = ?", submissionID, benchmarkID, string(JobCancelled)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("registry: is job %s/%s cancelled: %w", submissionID, benchmarkID, err)
	}
	return n > 0, nil
}

// Withdrawal is the record of a withdrawn model.
type Withdrawal struct {
	ModelHash string
	By        string // the owner or maintainer who withdrew it
	Reason    string
	At        time.Time
}

// GetWithdrawal returns the withdrawal of a model; ErrNotFound when it was
// not withdrawn.
func (r *Registry) GetWithdrawal(ctx context.Context, hash string) (Withdrawal, error) {
	var row withdrawalRow
	if err := r.db.WithContext(ctx).Where("model_hash = ?", hash).Take(&row).Error; err != nil {
		return Withdrawal{}, fmt.Errorf("registry: withdrawal of %s: %w", hash, notFound(err))
	}
	return Withdrawal{ModelHash: row.ModelHash, By: row.By, Reason: row.Reason, At: row.CreatedAt.UTC()}, nil
}
