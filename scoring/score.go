// Package scoring runs models against benchmarks: every layer of every model
// on every benchmark, the layer chosen on held-out data, and the results
// recorded with their error bars. The numerical methods live in the
// subpackages (rdm, rsa, ridge, ceiling, stats, reduce), which know nothing
// of files, models or storage.
package scoring

import "time"

// ScorerVersion names the version of the scoring code. A result is keyed by
// (model hash, benchmark version, scorer version); bump it whenever a change
// could alter any score, so old results are recomputed rather than mixed in.
const ScorerVersion = "1"

// Score is one model's result on one version of one benchmark.
type Score struct {
	ModelHash        string // sha256 of the ONNX file
	ModelName        string
	BenchmarkID      string // e.g. "algonauts2019-92.IT"
	BenchmarkVersion string // content hash of the benchmark's data and settings
	ScorerVersion    string

	Raw     float64 // in the metric's units (e.g. Spearman r, Pearson r)
	Ceiling float64 // noise ceiling in the same units; NaN when the benchmark has none
	Ceiled  float64 // Raw / Ceiling, unclipped; NaN when there is no ceiling
	SE      float64 // standard error of Raw over splits or folds
	CILow   float64 // bootstrap percentile interval of Raw
	CIHigh  float64

	Layer      string // short id of the layer the score reports (e.g. "L042.Conv")
	Selection  string // how the layer was chosen, e.g. "held-out splits" or "committed on algonauts2019-92.IT"
	Candidates string // which layers competed, e.g. "all-but-output"
	Layers     []LayerScore
	Seed       uint64

	Elapsed      time.Duration
	PeakRSSBytes int64
	CreatedAt    time.Time
}

// LayerScore is one layer's score on the whole benchmark: the per-layer
// profile served next to the selected score.
type LayerScore struct {
	Layer  string
	Depth  float64 // relative depth in [0, 1] (topological position)
	Raw    float64
	Ceiled float64
	SE     float64
}
