// Package leaderboard ranks models by their ceiled scores over benchmarks.
//
// It is the domain core of the public leaderboard: the records it reads
// (ModelInfo, BenchmarkInfo, scoring.Score), the small interfaces it reads
// them through (Source, RDMSource, and Comparer for model comparisons),
// the ranking rule (Rank) and the application error type. It knows nothing
// of HTTP or storage: the JSON/CSV wire format lives in leaderboard/wire,
// the HTTP API and web page in leaderboard/httpapi, published snapshots in
// leaderboard/snapshot.
//
// # The ranking rule
//
// A model's average is computed over the benchmarks left by the filter:
//
//  1. each benchmark contributes its ceiled score (Raw/Ceiling, unclipped);
//  2. the benchmarks are grouped by parent (the brain region or behaviour
//     they measure, BenchmarkInfo.Parent, falling back to Region) and each
//     parent's mean is taken;
//  3. the average is the mean of the parent means.
//
// Grouping first keeps a region with many datasets (say five IT benchmarks)
// from outweighing a region with one (V1), which is how Brain-Score
// aggregates. Only benchmarks with a noise ceiling enter the average (see
// UnceiledRule).
//
// # Coverage
//
// A missing score (none for the benchmark's current version, or one
// without a ceiling) is never counted as 0: a model's parent means and
// average are over the benchmarks it has, and its row says how many
// (Coverage, "k/N"). Counting missing scores as 0 let a tiny network scored
// everywhere outrank real networks scored on 2 of 9 benchmarks by their
// zeros (issue 17). Averages over different benchmarks are not comparable,
// so the rows come in two blocks: first the complete rows (a score on
// every ceiled benchmark of the filter), ranked among themselves; then the
// partial rows, ranked among themselves by their own averages, their ranks
// following on from the complete block's. Filter.Coverage "common" instead
// keeps only the ceiled benchmarks every listed model (in the family
// filter, with a score on a selected benchmark) is scored on, so that every
// row is complete and every average comparable; the benchmarks it leaves
// out are listed (Leaderboard.Excluded). Averages equal after rounding to
// ScoreResolution share a rank, and the next rank skips (1, 2, 2, 4).
// Models with no score at all among the filtered benchmarks are left out.
//
// # Intervals
//
// Each benchmark's ceiled score has a standard error (Cell.CeiledSE, from
// the score's bootstrap over stimuli). The parent means and the average
// are linear in the ceiled scores, so the seeded parametric bootstrap
// that draws each benchmark's ceiled score from Normal(Ceiled, CeiledSE)
// independently and recomputes the means has a closed form, which Rank
// uses: a parent mean over n scored benchmarks has SE = sqrt(Σ SE_b²) / n,
// the average over G parents SE = sqrt(Σ SE_parent²) / G, and the 95%
// interval is the estimate ± 1.96 SE (the percentile interval of those
// draws as their number grows). It is exact, deterministic and costs a
// few operations per cell. Benchmarks are taken as independent (their
// stimuli and subjects differ). An asymmetric per-benchmark interval
// (the squared-clipped transform) enters through its SE only.
//
// # Neighbours
//
// Each row says whether its average differs reliably from the next row's
// (Row.Next): Differs when the 95% interval of the difference, with SE =
// sqrt(SE_a² + SE_b²), excludes 0; Overlaps when it does not (the two
// rows' order is not reliable); Unseparated for the last row and when the
// next row is averaged over other benchmarks. The two models' errors are
// taken as independent: their scores on one benchmark share its stimuli
// and so are usually positively correlated, which makes this conservative
// (it says Overlaps more often than a paired test would). No correction is
// made for the many neighbouring pairs; for a paired test of two models
// per benchmark, with q-values, compare them.
package leaderboard

import (
	"context"

	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/scoring"
)

// The rule texts served with every leaderboard so the aggregation is visible.
const (
	AggregationRule = "average = mean over parent regions of (mean ceiled score over that region's benchmarks); ceiled = raw / ceiling, unclipped"
	MissingRule     = "a missing score (none for the benchmark's current version, or no ceiling) is not counted: means are over the benchmarks a model has, coverage k/N is shown, and partial rows are ranked after every complete row, among themselves; coverage=common keeps only the benchmarks every listed model has"
	IntervalRule    = "95% interval = estimate ± 1.96 SE, where a mean over n scored benchmarks has SE = sqrt(sum of their ceiled SE²)/n (the closed form of a parametric bootstrap drawing each ceiled score from Normal(ceiled, ceiled SE)); neighbours differ reliably when |difference| > 1.96·sqrt(SE_a² + SE_b²)"
	TieRule         = "averages equal after rounding to 1e-6 share a rank; the next rank skips (1, 2, 2, 4)"
	UnceiledRule    = "a benchmark without a noise ceiling (a group RDM, or a public partner used only to choose layers) is listed but does not enter the average: its ceiled score is undefined"
	PrivateRule     = "private benchmarks count in the average; only their counts and ceiling are published, never their data or RDMs"
)

