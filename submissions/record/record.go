// Package record holds the plain records of the submissions domain: user
// accounts and their roles, submissions and the state of their jobs.
//
// It imports the standard library only, so the registry database adapter
// (storage/registry) stores these records without linking the service
// (which validates ONNX models and knows the scoring runner's errors).
// Package submissions re-exports them.
package record

import "time"

// Role is what a user may do.
type Role string

// The roles: a submitter submits models and manages their own; a
// maintainer also adds benchmarks and may change or withdraw any model.
const (
	RoleSubmitter  Role = "submitter"
	RoleMaintainer Role = "maintainer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleSubmitter || r == RoleMaintainer }

// User is an account. A disabled user's tokens authenticate nobody until
// the user is enabled again.
type User struct {
	Name      string
	Role      Role
	Disabled  bool
	CreatedAt time.Time
}

// Token is an API token as listed: never its secret nor the secret's hash.
// ExpiresAt is always set (every token expires); RevokedAt and LastUsedAt
// are zero when the token was never revoked or never used.
type Token struct {
	ID         string // public identifier, for listing and revoking
	User       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Revoked reports whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Expired reports whether the token has expired at now (a zero ExpiresAt
// counts as expired: no token lives for ever).
func (t Token) Expired(now time.Time) bool { return t.ExpiresAt.IsZero() || !now.Before(t.ExpiresAt) }

// JobState is where one (model × benchmark) job of a submission stands.
type JobState string

// The job states. A job moves queued → running → done, or to failed; a
// retried job goes back to running. A queued or running job is cancelled
// when its submission is cancelled or its model withdrawn (issue 17): it
// never runs again, and its Message says why.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Submission is one uploaded model and the jobs that score it.
type Submission struct {
	ID        string
	Owner     string
	ModelHash string
	ModelName string
	// EstSeconds and EstBytes are the estimate of the whole submission's
	// scoring time and peak memory made when it was accepted.
	EstSeconds float64
	EstBytes   int64
	CreatedAt  time.Time
	Jobs       []SubmissionJob // by Position
	// Warnings are said once, in the answer to the submission, and not
	// stored: the default preprocessing used, implausible spec values
	// (issue 17).
	Warnings []string
}

// SubmissionJob is one (model × benchmark) job of a submission.
type SubmissionJob struct {
	Position         int // 1-based: benchmark k of n
	BenchmarkID      string
	BenchmarkVersion string
	State            JobState
	Stage            string // while running: validating, extracting, scoring
	FailureClass     string // when failed: bad model, out of memory, internal, timeout
	Message          string // when failed: what the submitter can do
	Attempt          int
	// Lost counts attempts whose worker vanished without a word (killed,
	// most likely by the kernel for using too much memory).
	Lost      int
	UpdatedAt time.Time
}

// Day is the UTC calendar day of t, as daily quotas count it.
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }
