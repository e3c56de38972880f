// Package submissions turns an uploaded ONNX model into scores: it
// authenticates users by API token, validates the file before anything is
// stored, enforces the limits (file size, submissions per user per day,
// metadata lengths), records the submission, and splits it into bounded
// jobs (one model × one benchmark) for a job queue whose workers call a
// Scorer. It reports where a submission stands (queued, validating,
// extracting, scoring benchmark k of n, done, or failed with a class and a
// message the submitter can act on) and an estimate of time and memory
// made before scoring starts (see Estimate).
//
// The package knows no HTTP and no job engine: the gin adapter lives in
// submissions/httpapi, the River adapter in submissions/riverqueue, the
// JSON wire format and its client in submissions/wire (standard library
// only), the runner-backed Scorer in submissions/jobscorer. Its records
// (users, submissions, jobs) are in submissions/record, which the registry
// database stores; the service reads and writes them through the small
// interfaces in store.go.
package submissions