// ScoreResolution is the precision at which averages are compared for ties.
const ScoreResolution = 1e-6

// ModelInfo describes a scored network, as the leaderboard shows it.
type ModelInfo struct {
	Hash         string // the model entry's ID (models.EntryID of the ONNX file's sha256 and its preprocessing spec), lowercase hex
	Name         string
	Family       string // e.g. "resnet", "vit"
	Version      string
	TrainingData string // e.g. "ImageNet-1k"
	Params       int64  // number of parameters; 0 when unknown
	// File is the sha256 of the ONNX file and Preprocessing the entry's
	// canonical spec text: two entries of one file differ in Preprocessing.
	// Both "" when unknown.
	File, Preprocessing string
	// What the submitter says about the model (issue 17): a paper's
	// https URL, a description, a licence, a BibTeX entry; "" when not given.
	Paper, Description, License, BibTeX string
}

// BenchmarkInfo describes a benchmark, as the leaderboard shows it.
type BenchmarkInfo struct {
	ID            string // e.g. "algonauts2019-92.IT"
	Version       string // content hash of the benchmark's data and settings
	Parent        string // the group it is averaged in, e.g. "IT"; Region when empty
	Region        string
	Species       string // e.g. "human", "macaque"
	Method        string // e.g. "fmri", "meg", "ephys"
	Private       bool   // data withheld: only counts and ceiling are published
	Ceiling       float64
	StimulusCount int
	Citation      string
	// The benchmark's scoring conventions (issue 16), for people: which
	// ceiling Ceiling is ("upper", "lower", "leave-one-subject-out",
	// "halves", "split-half"; "" when there is none), how ceiled scores
	// are formed ("ratio", "squared-clipped"), the model RDM's feature
	// handling ("" as extracted, "zscore", "zscore-reliable") and how
	// the reported layer is chosen (one line).
	CeilingKind, Transform, Features, Selection string
}

// Group is the name the benchmark is averaged under.
func (b BenchmarkInfo) Group() string {
	if b.Parent != "" {
		return b.Parent
	}
	if b.Region != "" {
		return b.Region
	}
	return b.ID
}

// Source is what the leaderboard reads: every model, benchmark and score.
// stores.Board (leaderboard/stores) implements it over the registry
// database and the benchmark registry; MemSource is the in-memory one.
type Source interface {
	Scores(ctx context.Context) ([]scoring.Score, error)
	Models(ctx context.Context) ([]ModelInfo, error)
	Benchmarks(ctx context.Context) ([]BenchmarkInfo, error)
}

// ScoresVersioner is implemented by a Source that can tell cheaply
// whether its scores may have changed: ScoresVersion returns a token that
// changes whenever Scores would return something else ("" when it cannot
// tell). The leaderboard's periodic refresh then reloads the scores only
// when the token moves; models and benchmarks, which are small, are read
// every time and compared (issue 15, finding 7).
type ScoresVersioner interface {
	ScoresVersion(ctx context.Context) (string, error)
}

// RDMSource gives the representational dissimilarity matrices shown as heat
// maps: n stimuli and the upper triangle without diagonal, row by row
// (length n(n-1)/2).
//
// BrainRDM must refuse a private benchmark with an error whose code is
// EFORBIDDEN (see ErrPrivate); callers check BenchmarkInfo.Private first as
// well, so the refusal is a second line of defence.
type RDMSource interface {
	ModelRDM(ctx context.Context, modelHash, benchmarkID string) (n int, upper []float64, err error)
	BrainRDM(ctx context.Context, benchmarkID string) (n int, upper []float64, err error)
}

// The application error codes, the error type and the HTTP status table
// are the platform's one vocabulary, package apierr; they are re-exported
// here for the leaderboard's callers.
type (
	// Code classifies an error for the client.
	Code = apierr.Code
	// Error is the application error: a code and a message safe to show users.
	Error = apierr.Error
)

// Application error codes (see apierr).
const (
	EINVALID     = apierr.EINVALID     // bad input from the caller
	ENOTFOUND    = apierr.ENOTFOUND    // no such model, benchmark or RDM
	EFORBIDDEN   = apierr.EFORBIDDEN   // exists but is private
	EUNSUPPORTED = apierr.EUNSUPPORTED // the operation does not apply to the resource
	EINTERNAL    = apierr.EINTERNAL    // anything else; details never reach a client
)

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return apierr.Errorf(code, format, args...)
}

// ErrPrivate is the refusal to hand out a private benchmark's data.
var ErrPrivate = &Error{Code: EFORBIDDEN, Message: "the benchmark is private: its data and RDMs are never published"}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for
// any other error, "" for nil.
func ErrorCode(err error) Code { return apierr.CodeOf(err) }

// ErrorMessage returns the user-safe message of err: the *Error's message,
// or "internal error" for anything else and for EINTERNAL.
func ErrorMessage(err error) string { return apierr.MessageOf(err) }
