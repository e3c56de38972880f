package leaderboard

import "context"

// FDRLevel is the false discovery rate at which a difference between two
// models is called significant: q < FDRLevel, with q the
// Benjamini–Hochberg adjusted p-value across all pairs of one benchmark.
const FDRLevel = 0.05

// ComparisonRule states what a model comparison tests, served with every
// comparison so the statistics are visible.
const ComparisonRule = "paired bootstrap over stimuli and subjects (both resampled with replacement, every model scored on the same resamples, on all stimuli with its reported layer); " +
	"two-sided p of 'difference = 0'; q = Benjamini–Hochberg adjusted p across all pairs of the benchmark; a difference is significant when q < 0.05. " +
	"RSA benchmarks only for now. On a private benchmark only the differences, intervals and p/q values are published, never data or RDMs"

// Comparer compares every pair of models on one benchmark: whether one
// model's score is reliably above another's. leaderboard/stores implements it
// over the stored model RDMs and the benchmark's subject RDMs.
//
// modelHashes are the models to compare, best ranked first; Compare keeps
// that order in Comparison.Models and orients each pair as (earlier,
// later). It returns an *Error with code ENOTFOUND for an unknown
// benchmark and EUNSUPPORTED for a benchmark whose metric it cannot
// compare (encoding benchmarks, for now). Fewer than two comparable models
// is not an error: the comparison has no pairs.
type Comparer interface {
	Compare(ctx context.Context, benchmarkID string, modelHashes []string) (*Comparison, error)
}

// Comparison is the outcome of comparing every pair of models on a
// benchmark.
type Comparison struct {
	BenchmarkID string
	Method      string // how scores were computed, e.g. "rsa (spearman)"
	Resamples   int    // bootstrap resamples drawn
	Failed      int    // resamples left out because a score was undefined there
	Seed        uint64 // of the resamples: the same seed gives the same result

	// Models are the models compared, in the order asked, with Scores[i]
	// the raw score of Models[i] on all stimuli (the bootstrap's
	// reference; it may differ from the leaderboard's held-out score).
	Models []string
	Scores []float64
	// Skipped are models asked for that could not be compared.
	Skipped []SkippedModel
	// Pairs lists every pair of Models, i < j, in row-major order.
	Pairs []ModelPair
}

// SkippedModel is a model left out of a comparison, and why.
type SkippedModel struct {
	Hash   string
	Reason string
}

// ModelPair compares models A and B (A before B in Comparison.Models):
// Diff = score(A) − score(B), its 95% bootstrap interval [Lower, Upper],
// the bootstrap p-value P and the BH-adjusted Q across the benchmark's
// pairs.
type ModelPair struct {
	A, B         string
	Diff         float64
	Lower, Upper float64
	P, Q         float64
}

// Significant reports whether the difference survives the false discovery
// rate control: Q < FDRLevel.
func (p ModelPair) Significant() bool { return p.Q < FDRLevel }
