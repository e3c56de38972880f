// Package wire is the v1 JSON of the submissions API (/api/v1/submissions,
// the model changes) and a client for it, used by 'cortexbench submit' and
// 'cortexbench status' (with the text they print). It imports the standard
// library only, so the client links neither the registry database nor the
// scoring math. The domain types in package submissions carry no
// tags; these do, and a change here is a change of the public format.
package wire

import "time"

// Error is the body of every error answer.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong; Problems lists every problem found in a
// refused submission.
type ErrorBody struct {
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing wrong with a submission.
type Problem struct {
	Field   string `json:"field"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Accepted is the answer to a submission (202).
type Accepted struct {
	ID        string `json:"id"`
	ModelHash string `json:"model_hash"`
	StatusURL string `json:"status_url"`
	Status    Status `json:"status"`
	// Warnings: the default preprocessing used when none was given,
	// implausible spec values (issue 17); [] when none.
	Warnings []string `json:"warnings"`
}

// Estimate is the predicted cost, made before scoring starts.
type Estimate struct {
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	Formula string  `json:"formula"`
}

// Job is one benchmark of a submission.
type Job struct {
	Position     int       `json:"position"`
	BenchmarkID  string    `json:"benchmark_id"`
	State        string    `json:"state"`
	Stage        string    `json:"stage,omitempty"`
	FailureClass string    `json:"failure_class,omitempty"`
	Message      string    `json:"message,omitempty"`
	Attempt      int       `json:"attempt"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Status is where a submission stands.
type Status struct {
	ID           string    `json:"id"`
	Owner        string    `json:"owner"`
	ModelHash    string    `json:"model_hash"`
	ModelName    string    `json:"model_name"`
	State        string    `json:"state"`
	Benchmark    int       `json:"benchmark"`
	Benchmarks   int       `json:"benchmarks"`
	Done         int       `json:"done"`
	Current      string    `json:"current,omitempty"`
	FailureClass string    `json:"failure_class,omitempty"`
	Message      string    `json:"message,omitempty"`
	Estimate     Estimate  `json:"estimate"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Jobs         []Job     `json:"jobs"`
}

// StatusList is the answer to GET /api/v1/submissions?mine.
type StatusList struct {
	Submissions []Status `json:"submissions"`
}

// EstimateFormula names the formula of submissions.EstimateCost.
const EstimateFormula = "seconds = Σ_b [5 + (n_b·2·P·max(1,H·W/512) + Σ_l (2·n_b·q_l·d_l + 2·n_b²·d_l)) / 1e10]; " +
	"bytes = max_b [12·P + 32·Σ_l q_l + 4·n_b·Σ_l d_l + 16·n_b²]; P parameters, H×W input, n_b stimuli, q_l layer size, d_l = min(q_l, 1000); " +
	"on a server that has calibrated its machine (cortexbench bench --calibrate) the seconds are instead Σ_b learned_b·(n_b·F/forward rate + layer math/GEMM rate + " +
	"(K·S_b·L + B·K·S_b)·(n_b/2)²/2·rank time + model load), F = 2·P·max(1,H·W/512), rates measured on the machine, learned_b the median actual/predicted of finished jobs on b"

// Model is a model's metadata as changed by PATCH /api/v1/models/{hash}.
type Model struct {
	Hash         string `json:"hash"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Family       string `json:"family"`
	TrainingData string `json:"training_data"`
	Owner        string `json:"owner"`
	// What the submitter says about the model (issue 17); omitted when "".
	Paper       string `json:"paper,omitempty"`
	Description string `json:"description,omitempty"`
	License     string `json:"license,omitempty"`
	BibTeX      string `json:"bibtex,omitempty"`
}

// ModelChange is the body of PATCH /api/v1/models/{hash}; absent fields
// stay as they are.
type ModelChange struct {
	Name         *string `json:"name"`
	Version      *string `json:"version"`
	Family       *string `json:"family"`
	TrainingData *string `json:"training_data"`
	// Issue 17: a paper's https URL, a description (≤ 2000 characters), a
	// licence (SPDX id or free text ≤ 100) and a BibTeX entry (≤ 10 KB);
	// "" clears one.
	Paper       *string `json:"paper"`
	Description *string `json:"description"`
	License     *string `json:"license"`
	BibTeX      *string `json:"bibtex"`
}

// Withdrawal is the optional body of a withdrawal.
type Withdrawal struct {
	Reason string `json:"reason"`
}

// Withdrawn is the answer to a withdrawal: the model's full id and name,
// the withdrawal's record (the first one when it was withdrawn before),
// and the submissions whose queued or running jobs were cancelled.
type Withdrawn struct {
	Hash          string    `json:"hash"`
	Name          string    `json:"name"`
	Withdrawn     bool      `json:"withdrawn"`
	By            string    `json:"by"`
	Reason        string    `json:"reason"`
	At            time.Time `json:"withdrawn_at"`
	Submissions   []string  `json:"cancelled_submissions"`
	CancelledJobs int       `json:"cancelled_jobs"`
}
