package submissions

import (
	"context"
	"database/sql"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions/record"
)

// The domain's records (package record, standard library only, which the
// registry database stores).
type (
	// Role is what a user may do.
	Role = record.Role
	// User is an account.
	User = record.User
	// Token is an API token as listed (never its secret nor its hash).
	Token = record.Token
	// JobState is where one (model × benchmark) job of a submission stands.
	JobState = record.JobState
	// Submission is one uploaded model and the jobs that score it.
	Submission = record.Submission
	// SubmissionJob is one (model × benchmark) job of a submission.
	SubmissionJob = record.SubmissionJob
)

// The roles and the job states.
const (
	RoleSubmitter  = record.RoleSubmitter
	RoleMaintainer = record.RoleMaintainer

	JobQueued  = record.JobQueued
	JobRunning = record.JobRunning
	JobDone    = record.JobDone
	JobFailed  = record.JobFailed
	// JobCancelled is a job whose submission was cancelled or whose model
	// was withdrawn (issue 17).
	JobCancelled = record.JobCancelled
)

// The service reads and writes its records through the small interfaces
// below; storage/registry implements every one. Not found is an error
// satisfying registry.IsNotFound.

// Users keeps accounts; a taken name is registry.ErrExists.
type Users interface {
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	SetUserDisabled(ctx context.Context, name string, disabled bool) error
	SetUserRole(ctx context.Context, name string, role Role) error
}

// Tokens keeps API tokens by the sha256 of their secret.
type Tokens interface {
	AddToken(ctx context.Context, t Token, tokenHash string) (Token, error)
	TokenByHash(ctx context.Context, tokenHash string) (Token, error)
	ListTokens(ctx context.Context, user string) ([]Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) (Token, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Submissions keeps submissions with their jobs; creating one over the
// owner's daily limit is registry.ErrLimit.
type Submissions interface {
	// CreateSubmissionWith runs within (when not nil) inside the
	// transaction that writes the rows (see registry.CreateSubmissionWith).
	CreateSubmissionWith(ctx context.Context, s Submission, m registry.Model, dailyLimit int, within func(ctx context.Context, tx *sql.Tx) error) error
	GetSubmission(ctx context.Context, id string) (Submission, error)
	ListSubmissions(ctx context.Context, owner string, limit int) ([]Submission, error)
}

// Quota counts an owner's submissions on a day (record.Day).
type Quota interface {
	CountSubmissions(ctx context.Context, owner, day string) (int, error)
}

// Targets lists the benchmarks a submission is scored on.
type Targets interface {
	ListBenchmarks(ctx context.Context, f registry.BenchmarkFilter) ([]registry.Benchmark, error)
}

// ModelRecords reads, changes and withdraws models' records; a
// submission of an existing entry reads its scores and pending jobs.
type ModelRecords interface {
	GetModel(ctx context.Context, hash string) (registry.Model, error)
	ListScores(ctx context.Context, f registry.ScoreFilter) ([]scoring.Score, error)
	PendingJobs(ctx context.Context, modelHash string) ([]SubmissionJob, error)
	PutModel(ctx context.Context, m registry.Model) error
	WithdrawModel(ctx context.Context, hash, by, reason string) error
	GetWithdrawal(ctx context.Context, hash string) (registry.Withdrawal, error)
	// ResolveModelID returns the full id of the entry whose id starts
	// with a prefix of at least registry.MinIDPrefix hex digits.
	ResolveModelID(ctx context.Context, prefix string) (string, error)
}

// Cancels cancels open jobs: a submission's (cancel), or every
// submission's of a model (withdraw).
type Cancels interface {
	CancelJobs(ctx context.Context, submissionID, message string) (int, error)
	CancelModelJobs(ctx context.Context, modelHash, message string) (subs []string, n int, err error)
}

// Attempts records the attempts of a job and their progress.
type Attempts interface {
	// StartAttempt marks the job running on attempt (alive now), with
	// lost, how many earlier attempts the job engine rescued.
	StartAttempt(ctx context.Context, submissionID, benchmarkID string, attempt, lost int) error
	SetJobProgress(ctx context.Context, submissionID, benchmarkID, stage string, attempt int) error
	// JobCancelled reports whether the job was cancelled (its submission
	// cancelled or its model withdrawn): its worker stops.
	JobCancelled(ctx context.Context, submissionID, benchmarkID string) (bool, error)
}

// JobOutcomes records a job that failed for good, or will be retried.
type JobOutcomes interface {
	FailJob(ctx context.Context, submissionID, benchmarkID, class, message string) error
	RequeueJob(ctx context.Context, submissionID, benchmarkID, note string) error
}

// JobLog is what the Executor records about the jobs it runs.
type JobLog interface {
	Attempts
	JobOutcomes
}

// Registry is every record the service keeps, as one value (the registry
// database): each method of the service uses only the small interface it
// needs.
type Registry interface {
	Users
	Tokens
	Submissions
	Quota
	Targets
	ModelRecords
	JobOutcomes
	Cancels
}
