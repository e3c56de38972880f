package scoring

import (
	"errors"
	"time"
)

// ScorerVersion names the version of the scoring code. A result is keyed by
// (model hash, benchmark version, scorer version); bump it whenever a change
// could alter any score, so old results are recomputed rather than mixed in.
const ScorerVersion = "1"

// Key identifies a result: running again with the same key is a no-op.
type Key struct{ ModelHash, BenchmarkVersion, ScorerVersion string }

// Failure classes, wrapped by the runner's errors so callers can tell a
// submitter what to do. They live here (not in the runner) so a job queue
// can classify an error without linking the runner.
var (
	ErrBadModel = errors.New("bad model")
	ErrInternal = errors.New("internal error")
)

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

	Layer string // short id of the layer the score reports (e.g. "L042.Conv")
	// Selection says in one line, for people, how the layer was chosen,
	// e.g. "10 seeded splits (seed 1), 50% of stimuli for selection" or
	// "committed on algonauts2019-92.IT". Programs read SelectionData.
	Selection string
	// SelectionData is the same, typed: the method, the splits, the
	// layer chosen on each and the metric's own named quantities.
	SelectionData Selection
	Candidates    string // which layers competed, e.g. "all-but-output"
	Layers        []LayerScore
	Seed          uint64
	// Conventions says how Ceiling and Ceiled were formed and how the
	// features were handled (issue 16). Scores stored before it existed
	// read as the zero value, whose meaning is given by each field.
	Conventions Conventions

	Elapsed      time.Duration
	PeakRSSBytes int64
	CreatedAt    time.Time
}

// Conventions are the settings a score was computed under that a reader
// needs to interpret its numbers. The zero value of every field is the
// behaviour before conventions existed.
type Conventions struct {
	// Ceiling names the estimate in Score.Ceiling: "" or "upper" (Nili
	// upper bound), "lower", "leave-one-subject-out", "halves",
	// "split-half" (response reliability) or "none".
	Ceiling string `json:"ceiling,omitempty"`
	// Transform forms Ceiled from Raw and Ceiling: "" or "ratio",
	// "squared-clipped".
	Transform string `json:"transform,omitempty"`
	// Features: "" (as extracted), "zscore" or "zscore-reliable".
	Features string `json:"features,omitempty"`
	// Reduction is how wide layers were reduced: "" (average pooling to
	// at most 4096 values per image, the default), "pool:N", "pca:K@REF"
	// or "none".
	Reduction string `json:"reduction,omitempty"`
	// Degrees and FieldOfView: the stimuli's size and the model's field
	// of view in degrees of visual angle when images were placed
	// accordingly; 0 when they were used as given.
	Degrees     float64 `json:"degrees,omitempty"`
	FieldOfView float64 `json:"field_of_view,omitempty"`
	// Region is the region whose committed layer was scored, and
	// Declared is set when that layer was declared by the submitter
	// rather than chosen on the region's commit benchmarks.
	Region   string `json:"region,omitempty"`
	Declared bool   `json:"declared,omitempty"`
}

// IsZero reports whether c is the default of every field.
func (c Conventions) IsZero() bool { return c == Conventions{} }

// LayerScore is one layer's score on the whole benchmark: the per-layer
// profile served next to the selected score.
type LayerScore struct {
	Layer string
	// Name is the layer's ONNX node name (its output tensor's name when
	// the node has none), so a profile reads in the exporter's terms
	// ("/layer1/layer1.0/relu_1/Relu"); "" in scores stored before names
	// were recorded (issue 17). It plays no part in the score.
	Name   string
	Depth  float64 // relative depth in [0, 1] (topological position)
	Raw    float64
	Ceiled float64
	SE     float64
}
