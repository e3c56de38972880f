package runner

import (
	"context"
	"fmt"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
)

// Metric scores a model on a benchmark of one metric kind. The runner
// asks it which layers compete, extracts nothing itself, and stores what
// Score returns after filling in the model, the benchmark, the ceiled
// score, the timing and Candidates.
type Metric interface {
	// Candidates returns the layers that compete on b and how they were
	// picked, for Score.Candidates.
	Candidates(cfg Config, m Model, b *benchmarks.Benchmark) ([]models.Layer, string, error)
	// Score scores the model on l: layers are the candidates, the reported
	// layer chosen on held-out data (or everything fitted on held-out
	// folds). It fills Raw, SE, Ceiling, CILow, CIHigh, Layer, Layers,
	// Seed, Selection and SelectionData.
	Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error)
}

// Committer is a Metric that can score one given layer, the layer
// committed on a private benchmark's public partner. It fills Raw, SE,
// Ceiling, CILow and CIHigh; the runner the rest. A private benchmark
// whose metric is not a Committer is scored by Score, within itself.
type Committer interface {
	ScoreLayer(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layer models.Layer) (scoring.Score, error)
}

// metrics is the one table of metrics, by the benchmark kind they score.
// benchmarks.MetricKinds lists the same kinds (TestMetricTables).
var metrics = map[benchmarks.MetricKind]Metric{
	benchmarks.MetricRSA:                  rsaMetric{},
	benchmarks.MetricRidge:                ridgeMetric{},
	benchmarks.MetricReweightedRSA:        reweightedRSA{},
	benchmarks.MetricVariancePartitioning: variancePartitioning{},
	benchmarks.MetricFeatureWeightedRSA:   featureWeightedRSA{},
	benchmarks.MetricDecoding:             decoding{},
	benchmarks.MetricRemix:                remixRSA{},
	benchmarks.MetricTimeResolvedRSA:      timeResolvedRSA{},
}

// Kinds returns the metric kinds the runner scores.
func Kinds() []benchmarks.MetricKind {
	out := make([]benchmarks.MetricKind, 0, len(metrics))
	for k := range metrics {
		out = append(out, k)
	}
	return out
}

// The candidate policies a metric embeds.

// allCandidates: the runner's Candidates policy (Config.Candidates).
type allCandidates struct{}

func (allCandidates) Candidates(cfg Config, m Model, _ *benchmarks.Benchmark) ([]models.Layer, string, error) {
	layers, err := candidates(m, cfg.Candidates)
	return layers, string(cfg.Candidates), err
}

// ridgeCandidates: Config.RidgeCandidates, for metrics whose per-layer
// cost is far higher.
type ridgeCandidates struct{}

func (ridgeCandidates) Candidates(cfg Config, m Model, _ *benchmarks.Benchmark) ([]models.Layer, string, error) {
	layers, err := candidates(m, cfg.RidgeCandidates)
	return layers, string(cfg.RidgeCandidates), err
}

// spacedLayers: the benchmark's Metric.Layers of Config.Candidates,
// evenly spaced in depth (all of them for 0).
type spacedLayers struct{}

func (spacedLayers) Candidates(cfg Config, m Model, b *benchmarks.Benchmark) ([]models.Layer, string, error) {
	layers, err := spacedCandidates(cfg, m, b.Metric.Layers)
	if err != nil {
		return nil, "", err
	}
	cand := string(cfg.Candidates)
	if b.Metric.Layers > 0 {
		cand = fmt.Sprintf("%d evenly spaced of %s", len(layers), cfg.Candidates)
	}
	return layers, cand, nil
}
